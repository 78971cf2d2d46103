/**
 * The route table's data plane: a DIR-20-4-4-4 multibit trie with leaf pushing, plus a 4,096-entry table
 * for the short prefixes /0-/12, all in typed arrays.
 *
 * Layout. `root` is an Int32Array with one entry per /20 (2^20 entries, 4 MiB) for /13-/20. Longer
 * prefixes live in 16-entry nodes (one 4-bit stride each, 64 bytes) in `pool`: level 1 resolves /21-/24
 * (address bits 11..8), level 2 /25-/28 (bits 7..4), level 3 /29-/32 (bits 3..0). An entry is either
 *   - a leaf:    the route's value itself, or -1 (NO_ROUTE) when no prefix of /13 or longer covers it, or
 *   - a pointer: bit 31 set, bits 0..30 = index of the node's first entry in `pool` (a multiple of 16,
 *                so a pointer is always < -1).
 * `short` holds /0-/12, one value per /12; a lookup whose root/node answer is -1 takes short's answer
 * (branch-free merge). Leaf pushing: every entry holds the answer for its whole address range, so a
 * lookup is 1 to 4 dependent loads plus one load from a 16 KiB array, and never backtracks.
 *
 * Updates. Parallel Uint8Arrays keep each leaf's depth: the length of the prefix that wrote it (as DPDK's
 * rte_lpm does), so an update changes only the entries its prefix owns: an insert of P/len overwrites the
 * leaves in its range whose depth <= len, a delete rewrites those whose depth == len with the next shorter
 * covering route. The depths are read by updates only, so lookups never load them. Each node counts the
 * prefixes stored below it; at 0 the node holds one uniform leaf, which is written back into its parent
 * entry, and the node goes to a free list. Keeping /0-/12 out of the root bounds every update: the widest,
 * a /13, rewrites 128 root entries and the nodes below them; a /0 rewrites the 4,096 short entries.
 *
 * Why this shape. Measured in Node 20 on this project's 2-core AMD EPYC (Zen 4; 1 MiB L2 per core, 32 MiB
 * L3) VM, random prefixes with real-table-like lengths, uniformly random destinations, batches of 256
 * (prototypes, machine idle, medians of 3; memory counts the value arrays only):
 *
 *   layout                                   65,536 prefixes          1,000,000 prefixes
 *   DIR-16-8-8                                89 Mlookups/s  42 MiB    67 Mlookups/s  123 MiB
 *   DIR-16-4-4-4-4                            92 Mlookups/s   6 MiB    32 Mlookups/s   44 MiB
 *   DIR-20-4-4-4                             167 Mlookups/s   8 MiB    50 Mlookups/s   44 MiB
 *
 * DIR-16-8-8 misses the 16 MiB budget at 65,536 prefixes because each /17-/24 lands in its own 1 KiB chunk;
 * 4-bit nodes cost 64 bytes instead. A 20-bit root resolves /13-/20 in one load and sends only ~5% of random
 * lookups at 65,536 prefixes into a node, where a 16-bit root sends ~57% (each a likely branch miss plus a
 * dependent load). A 22-bit root would take 16 MiB alone. Poptrie-style bitmap nodes would be smaller
 * still, but JavaScript has no popcount instruction (emulated, ~12 operations per level) and 64-bit
 * bit vectors must be split in two; with the root in L3 and 64-byte nodes the plain arrays clear the bar.
 * Then, on the shared machine (so noisier), the encoding: packing depth into each entry (as rte_lpm) costs
 * a mask and a subtraction per lookup; keeping it in parallel arrays measured 203 vs 143 Mlookups/s at
 * 65,536 prefixes and 76 vs 46 at 1,000,000. Pushing /0-/12 into the root like the rest made a /0 update
 * cost 256 ms at 1,000,000 prefixes (every root entry and node); the short table makes it ~6 µs.
 * The finished table's numbers, from bench/micro/route-table.bench.ts, are in bench/RESULTS.md.
 *
 * Every method here assumes checked, normalised arguments and reserved capacity (see RouteTable).
 */

