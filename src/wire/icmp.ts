/**
 * ICMP error messages (RFC 792) a router sends back to a sender: destination unreachable (type 3) and time
 * exceeded (type 11), built into a caller-provided slot without allocation.
 */
import { internetChecksum } from './checksum.js'
import {
  IPV4_FLAGS_FRAGMENT, IPV4_FRAGMENT_OFFSET_MASK, IPV4_MIN_HEADER, IPV4_PROTOCOL, IPV4_SRC, IP_PROTO_ICMP,
  fillIpv4Checksum, readU16, readU32, writeU16, writeU32,
} from './ipv4.js'

export const ICMP_DEST_UNREACHABLE = 3
export const ICMP_TIME_EXCEEDED = 11
/** Type 3 codes (RFC 792; RFC 1191 for code 4). */
export const ICMP_CODE_NET_UNREACHABLE = 0
export const ICMP_CODE_FRAGMENTATION_NEEDED = 4
/** Type 11 code 0: TTL exceeded in transit. */
export const ICMP_CODE_TTL_EXCEEDED = 0
/** ICMP header: type, code, checksum, 4 bytes of rest-of-header. */
export const ICMP_HEADER = 8
/** RFC 1812 4.3.2.3: an ICMP error should quote as much of the original as fits in 576 bytes. */
export const ICMP_ERROR_MAX_LENGTH = 576
/** Default TTL of packets tartan originates (RFC 1700's recommended 64, as Linux). */
export const DEFAULT_TTL = 64

/** ICMP types that are errors (RFC 1812 4.3.2.7: never send an ICMP error about one of these). */
function isIcmpErrorType(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12
}

/** True when an ICMP error may be sent about the IPv4 packet at off (already validated): not a later
 * fragment, not itself an ICMP error, and from a unicast source (not 0.0.0.0, loopback, multicast or
 * broadcast) per RFC 1812 4.3.2.7. */
export function mayReplyWithIcmpError(b: Uint8Array, off: number, len: number): boolean {
  if ((readU16(b, off + IPV4_FLAGS_FRAGMENT) & IPV4_FRAGMENT_OFFSET_MASK) !== 0) return false
  const src = readU32(b, off + IPV4_SRC)
  const first = src >>> 24
  if (src === 0 || first === 127 || first >= 224) return false
  if (b[off + IPV4_PROTOCOL] === IP_PROTO_ICMP) {
    const hlen = (b[off]! & 15) << 2
    if (len < hlen + 1) return false
    if (isIcmpErrorType(b[off + hlen]!)) return false
  }
  return true
}

/** Writes into out[outOff...] an IPv4 packet from `routerAddr` to the original packet's source carrying an
 * ICMP error (type, code, 32-bit rest-of-header such as the next-hop MTU for code 4) that quotes the original
 * packet at b[off, off+len) up to 576 bytes in all. `id` is the IPv4 identification to use. Returns the
 * length written; `out` must have ICMP_ERROR_MAX_LENGTH bytes of room. */
export function writeIcmpError(
  out: Uint8Array, outOff: number, routerAddr: number, id: number,
  type: number, code: number, rest: number,
  b: Uint8Array, off: number, len: number,
): number {
  const quote = Math.min(len, ICMP_ERROR_MAX_LENGTH - IPV4_MIN_HEADER - ICMP_HEADER)
  const total = IPV4_MIN_HEADER + ICMP_HEADER + quote
  // IPv4 header: version 4, IHL 5, TOS 0 (RFC 1812 4.3.2.5 allows 0 for errors), no fragmentation flags.
  out[outOff] = 0x45
  out[outOff + 1] = 0
  writeU16(out, outOff + 2, total)
  writeU16(out, outOff + 4, id & 0xffff)
  writeU16(out, outOff + 6, 0)
  out[outOff + 8] = DEFAULT_TTL
  out[outOff + 9] = IP_PROTO_ICMP
  writeU32(out, outOff + 12, routerAddr)
  writeU32(out, outOff + 16, readU32(b, off + IPV4_SRC))
  fillIpv4Checksum(out, outOff)
  const icmp = outOff + IPV4_MIN_HEADER
  out[icmp] = type
  out[icmp + 1] = code
  out[icmp + 2] = 0
  out[icmp + 3] = 0
  writeU32(out, icmp + 4, rest)
  const q = icmp + ICMP_HEADER
  for (let i = 0; i < quote; i++) out[q + i] = b[off + i]!
  writeU16(out, icmp + 2, internetChecksum(out, icmp, ICMP_HEADER + quote))
  return total
}
