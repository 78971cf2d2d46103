/**
 * The route table's control plane: an exact map (prefix, len) -> value in typed arrays (open addressing,
 * linear probing, backward-shift deletion, so no tombstones). It answers "is this prefix present", "what
 * was its value" and "which shorter prefix covers it" (for unshadowing on delete); lookups of packets never
 * touch it. Keys are stored normalised (host bits clear).
 */
import { maskOf } from './prefix.js'

const MIN_CAPACITY = 64
/** Grow when more than this fraction of slots would be used; keeps linear-probe runs short. */
const MAX_LOAD = 0.6

export class PrefixMap {
  private prefixes: Uint32Array
  /** len + 1 per slot; 0 marks an empty slot. */
  private lens: Uint8Array
  private values: Int32Array
  private mask: number
  private count = 0
  /** Number of stored prefixes per length, to skip empty lengths when searching for a covering prefix. */
  private readonly perLen = new Uint32Array(33)

  constructor() {
    this.prefixes = new Uint32Array(MIN_CAPACITY)
    this.lens = new Uint8Array(MIN_CAPACITY)
    this.values = new Int32Array(MIN_CAPACITY)
    this.mask = MIN_CAPACITY - 1
  }

  /** Number of stored prefixes. */
  get size(): number {
    return this.count
  }

  /** Bytes held by this map's typed arrays. */
  bytes(): number {
    return this.prefixes.byteLength + this.lens.byteLength + this.values.byteLength + this.perLen.byteLength
  }

  /** Grows the arrays so that `entries` prefixes fit without any further allocation. */
  reserve(entries: number): void {
    if (entries <= (this.mask + 1) * MAX_LOAD) return
    let cap = (this.mask + 1) * 2
    while (entries > cap * MAX_LOAD) cap *= 2
    const oldP = this.prefixes
    const oldL = this.lens
    const oldV = this.values
    this.prefixes = new Uint32Array(cap)
    this.lens = new Uint8Array(cap)
    this.values = new Int32Array(cap)
    this.mask = cap - 1
    for (let i = 0; i < oldL.length; i++) {
      if (oldL[i] !== 0) this.place(oldP[i]!, oldL[i]!, oldV[i]!)
    }
  }

  /** The value stored for the normalised prefix/len, or -1 when absent. */
  get(prefix: number, len: number): number {
    const i = this.find(prefix, len)
    return i < 0 ? -1 : this.values[i]!
  }

  /** Stores prefix/len -> value (capacity must have been reserved); returns the previous value or -1 when new. */
  set(prefix: number, len: number, value: number): number {
    const i = this.find(prefix, len)
    if (i >= 0) {
      const old = this.values[i]!
      this.values[i] = value
      return old
    }
    this.place(prefix, len + 1, value)
    this.count++
    this.perLen[len]!++
    return -1
  }

  /** Deletes prefix/len; returns its value, or -1 when it was absent. */
  delete(prefix: number, len: number): number {
    let i = this.find(prefix, len)
    if (i < 0) return -1
    const old = this.values[i]!
    const mask = this.mask
    const ps = this.prefixes
    const ls = this.lens
    const vs = this.values
    // Backward-shift deletion: pull later members of the probe run into the hole when their home slot
    // is not cyclically within (hole, j].
    let j = i
    for (;;) {
      j = (j + 1) & mask
      const l = ls[j]!
      if (l === 0) break
      const home = slotOf(ps[j]!, l, mask)
      const stays = i <= j ? home > i && home <= j : home > i || home <= j
      if (stays) continue
      ps[i] = ps[j]!
      ls[i] = l
      vs[i] = vs[j]!
      i = j
    }
    ls[i] = 0
    this.count--
    this.perLen[len]!--
    return old
  }

  /**
   * Finds the longest stored prefix of length minLen..len-1 that contains prefix; returns its length, or -1
   * when there is none (its value is then `get(normalizePrefix(prefix, result), result)`).
   */
  coveringLen(prefix: number, len: number, minLen: number): number {
    for (let l = len - 1; l >= minLen; l--) {
      if (this.perLen[l] === 0) continue
      if (this.find((prefix & maskOf(l)) >>> 0, l) >= 0) return l
    }
    return -1
  }

  /** Iterates the stored routes in unspecified order. */
  *entries(): IterableIterator<{ prefix: number; len: number; value: number }> {
    const ls = this.lens
    for (let i = 0; i < ls.length; i++) {
      if (ls[i] !== 0) yield { prefix: this.prefixes[i]!, len: ls[i]! - 1, value: this.values[i]! }
    }
  }

  private find(prefix: number, len: number): number {
    const lp1 = len + 1
    const mask = this.mask
    const ls = this.lens
    const ps = this.prefixes
    let i = slotOf(prefix, lp1, mask)
    for (;;) {
      const l = ls[i]!
      if (l === 0) return -1
      if (l === lp1 && ps[i] === prefix) return i
      i = (i + 1) & mask
    }
  }

  private place(prefix: number, lp1: number, value: number): void {
    const mask = this.mask
    const ls = this.lens
    let i = slotOf(prefix, lp1, mask)
    while (ls[i] !== 0) i = (i + 1) & mask
    this.prefixes[i] = prefix
    ls[i] = lp1
    this.values[i] = value
  }
}

/** Home slot of a key: murmur3's 32-bit finaliser over the prefix mixed with its length. */
function slotOf(prefix: number, lp1: number, mask: number): number {
  let h = prefix ^ Math.imul(lp1, 0x9e3779b1)
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) & mask
}
