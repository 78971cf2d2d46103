/**
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624), over byte ranges of a slab.
 * Allocation-free; used on the per-packet path.
 */

/** Adds the 16-bit big-endian words of bytes[off, off+len) to `initial` (an odd length pads a zero byte)
 * and returns the unfolded 32-bit-safe sum. */
export function sum16(bytes: Uint8Array, off: number, len: number, initial = 0): number {
  let sum = initial
  const end = off + (len & ~1)
  let i = off
  // Fold periodically so the accumulator stays a small integer (V8 Smi) even for 64 KiB ranges.
  while (i < end) {
    sum += (bytes[i]! << 8) | bytes[i + 1]!
    i += 2
    if ((i & 0x3ffe) === 0) sum = (sum & 0xffff) + (sum >>> 16)
  }
  if (len & 1) sum += bytes[end]! << 8
  return sum
}

/** Folds a sum to 16 bits with end-around carry (RFC 1071 section 4.1). */
export function fold16(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return sum
}

/** The Internet checksum of bytes[off, off+len): the one's complement of the one's complement sum. */
export function internetChecksum(bytes: Uint8Array, off: number, len: number, initial = 0): number {
  return ~fold16(sum16(bytes, off, len, initial)) & 0xffff
}

/** RFC 1624 eqn. 3: the new checksum after a 16-bit field changes from oldWord to newWord:
 * HC' = ~(~HC + ~m + m'). */
export function checksumUpdate16(checksum: number, oldWord: number, newWord: number): number {
  const sum = (~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)
  return ~fold16(sum) & 0xffff
}
