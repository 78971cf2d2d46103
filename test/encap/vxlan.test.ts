import t from 'tap'
import { vxlan, VXLAN_ENCAP_HEADER } from '../../src/encap/vxlan.js'
import { DECAP_CONTROL } from '../../src/encap/encapsulation.js'
import { DropReason } from '../../src/engine/drop-reasons.js'
import { PeerTable } from '../../src/engine/peer-table.js'
import { ip, udpPacket } from '../helpers/packets.js'

const OUR_MAC = Uint8Array.from([0x02, 0x11, 0x22, 0x33, 0x44, 0x55])
const PEER_MAC = Uint8Array.from([0x0a, 0xbb, 0xcc, 0xdd, 0xee, 0xff])
const enc = vxlan.create({ vni: 1, vtepMac: OUR_MAC, tunnelAddr: ip('10.244.1.0') })

function peers(): PeerTable {
  const p = new PeerTable()
  p.add({ publicIp: ip('198.18.0.2'), port: 8472, subnet: { addr: ip('10.244.2.0'), len: 24 }, vtepMac: PEER_MAC })
  return p
}

t.test('encapsulation writes VXLAN (flags 08, VNI 1) + Ethernet (peer MAC, our MAC, 0800) in the headroom', async (t) => {
  const inner = udpPacket('10.244.1.2', '10.244.2.3', 1, 2, Buffer.from('hi'))
  const slab = new Uint8Array(200).fill(0xee)
  slab.set(inner, 64)
  const start = enc.encapsulate(slab, 64, inner.length, peers(), 0)
  t.equal(start, 64 - 22)
  t.equal(Buffer.from(slab.subarray(start, 64)).toString('hex'),
    '0800000000000100' + '0abbccddeeff' + '021122334455' + '0800')
  t.same(Buffer.from(slab.subarray(64, 64 + inner.length)), Buffer.from(inner), 'inner packet untouched')
  t.equal(slab[start - 1], 0xee, 'nothing written before the header')
})

t.test('a 24-bit VNI is written big-endian', async (t) => {
  const e = vxlan.create({ vni: 0xabcdef, vtepMac: OUR_MAC, tunnelAddr: 0 })
  const slab = new Uint8Array(100)
  e.encapsulate(slab, 50, 20, peers(), 0)
  t.same([...slab.subarray(28, 36)], [0x08, 0, 0, 0, 0xab, 0xcd, 0xef, 0])
})

function frame(opts: { flags?: number; vni?: number; dst?: Uint8Array; type?: number; payload?: Uint8Array } = {}): Uint8Array {
  const payload = opts.payload ?? udpPacket('10.244.2.3', '10.244.1.2', 1, 2, Buffer.from('x'))
  const f = new Uint8Array(22 + payload.length)
  f[0] = opts.flags ?? 0x08
  const vni = opts.vni ?? 1
  f[4] = vni >> 16; f[5] = (vni >> 8) & 255; f[6] = vni & 255
  f.set(opts.dst ?? OUR_MAC, 8)
  f.set(PEER_MAC, 14)
  const type = opts.type ?? 0x0800
  f[20] = type >> 8; f[21] = type & 255
  f.set(payload, 22)
  return f
}

t.test('a frame for our MAC and VNI decapsulates to the inner packet 22 bytes in', async (t) => {
  const f = frame()
  t.equal(enc.decapsulate(f, 0, f.length), VXLAN_ENCAP_HEADER)
})

t.test('truncated VXLAN header: vxlan_truncated', async (t) => {
  t.equal(enc.decapsulate(frame(), 0, 21), -1 - DropReason.VxlanTruncated)
  t.equal(enc.decapsulate(frame(), 0, 7), -1 - DropReason.VxlanTruncated)
})

t.test('I flag missing or unknown flags: vxlan_bad_flags', async (t) => {
  const f = frame({ flags: 0x00 })
  t.equal(enc.decapsulate(f, 0, f.length), -1 - DropReason.VxlanBadFlags)
  const g = frame({ flags: 0x88 })
  t.equal(enc.decapsulate(g, 0, g.length), -1 - DropReason.VxlanBadFlags)
})