/** Bits of the address resolved by the root array. */
export const ROOT_BITS = 20
const ROOT_SIZE = 1 << ROOT_BITS
/** Prefixes up to this length live in `short` instead of being pushed into the root and nodes. */
export const SHORT_MAX_LEN = 12
/** Entries per node (a 4-bit stride). */
const NODE_SIZE = 16
const PTR = 0x80000000 | 0
const BASE_MASK = 0x7fffffff
const MIN_NODES = 64

/** The shortest length whose route may cover a removed prefix of length len in its part of the table. */
export function coverMinLen(len: number): number {
  return len <= SHORT_MAX_LEN ? 0 : SHORT_MAX_LEN + 1
}

/** Number of nodes a prefix of length len needs below the root (0 for len <= 20, up to 3 for /29-/32). */
export function levelOf(len: number): number {
  return len <= ROOT_BITS ? 0 : (len - 17) >> 2
}

export class DirTable {
  /** Values for /0-/12, one per /12 (-1: none); consulted when root and nodes give -1. */
  readonly short = new Int32Array(1 << SHORT_MAX_LEN).fill(-1)
  private readonly shortDepth = new Uint8Array(1 << SHORT_MAX_LEN)
  /** One entry per /20: a value (/13-/20), -1, or a pointer to a node. Never replaced. */
  readonly root = new Int32Array(ROOT_SIZE).fill(-1)
  private readonly rootDepth = new Uint8Array(ROOT_SIZE)
  /** Node entries; replaced (grown) only by reserve(). */
  pool = new Int32Array(MIN_NODES * NODE_SIZE)
  private poolDepth = new Uint8Array(MIN_NODES * NODE_SIZE)
  /** Per node: number of stored prefixes below it. */
  private counts = new Uint32Array(MIN_NODES)
  private highWater = 0
  private freeHead = -1
  private freeCount = 0
  private live = 0

  /** Number of nodes in use. */
  get nodes(): number {
    return this.live
  }

  /** Bytes held by this structure's typed arrays. */
  bytes(): number {
    return (
      this.short.byteLength +
      this.shortDepth.byteLength +
      this.root.byteLength +
      this.rootDepth.byteLength +
      this.pool.byteLength +
      this.poolDepth.byteLength +
      this.counts.byteLength
    )
  }

  /** The value of the longest prefix containing addr, or -1. Allocates nothing, throws nothing. */
  lookup(addr: number): number {
    let e = this.root[addr >>> 12]!
    if (e < -1) {
      const p = this.pool
      e = p[(e & BASE_MASK) | ((addr >>> 8) & 15)]!
      if (e < -1) {
        e = p[(e & BASE_MASK) | ((addr >>> 4) & 15)]!
        if (e < -1) e = p[(e & BASE_MASK) | (addr & 15)]!
      }
    }
    const s = this.short[addr >>> 20]!
    return e ^ ((e ^ s) & (e >> 31))
  }

  /** Looks up addrs[0..n) into out[0..n); n must not exceed either length. Allocates nothing. */
  lookupBatch(addrs: Uint32Array, n: number, out: Int32Array): void {
    const r = this.root
    const p = this.pool
    const sh = this.short
    let i = 0
    // Two independent lookups per iteration, so their loads overlap in the CPU: measured 300 vs 230
    // Mlookups/s at 65,536 prefixes and ~100 vs ~78 at 1,000,000 against one per iteration; four per
    // iteration measured no better (~270 and ~85). It also kept V8's code fast when the caller is inlined.
    for (; i + 1 < n; i += 2) {
      const a = addrs[i]!
      const b = addrs[i + 1]!
      let e = r[a >>> 12]!
      let f = r[b >>> 12]!
      if (e < -1) {
        e = p[(e & BASE_MASK) | ((a >>> 8) & 15)]!
        if (e < -1) {
          e = p[(e & BASE_MASK) | ((a >>> 4) & 15)]!
          if (e < -1) e = p[(e & BASE_MASK) | (a & 15)]!
        }
      }
      if (f < -1) {
        f = p[(f & BASE_MASK) | ((b >>> 8) & 15)]!
        if (f < -1) {
          f = p[(f & BASE_MASK) | ((b >>> 4) & 15)]!
          if (f < -1) f = p[(f & BASE_MASK) | (b & 15)]!
        }
      }
      // Take the /0-/12 answer when e is -1, without a branch: (e >> 31) is -1 then, else 0. The short
      // array is 16 KiB and stays in L1.
      const s = sh[a >>> 20]!
      const t = sh[b >>> 20]!
      out[i] = e ^ ((e ^ s) & (e >> 31))
      out[i + 1] = f ^ ((f ^ t) & (f >> 31))
    }
    if (i < n) out[i] = this.lookup(addrs[i]!)
  }

