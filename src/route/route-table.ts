/**
 * PLACEHOLDER (to be replaced by the LPM trie of issue 3, same public API).
 * IPv4 longest-prefix-match route table mapping prefixes to small non-negative integers (peer indexes).
 */
export const NO_ROUTE = -1

export interface RouteChange {
  /** 'add' inserts or replaces prefix/len -> value; 'remove' deletes prefix/len. */
  op: 'add' | 'remove'
  prefix: number
  len: number
  value?: number
}

export class RouteTable {
  private entries: { prefix: number; len: number; value: number }[] = []

  /** Inserts or replaces prefix/len -> value (value a non-negative integer below 2^24). */
  insert(prefix: number, len: number, value: number): void {
    this.apply([{ op: 'add', prefix, len, value }])
  }

  /** Removes prefix/len; returns whether it was present. */
  remove(prefix: number, len: number): boolean {
    const before = this.entries.length
    this.apply([{ op: 'remove', prefix, len }])
    return this.entries.length < before
  }

  /** Applies a batch of changes atomically: lookups see all of them or none. */
  apply(changes: readonly RouteChange[]): void {
    const next = this.entries.slice()
    for (const c of changes) {
      const mask = c.len === 0 ? 0 : (0xffffffff << (32 - c.len)) >>> 0
      const p = (c.prefix & mask) >>> 0
      const i = next.findIndex((e) => e.prefix === p && e.len === c.len)
      if (c.op === 'add') {
        if (i >= 0) next[i] = { prefix: p, len: c.len, value: c.value ?? 0 }
        else next.push({ prefix: p, len: c.len, value: c.value ?? 0 })
      } else if (i >= 0) next.splice(i, 1)
    }
    next.sort((a, b) => b.len - a.len)
    this.entries = next
  }

  /** The value of the longest prefix containing addr, or NO_ROUTE. */
  lookup(addr: number): number {
    const e = this.entries
    for (let i = 0; i < e.length; i++) {
      const r = e[i]!
      const mask = r.len === 0 ? 0 : (0xffffffff << (32 - r.len)) >>> 0
      if (((addr & mask) >>> 0) === r.prefix) return r.value
    }
    return NO_ROUTE
  }

  /** Looks up addrs[0..count) into out[0..count) (NO_ROUTE where none). */
  lookupBatch(addrs: Uint32Array, count: number, out: Int32Array): void {
    for (let i = 0; i < count; i++) out[i] = this.lookup(addrs[i]!)
  }

  /** Number of prefixes in the table. */
  get size(): number {
    return this.entries.length
  }
}