t.test('another VNI: vxlan_wrong_vni', async (t) => {
  const f = frame({ vni: 2 })
  t.equal(enc.decapsulate(f, 0, f.length), -1 - DropReason.VxlanWrongVni)
})

t.test('inner destination MAC not ours: vxlan_wrong_mac (broadcast IPv4 too)', async (t) => {
  const f = frame({ dst: PEER_MAC })
  t.equal(enc.decapsulate(f, 0, f.length), -1 - DropReason.VxlanWrongMac)
  const b = frame({ dst: new Uint8Array(6).fill(0xff) })
  t.equal(enc.decapsulate(b, 0, b.length), -1 - DropReason.VxlanWrongMac)
})

t.test('non-IPv4, non-ARP EtherType (IPv6): vxlan_not_ipv4', async (t) => {
  const f = frame({ type: 0x86dd })
  t.equal(enc.decapsulate(f, 0, f.length), -1 - DropReason.VxlanNotIpv4)
})

/** An ARP request from 10.244.2.0 (PEER_MAC) asking who has `target`. */
function arpRequest(target: string, dst = new Uint8Array(6).fill(0xff)): Uint8Array {
  const a = Buffer.from('0001080006040001' + '0abbccddeeff' + '0af40200' + '000000000000' + '00000000', 'hex')
  a.writeUInt32BE(ip(target), 24)
  return frame({ type: 0x0806, dst, payload: a })
}

t.test('an ARP request (broadcast) is a control frame', async (t) => {
  const f = arpRequest('10.244.1.0')
  t.equal(enc.decapsulate(f, 0, f.length), DECAP_CONTROL)
})

t.test('an ARP request for our tunnel address gets a reply, byte by byte', async (t) => {
  const f = arpRequest('10.244.1.0')
  const out = new Uint8Array(100)
  const n = enc.answerControl(f, 0, f.length, out, 0)
  t.equal(n, 50)
  t.equal(Buffer.from(out.subarray(0, n)).toString('hex'),
    '0800000000000100' + // VXLAN, VNI 1
    '0abbccddeeff' + '021122334455' + '0806' + // to the requester, from us, ARP
    '0001080006040002' + // Ethernet/IPv4, reply
    '021122334455' + '0af40100' + // we are 10.244.1.0
    '0abbccddeeff' + '0af40200') // to the requester
})

t.test('an ARP request for another address gets no reply: vxlan_arp_ignored', async (t) => {
  const f = arpRequest('10.244.1.7')
  t.equal(enc.answerControl(f, 0, f.length, new Uint8Array(100), 0), -1 - DropReason.VxlanArpIgnored)
})

t.test('a truncated ARP payload gets no reply', async (t) => {
  const f = arpRequest('10.244.1.0').subarray(0, 40)
  t.equal(enc.answerControl(f, 0, f.length, new Uint8Array(100), 0), -1 - DropReason.VxlanArpIgnored)
})

t.test('for the inner packet of a frame the kernel built (fixture), tartan builds the same UDP payload', async (t) => {
  const { readFileSync } = await import('node:fs')
  const hex = readFileSync(new URL('../fixtures/kernel-vxlan-frame.txt', import.meta.url), 'utf8')
    .split('\n').filter((l) => l && !l.startsWith('#')).join('')
  const kernel = Buffer.from(hex, 'hex')
  t.equal(kernel.length, 22 + 128)
  const inner = kernel.subarray(22)
  const asKernel = vxlan.create({ vni: 1, vtepMac: Uint8Array.from([2, 0, 0, 0, 1, 1]), tunnelAddr: ip('10.244.1.0') })
  const p = new PeerTable()
  p.add({ publicIp: ip('198.18.0.2'), port: 8472, subnet: { addr: ip('10.244.2.0'), len: 24 }, vtepMac: Uint8Array.from([2, 0, 0, 0, 2, 2]) })
  const slab = new Uint8Array(64 + inner.length)
  slab.set(inner, 64)
  const start = asKernel.encapsulate(slab, 64, inner.length, p, 0)
  t.equal(Buffer.from(slab.subarray(start)).toString('hex'), kernel.toString('hex'))
})