  /** Counts the nodes that inserting prefix/len would create now (an upper bound for reserve()). */
  missingNodes(prefix: number, len: number): number {
    const level = levelOf(len)
    if (level === 0) return 0
    let e = this.root[prefix >>> 12]!
    for (let k = 1; k <= level; k++) {
      if (e >= -1) return level - k + 1
      if (k < level) e = this.pool[(e & BASE_MASK) | ((prefix >>> (12 - 4 * k)) & 15)]!
    }
    return 0
  }

  /** Makes room for `extra` more nodes, so the next updates allocate nothing. */
  reserve(extra: number): void {
    const cap = this.counts.length
    const available = cap - this.highWater + this.freeCount
    if (extra <= available) return
    const need = this.highWater + extra - this.freeCount
    const next = Math.max(need, cap + (cap >> 1))
    const used = this.highWater * NODE_SIZE
    const pool = new Int32Array(next * NODE_SIZE)
    pool.set(this.pool.subarray(0, used))
    const poolDepth = new Uint8Array(next * NODE_SIZE)
    poolDepth.set(this.poolDepth.subarray(0, used))
    const counts = new Uint32Array(next)
    counts.set(this.counts.subarray(0, this.highWater))
    this.pool = pool
    this.poolDepth = poolDepth
    this.counts = counts
  }

  /**
   * Writes route prefix/len -> value into every entry it owns: those in its range whose depth is <= len.
   * `isNew` says the prefix was absent before (node counts then grow along its path).
   */
  insert(prefix: number, len: number, value: number, isNew: boolean): void {
    if (len <= SHORT_MAX_LEN) {
      fill(this.short, this.shortDepth, prefix >>> 20, 1 << (SHORT_MAX_LEN - len), 0, len, value)
      return
    }
    const level = levelOf(len)
    if (level === 0) {
      this.fillRoot(prefix >>> 12, 1 << (ROOT_BITS - len), 0, len, value)
      return
    }
    const root = this.root
    const rs = prefix >>> 12
    let e = root[rs]!
    if (e >= -1) {
      e = this.allocNode(e, this.rootDepth[rs]!)
      root[rs] = e
    }
    let base = e & BASE_MASK
    if (isNew) this.counts[base >> 4]!++
    for (let k = 2; k <= level; k++) {
      const slot = base | ((prefix >>> (16 - 4 * k)) & 15)
      e = this.pool[slot]!
      if (e >= -1) {
        e = this.allocNode(e, this.poolDepth[slot]!)
        this.pool[slot] = e
      }
      base = e & BASE_MASK
      if (isNew) this.counts[base >> 4]!++
    }
    const first = base | ((prefix >>> (12 - 4 * level)) & 15)
    this.fillPool(first, 1 << (ROOT_BITS + 4 * level - len), 0, len, value)
  }

