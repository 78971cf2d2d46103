/**
 * VXLAN (RFC 7348) as the Linux kernel's vxlan device and flannel's vxlan backend put it on the wire: UDP
 * payload = VXLAN header (flags 0x08, 24-bit VNI) + inner Ethernet (dst = peer VtepMAC, src = our VtepMAC,
 * EtherType IPv4) + the inner IPv4 packet. Written in place in the slot's headroom.
 */
import { DropReason } from '../engine/drop-reasons.js'
import { ARP_LENGTH, isArpRequestFor, writeArpReply } from '../wire/arp.js'
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETH_HEADER, ETH_SRC, ETH_TYPE, isBroadcastMac, macEquals } from '../wire/ethernet.js'
import { readU16 } from '../wire/ipv4.js'
import { VXLAN_FLAG_VNI, VXLAN_HEADER, VXLAN_PORT_LINUX, readVni, writeVxlanHeader } from '../wire/vxlan.js'
import { DECAP_CONTROL, type Encapsulation, type EncapsulationContext, type EncapsulationKind } from './encapsulation.js'

/** VXLAN header + inner Ethernet header written in front of the inner packet. */
export const VXLAN_ENCAP_HEADER = VXLAN_HEADER + ETH_HEADER
/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14): flannel's vxlan MTU is the underlay's minus 50. */
export const VXLAN_OVERHEAD = 50


class Vxlan implements Encapsulation {
  readonly kind = vxlan
  private readonly vni: number
  private readonly mac: Uint8Array
  private readonly tunnelAddr: number

  constructor(ctx: EncapsulationContext) {
    this.vni = ctx.vni
    this.mac = Uint8Array.from(ctx.vtepMac)
    this.tunnelAddr = ctx.tunnelAddr
  }

  encapsulate(bytes: Uint8Array, off: number, _len: number, peers: { mac: Uint8Array }, peer: number): number {
    const start = off - VXLAN_ENCAP_HEADER
    writeVxlanHeader(bytes, start, this.vni)
    const eth = start + VXLAN_HEADER
    const pm = peers.mac
    const pmo = peer * 6
    const mac = this.mac
    for (let i = 0; i < 6; i++) {
      bytes[eth + i] = pm[pmo + i]!
      bytes[eth + ETH_SRC + i] = mac[i]!
    }
    bytes[eth + ETH_TYPE] = ETHERTYPE_IPV4 >>> 8
    bytes[eth + ETH_TYPE + 1] = ETHERTYPE_IPV4 & 255
    return start
  }

  decapsulate(bytes: Uint8Array, off: number, len: number): number {
    if (len < VXLAN_ENCAP_HEADER) return -1 - DropReason.VxlanTruncated
    // Linux (vxlan_rcv) drops frames whose flags are anything but exactly I when no extension is enabled.
    if (bytes[off] !== VXLAN_FLAG_VNI) return -1 - DropReason.VxlanBadFlags
    if (readVni(bytes, off) !== this.vni) return -1 - DropReason.VxlanWrongVni
    const eth = off + VXLAN_HEADER
    const type = readU16(bytes, eth + ETH_TYPE)
    if (type === ETHERTYPE_IPV4) {
      if (!macEquals(bytes, eth, this.mac, 0)) return -1 - DropReason.VxlanWrongMac
      return VXLAN_ENCAP_HEADER
    }
    if (type === ETHERTYPE_ARP) {
      if (!macEquals(bytes, eth, this.mac, 0) && !isBroadcastMac(bytes, eth)) return -1 - DropReason.VxlanWrongMac
      return DECAP_CONTROL
    }
    return -1 - DropReason.VxlanNotIpv4
  }

  answerControl(bytes: Uint8Array, off: number, len: number, out: Uint8Array, o: number): number {
    const arp = off + VXLAN_ENCAP_HEADER
    if (!isArpRequestFor(bytes, arp, len - VXLAN_ENCAP_HEADER, this.tunnelAddr)) return -1 - DropReason.VxlanArpIgnored
    writeVxlanHeader(out, o, this.vni)
    const eth = o + VXLAN_HEADER
    const reqEth = off + VXLAN_HEADER
    for (let i = 0; i < 6; i++) {
      out[eth + i] = bytes[reqEth + ETH_SRC + i]!
      out[eth + ETH_SRC + i] = this.mac[i]!
    }
    out[eth + ETH_TYPE] = ETHERTYPE_ARP >>> 8
    out[eth + ETH_TYPE + 1] = ETHERTYPE_ARP & 255
    writeArpReply(out, eth + ETH_HEADER, bytes, arp, this.mac, 0, this.tunnelAddr)
    return VXLAN_ENCAP_HEADER + ARP_LENGTH
  }
}

export const vxlan: EncapsulationKind = {
  backendType: 'vxlan',
  name: 'vxlan',
  defaultPort: VXLAN_PORT_LINUX,
  overhead: VXLAN_OVERHEAD,
  headerLength: VXLAN_ENCAP_HEADER,
  needsPeerMac: true,
  // RFC 7348 section 5: the source port comes from a hash of the inner flow, for underlay ECMP; the kernel
  // uses its whole ephemeral range, tartan 8 ports (8 sockets), which spreads flows the same way in practice.
  sourcePorts: 8,
  create: (ctx) => new Vxlan(ctx),
}
