/**
 * An Encapsulation turns an inner IPv4 packet into the UDP payload a peer expects and back. Encapsulating
 * writes headers into the headroom in front of the packet (zero copy); decapsulating validates the header
 * and moves an offset. Encapsulations are registered by name (as flannel registers backends) as kinds that
 * create an instance per engine, since some carry per-node state (VNI, VtepMAC).
 */
import type { PeerTable } from '../engine/peer-table.js'

/** decapsulate() result for a control frame (VXLAN ARP) that the engine hands to answerControl(). */
export const DECAP_CONTROL = -1000

export interface Encapsulation {
  readonly kind: EncapsulationKind
  /** Writes the header for peer `peer` in front of bytes[off, off+len); returns the new start (off - headerLength). */
  encapsulate(bytes: Uint8Array, off: number, len: number, peers: PeerTable, peer: number): number
  /** Checks the header of a received payload bytes[off, off+len); returns the inner packet's offset from `off`
   * (>= 0), DECAP_CONTROL for a control frame, or -1 - DropReason when the payload must be dropped. */
  decapsulate(bytes: Uint8Array, off: number, len: number): number
  /** Writes the UDP payload answering the control frame at bytes[off, off+len) into out[outOff...]; returns its
   * length, or -1 - DropReason when the frame gets no answer. */
  answerControl(bytes: Uint8Array, off: number, len: number, out: Uint8Array, outOff: number): number
}

/** What an engine tells an encapsulation about itself when creating it. */
export interface EncapsulationContext {
  /** Our VXLAN network identifier. */
  vni: number
  /** Our VTEP MAC (6 bytes). */
  vtepMac: Uint8Array
  /** Our tunnel address (the subnet's network address), which ARP requests ask for. */
  tunnelAddr: number
}

export interface EncapsulationKind {
  /** The lease BackendType this encapsulation speaks ("udp" for flannel-udp, "vxlan"). */
  readonly backendType: string
  readonly name: string
  /** The UDP port peers listen on unless configured otherwise. */
  readonly defaultPort: number
  /** Bytes the underlay adds around an inner packet (outer IPv4 + UDP + this header): MTU = underlay - overhead. */
  readonly overhead: number
  /** Bytes written in front of the inner packet (must fit the batch headroom). */
  readonly headerLength: number
  /** True when peers must have a VTEP MAC. */
  readonly needsPeerMac: boolean
  /** Outer UDP source ports to spread flows over by a hash of the inner flow (1: always the bound port). */
  readonly sourcePorts: number
  create(ctx: EncapsulationContext): Encapsulation
}