  /**
   * Removes route prefix/len (which must be stored): its entries (depth == len) take the next shorter
   * covering route in the same part of the table (/0-/12 for a short prefix, /13 and longer otherwise; see
   * coverMinLen), given as coverValue (-1 for none) and coverLen (0 for none); nodes left without prefixes
   * collapse into their parent entry.
   */
  remove(prefix: number, len: number, coverValue: number, coverLen: number): void {
    if (len <= SHORT_MAX_LEN) {
      fill(this.short, this.shortDepth, prefix >>> 20, 1 << (SHORT_MAX_LEN - len), len, len, coverValue, coverLen)
      return
    }
    const level = levelOf(len)
    if (level === 0) {
      this.fillRoot(prefix >>> 12, 1 << (ROOT_BITS - len), len, len, coverValue, coverLen)
      return
    }
    const pool = this.pool
    const depth = this.poolDepth
    const counts = this.counts
    // Walk down, remembering each node's base and the entry that points at it.
    const rs = prefix >>> 12
    const b1 = this.root[rs]! & BASE_MASK
    const s2 = b1 | ((prefix >>> 8) & 15)
    const b2 = level >= 2 ? pool[s2]! & BASE_MASK : 0
    const s3 = b2 | ((prefix >>> 4) & 15)
    const b3 = level >= 3 ? pool[s3]! & BASE_MASK : 0
    const base = level === 1 ? b1 : level === 2 ? b2 : b3
    const first = base | ((prefix >>> (12 - 4 * level)) & 15)
    this.fillPool(first, 1 << (ROOT_BITS + 4 * level - len), len, len, coverValue, coverLen)
    // Deepest first, so a collapsing node's entry for its (already collapsed) child is a leaf again.
    if (level >= 3 && --counts[b3 >> 4]! === 0) {
      pool[s3] = pool[b3]!
      depth[s3] = depth[b3]!
      this.freeNode(b3)
    }
    if (level >= 2 && --counts[b2 >> 4]! === 0) {
      pool[s2] = pool[b2]!
      depth[s2] = depth[b2]!
      this.freeNode(b2)
    }
    if (--counts[b1 >> 4]! === 0) {
      this.root[rs] = pool[b1]!
      this.rootDepth[rs] = depth[b1]!
      this.freeNode(b1)
    }
  }

  /** Root entries [from, from+n): leaves with depth in lo..hi become value (depth `to`); nodes recurse. */
  private fillRoot(from: number, n: number, lo: number, hi: number, value: number, to = hi): void {
    const root = this.root
    const depth = this.rootDepth
    const end = from + n
    for (let i = from; i < end; i++) {
      const e = root[i]!
      if (e < -1) {
        this.fillPool(e & BASE_MASK, NODE_SIZE, lo, hi, value, to)
      } else {
        const d = depth[i]!
        if (d >= lo && d <= hi) {
          root[i] = value
          depth[i] = to
        }
      }
    }
  }

  /** Pool entries [from, from+n), as fillRoot. */
  private fillPool(from: number, n: number, lo: number, hi: number, value: number, to = hi): void {
    const pool = this.pool
    const depth = this.poolDepth
    const end = from + n
    for (let i = from; i < end; i++) {
      const e = pool[i]!
      if (e < -1) {
        this.fillPool(e & BASE_MASK, NODE_SIZE, lo, hi, value, to)
      } else {
        const d = depth[i]!
        if (d >= lo && d <= hi) {
          pool[i] = value
          depth[i] = to
        }
      }
    }
  }

  /** Takes a node (capacity reserved), fills it with leaf value/depth and returns the pointer entry to it. */
  private allocNode(value: number, d: number): number {
    let node: number
    if (this.freeHead >= 0) {
      node = this.freeHead
      this.freeHead = this.pool[node * NODE_SIZE]!
      this.freeCount--
    } else {
      node = this.highWater++
    }
    const base = node * NODE_SIZE
    this.pool.fill(value, base, base + NODE_SIZE)
    this.poolDepth.fill(d, base, base + NODE_SIZE)
    this.counts[node] = 0
    this.live++
    return PTR | base
  }

  private freeNode(base: number): void {
    this.pool[base] = this.freeHead
    this.freeHead = base >> 4
    this.freeCount++
    this.live--
  }
}

/** Leaf-only entries [from, from+n) of values/depths: those with depth in lo..hi become value (depth `to`). */
function fill(
  values: Int32Array,
  depths: Uint8Array,
  from: number,
  n: number,
  lo: number,
  hi: number,
  value: number,
  to = hi,
): void {
  const end = from + n
  for (let i = from; i < end; i++) {
    const d = depths[i]!
    if (d >= lo && d <= hi) {
      values[i] = value
      depths[i] = to
    }
  }
}
