/**
 * IPv4 header (RFC 791) over a byte range of a slab: field offsets, a checked wrap that validates the header
 * once, and accessors that after a successful wrap never read out of bounds. One IPv4View is reused for every
 * packet: wrapping allocates nothing.
 */
import { internetChecksum, checksumUpdate16 } from './checksum.js'

/** Field offsets within the IPv4 header (RFC 791 section 3.1). */
export const IPV4_VERSION_IHL = 0
export const IPV4_TOS = 1
export const IPV4_TOTAL_LENGTH = 2
export const IPV4_ID = 4
export const IPV4_FLAGS_FRAGMENT = 6
export const IPV4_TTL = 8
export const IPV4_PROTOCOL = 9
export const IPV4_CHECKSUM = 10
export const IPV4_SRC = 12
export const IPV4_DST = 16
/** A header without options is 20 bytes (IHL 5). */
export const IPV4_MIN_HEADER = 20
/** Flags/fragment-offset field bits: DF (don't fragment), MF (more fragments), offset mask. */
export const IPV4_FLAG_DF = 0x4000
export const IPV4_FLAG_MF = 0x2000
export const IPV4_FRAGMENT_OFFSET_MASK = 0x1fff

export const IP_PROTO_ICMP = 1
export const IP_PROTO_TCP = 6
export const IP_PROTO_UDP = 17

/** Outcome of IPv4View.wrap: Ok, or the first rule the bytes break. */
export const Ipv4Check = {
  Ok: 0,
  Truncated: 1,
  NotIpv4: 2,
  BadIhl: 3,
  LengthMismatch: 4,
  BadChecksum: 5,
} as const
export type Ipv4Check = (typeof Ipv4Check)[keyof typeof Ipv4Check]

/** Reads a big-endian u32 at off. */
export function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0
}

/** Reads a big-endian u16 at off. */
export function readU16(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!
}

/** Writes a big-endian u32 at off. */
export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24
  b[off + 1] = (v >>> 16) & 255
  b[off + 2] = (v >>> 8) & 255
  b[off + 3] = v & 255
}

/** Writes a big-endian u16 at off. */
export function writeU16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 255
  b[off + 1] = v & 255
}

export class Ipv4View {
  bytes: Uint8Array = new Uint8Array(0)
  /** Offset of the header in `bytes`. */
  off = 0
  /** Length of the packet (== total length after a successful wrap). */
  len = 0

  /** Validates bytes[off, off+len) as one whole IPv4 packet: length >= 20, version 4, 5 <= IHL with the header
   * inside the packet, total length == len, and (when verifyChecksum) a valid header checksum. Returns
   * Ipv4Check.Ok and points the view at it, or the first failed rule. */
  wrap(bytes: Uint8Array, off: number, len: number, verifyChecksum: boolean): Ipv4Check {
    if (len < IPV4_MIN_HEADER || off + len > bytes.length) return Ipv4Check.Truncated
    const vihl = bytes[off]!
    if (vihl >>> 4 !== 4) return Ipv4Check.NotIpv4
    const hlen = (vihl & 15) << 2
    if (hlen < IPV4_MIN_HEADER || hlen > len) return Ipv4Check.BadIhl
    if (((bytes[off + 2]! << 8) | bytes[off + 3]!) !== len) return Ipv4Check.LengthMismatch
    if (verifyChecksum && internetChecksum(bytes, off, hlen) !== 0) return Ipv4Check.BadChecksum
    this.bytes = bytes
    this.off = off
    this.len = len
    return Ipv4Check.Ok
  }

  get headerLength(): number { return (this.bytes[this.off]! & 15) << 2 }
  get totalLength(): number { return readU16(this.bytes, this.off + IPV4_TOTAL_LENGTH) }
  get ttl(): number { return this.bytes[this.off + IPV4_TTL]! }
  get protocol(): number { return this.bytes[this.off + IPV4_PROTOCOL]! }
  get flagsFragment(): number { return readU16(this.bytes, this.off + IPV4_FLAGS_FRAGMENT) }
  get src(): number { return readU32(this.bytes, this.off + IPV4_SRC) }
  get dst(): number { return readU32(this.bytes, this.off + IPV4_DST) }
  get checksum(): number { return readU16(this.bytes, this.off + IPV4_CHECKSUM) }
  /** True when DF is set. */
  get dontFragment(): boolean { return (this.flagsFragment & IPV4_FLAG_DF) !== 0 }
  /** True when this is a fragment other than the first (offset != 0). */
  get isLaterFragment(): boolean { return (this.flagsFragment & IPV4_FRAGMENT_OFFSET_MASK) !== 0 }
}

/** Decrements the TTL of the IPv4 header at off and patches its checksum incrementally (RFC 1624): the
 * TTL shares a 16-bit word with the protocol field. The caller checks TTL > 1 first. */
export function decrementTtl(b: Uint8Array, off: number): void {
  const ttl = b[off + IPV4_TTL]!
  const proto = b[off + IPV4_PROTOCOL]!
  const oldWord = (ttl << 8) | proto
  b[off + IPV4_TTL] = ttl - 1
  const sum = checksumUpdate16(readU16(b, off + IPV4_CHECKSUM), oldWord, oldWord - 0x100)
  writeU16(b, off + IPV4_CHECKSUM, sum)
}

/** Computes and stores the header checksum of the IPv4 header at off (header length from IHL). */
export function fillIpv4Checksum(b: Uint8Array, off: number): void {
  const hlen = (b[off]! & 15) << 2
  b[off + IPV4_CHECKSUM] = 0
  b[off + IPV4_CHECKSUM + 1] = 0
  writeU16(b, off + IPV4_CHECKSUM, internetChecksum(b, off, hlen))
}
