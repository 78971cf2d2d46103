/**
 * An Encapsulation turns an inner IPv4 packet into the UDP payload a peer expects and back. Encapsulating
 * writes headers into the headroom in front of the packet (zero copy); decapsulating validates the header
 * and moves an offset. Encapsulations are registered by name, as flannel registers backends.
 */
import type { PeerTable } from '../engine/peer-table.js'

export interface Encapsulation {
  /** The lease BackendType this encapsulation speaks ("udp" for flannel-udp, "vxlan"). */
  readonly backendType: string
  readonly name: string
  /** The UDP port peers listen on unless configured otherwise. */
  readonly defaultPort: number
  /** Bytes the underlay adds around an inner packet (outer IPv4 + UDP + this header): MTU = underlay - overhead. */
  readonly overhead: number
  /** Bytes this encapsulation writes in front of the inner packet (must fit the batch headroom). */
  readonly headerLength: number
  /** Writes the header for peer `peer` in front of bytes[off, off+len); returns the new start (off - headerLength). */
  encapsulate(bytes: Uint8Array, off: number, len: number, peers: PeerTable, peer: number): number
  /** Checks the header of a received payload bytes[off, off+len); returns the inner packet's offset from `off`
   * (>= 0), or -1 - DropReason when the payload must be dropped. */
  decapsulate(bytes: Uint8Array, off: number, len: number): number
}
