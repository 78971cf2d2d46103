/**
 * IPv4 longest-prefix-match route table mapping prefixes to small non-negative integers (peer indexes).
 *
 * Data plane: a DIR-20-4-4-4 multibit trie with leaf pushing in typed arrays (dir-table.ts explains the
 * layout and the measurements that chose it). Control plane: an exact (prefix, len) -> value map
 * (prefix-map.ts), used by updates only.
 *
 * Publication. JavaScript runs one thing at a time and apply() never yields, so the engine, which looks
 * up between its batches, sees the table before a batch of changes or after all of it, never in between.
 * apply() checks every change and reserves all memory the batch can need before it touches the table: if
 * it throws (bad argument, or allocation failure), nothing changed. There is no second generation to
 * build and swap (no extra memory, no rebuild): updates are incremental, each change rewriting only the
 * entries its prefix owns (a /24 one node entry, a /16 sixteen root entries plus any nodes below them, a
 * /0-/12 at most 4,096 entries of the short table). The widest update is therefore bounded (a /13: 128
 * root entries and their nodes), and a batch of k changes holds forwarding up for k single updates, a
 * few microseconds each (bench/RESULTS.md has the measured rates and the cost of a /0).
 */
import { coverMinLen, DirTable } from './dir-table.js'
import { PrefixMap } from './prefix-map.js'
import { checkLen, checkPrefix, checkValue, describe, normalizePrefix, routeRangeError } from './prefix.js'

export { MAX_ROUTE_VALUE } from './prefix.js'

/** lookup() result, and lookupBatch() entry, for an address no prefix contains. */
export const NO_ROUTE = -1

export interface RouteChange {
  /** 'add' inserts or replaces prefix/len -> value; 'remove' deletes prefix/len. */
  op: 'add' | 'remove'
  prefix: number
  len: number
  value?: number
}

/** One stored route, with its prefix normalised (host bits clear). */
export interface RouteEntry {
  prefix: number
  len: number
  value: number
}

const OP_ADD = 1
const OP_REMOVE = 2

export class RouteTable {
  private readonly fib = new DirTable()
  private readonly prefixes = new PrefixMap()

  /** Inserts or replaces prefix/len -> value (host bits of prefix are cleared; value an integer 0..2^24-1). */
  insert(prefix: number, len: number, value: number): void {
    checkPrefix(prefix, 'RouteTable.insert')
    checkLen(len, 'RouteTable.insert')
    checkValue(value, 'RouteTable.insert')
    const p = normalizePrefix(prefix, len)
    this.prefixes.reserve(this.prefixes.size + 1)
    this.fib.reserve(this.fib.missingNodes(p, len))
    this.add(p, len, value)
  }

  /** Removes prefix/len (host bits of prefix are cleared); returns whether it was present. */
  remove(prefix: number, len: number): boolean {
    checkPrefix(prefix, 'RouteTable.remove')
    checkLen(len, 'RouteTable.remove')
    return this.delete(normalizePrefix(prefix, len), len)
  }

  /**
   * Applies a batch of changes in order, atomically: lookups see all of them or none, and if any change is
   * invalid a RangeError names it and the table is left untouched.
   */
  apply(changes: readonly RouteChange[]): void {
    if (!Array.isArray(changes)) {
      throw Object.assign(new TypeError('RouteTable.apply: changes must be an array of RouteChange'), {
        code: 'TARTAN_ERR_INVALID_ARGUMENT',
      })
    }
    const n = changes.length
    // Copy every change out once, checked, so the caller's objects are read exactly once.
    const ops = new Uint8Array(n)
    const pfx = new Uint32Array(n)
    const lens = new Uint8Array(n)
    const vals = new Int32Array(n)
    let adds = 0
    let nodes = 0
    for (let i = 0; i < n; i++) {
      const c: unknown = changes[i]
      const where = `RouteTable.apply (change ${i} of ${n})`
      if (typeof c !== 'object' || c === null) throw routeRangeError(`${where}: a change must be an object`)
      const { op, prefix, len, value } = c as Record<string, unknown>
      if (op !== 'add' && op !== 'remove') {
        throw routeRangeError(`${where}: op must be 'add' or 'remove', got ${describe(op)}`)
      }
      checkPrefix(prefix, where)
      checkLen(len, where)
      pfx[i] = normalizePrefix(prefix, len)
      lens[i] = len
      if (op === 'add') {
        checkValue(value, where)
        ops[i] = OP_ADD
        vals[i] = value
        adds++
        nodes += this.fib.missingNodes(pfx[i]!, len)
      } else {
        ops[i] = OP_REMOVE
      }
    }
    // Reserve the worst case first: from here on nothing allocates and nothing throws.
    this.prefixes.reserve(this.prefixes.size + adds)
    this.fib.reserve(nodes)
    for (let i = 0; i < n; i++) {
      if (ops[i] === OP_ADD) this.add(pfx[i]!, lens[i]!, vals[i]!)
      else this.delete(pfx[i]!, lens[i]!)
    }
  }

  /** The value of the longest prefix containing addr (unsigned 32-bit), or NO_ROUTE; never throws or allocates. */
  lookup(addr: number): number {
    return this.fib.lookup(addr)
  }

  /**
   * Looks up addrs[0..count) into out[0..count) (NO_ROUTE where none); count is truncated to an integer and
   * clamped to both arrays' lengths. Never throws or allocates.
   */
  lookupBatch(addrs: Uint32Array, count: number, out: Int32Array): void {
    let n = count | 0
    if (n > addrs.length) n = addrs.length
    if (n > out.length) n = out.length
    this.fib.lookupBatch(addrs, n, out)
  }

  /** The value stored for exactly prefix/len (host bits cleared), or NO_ROUTE; no longest-match. */
  get(prefix: number, len: number): number {
    checkPrefix(prefix, 'RouteTable.get')
    checkLen(len, 'RouteTable.get')
    return this.prefixes.get(normalizePrefix(prefix, len), len)
  }

  /** A snapshot of the stored routes (prefixes normalised), in unspecified order; the table may change meanwhile. */
  entries(): IterableIterator<RouteEntry> {
    return [...this.prefixes.entries()][Symbol.iterator]()
  }

  /** Bytes held by the table's typed arrays: lookup arrays plus the control-plane map. */
  memoryBytes(): number {
    return this.fib.bytes() + this.prefixes.bytes()
  }

  /** Number of 16-entry nodes in use below the root (diagnostics; 0 when no prefix is longer than /20). */
  get nodeCount(): number {
    return this.fib.nodes
  }

  /** Number of prefixes in the table. */
  get size(): number {
    return this.prefixes.size
  }

  private add(prefix: number, len: number, value: number): void {
    const old = this.prefixes.set(prefix, len, value)
    if (old === value) return
    this.fib.insert(prefix, len, value, old < 0)
  }

  private delete(prefix: number, len: number): boolean {
    if (this.prefixes.delete(prefix, len) < 0) return false
    const coverLen = this.prefixes.coveringLen(prefix, len, coverMinLen(len))
    if (coverLen < 0) this.fib.remove(prefix, len, NO_ROUTE, 0)
    else this.fib.remove(prefix, len, this.prefixes.get(normalizePrefix(prefix, coverLen), coverLen), coverLen)
    return true
  }
}
