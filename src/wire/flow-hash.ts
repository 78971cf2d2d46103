/**
 * A hash of an IPv4 packet's flow (source, destination, protocol and, for TCP/UDP first fragments, the
 * ports), used to pick the outer UDP source port so the underlay's ECMP spreads flows while keeping each
 * flow on one path (RFC 7348 section 5: "a hash of fields from the inner packet"; Linux's vxlan does the
 * same with skb_get_hash). Allocation-free.
 */
import { IPV4_DST, IPV4_FLAGS_FRAGMENT, IPV4_FRAGMENT_OFFSET_MASK, IPV4_PROTOCOL, IPV4_SRC, IP_PROTO_TCP, IP_PROTO_UDP, readU16, readU32 } from './ipv4.js'

/** Returns a 32-bit hash of the flow of the (validated) IPv4 packet at b[off, off+len). */
export function flowHash(b: Uint8Array, off: number, len: number): number {
  const proto = b[off + IPV4_PROTOCOL]!
  let h = Math.imul(readU32(b, off + IPV4_SRC) ^ 0x9e3779b9, 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13) ^ readU32(b, off + IPV4_DST), 0xc2b2ae35)
  h ^= proto
  const hlen = (b[off]! & 15) << 2
  if ((proto === IP_PROTO_TCP || proto === IP_PROTO_UDP) && len >= hlen + 4 &&
      (readU16(b, off + IPV4_FLAGS_FRAGMENT) & IPV4_FRAGMENT_OFFSET_MASK) === 0) {
    h = Math.imul(h ^ readU32(b, off + hlen), 0x27d4eb2d)
  }
  h ^= h >>> 15
  h = Math.imul(h, 0x2c1b3c6d)
  return (h ^ (h >>> 12)) >>> 0
}
