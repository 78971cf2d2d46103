/**
 * Differential tests: RouteTable against the naive ReferenceModel (a list scanned for the longest match)
 * over random tables and random operation sequences. Prefixes cluster around a few anchors so that they
 * overlap, nest and shadow each other at every level of the table (short /0-/12, root /13-/20, nodes
 * /21-/32).
 */
import t from 'tap'
import { NO_ROUTE, RouteTable, type RouteChange } from '../../src/route/route-table.js'
import { xorshift32 } from '../helpers/xorshift.js'
import { ReferenceModel, modelMask } from './reference-model.js'

const rng = (seed: number): (() => number) => xorshift32(seed)

interface Gen {
  next: () => number
  anchors: number[]
}

function gen(seed: number): Gen {
  const next = rng(seed)
  const anchors = [0, 0xffffffff, 0x0af40000] // 0.0.0.0, 255.255.255.255, 10.244.0.0
  for (let i = 0; i < 5; i++) anchors.push(next())
  return { next, anchors }
}

/** An address near an anchor: the anchor with a random number of its low bits randomised. */
function nearAddr(g: Gen): number {
  const a = g.anchors[g.next() % g.anchors.length]!
  const k = g.next() % 33 // low bits to randomise
  const low = k === 0 ? 0 : g.next() & (0xffffffff >>> (32 - k))
  return (a ^ low) >>> 0
}

/** A prefix length: all of 0..32, weighted towards the level boundaries (/12|/13 short|root, /20|/21 root|node, ...). */
function randLen(g: Gen): number {
  const r = g.next() % 10
  if (r < 4) return g.next() % 33
  if (r < 7) return 17 + (g.next() % 16) // /17-/32: the node levels
  return [0, 8, 12, 13, 16, 20, 21, 24, 25, 28, 29, 32][g.next() % 12]!
}

function lastOf(prefix: number, len: number): number {
  return (prefix | ~modelMask(len)) >>> 0
}

const probeAddrs = new Uint32Array(8)
const probeOut = new Int32Array(8)

/**
 * Compares lookups (single and batched) of addresses around prefix/len and a few random and near-anchor
 * ones; returns the first mismatch.
 */
function probe(g: Gen, rt: RouteTable, model: ReferenceModel, prefix: number, len: number): string | null {
  const p = (prefix & modelMask(len)) >>> 0
  const last = lastOf(p, len)
  probeAddrs.set([p, last, (p - 1) >>> 0, (last + 1) >>> 0, nearAddr(g), nearAddr(g), nearAddr(g), g.next()])
  rt.lookupBatch(probeAddrs, 8, probeOut)
  for (let i = 0; i < 8; i++) {
    const a = probeAddrs[i]!
    const want = model.lookup(a)
    const got = rt.lookup(a)
    if (got !== want) return `lookup(${a}) = ${got}, model says ${want}`
    if (probeOut[i] !== want) return `lookupBatch [${a}] = ${probeOut[i]}, model says ${want}`
  }
  return null
}

function sameContents(rt: RouteTable, model: ReferenceModel): string | null {
  if (rt.size !== model.size) return `size ${rt.size}, model ${model.size}`
  const key = (r: { prefix: number; len: number; value: number }): string => `${r.prefix}/${r.len}=${r.value}`
  const a = [...rt.entries()].map(key).sort()
  const b = model.routes.map(key).sort()
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `entries differ: ${a[i]} vs ${b[i]}`
  return null
}

const SEEDS = 24
const OPS_PER_SEED = 5000
const MAX_ROUTES = 250

t.test(`random operation sequences match the reference model (${SEEDS} seeds x ${OPS_PER_SEED} operations)`, async (t) => {
  let totalOps = 0
  let totalLookups = 0
  for (let seed = 1; seed <= SEEDS; seed++) {
    const g = gen(seed * 7919)
    const rt = new RouteTable()
    const model = new ReferenceModel()
    let failure: string | null = null
    for (let op = 0; op < OPS_PER_SEED && failure === null; op++) {
      const r = g.next() % 100
      // Bias towards deletes when the table is large, so sizes cycle up and down.
      const full = model.size > MAX_ROUTES
      let prefix: number
      let len: number
      if ((r < 30 && !full) || model.size === 0) {
        prefix = nearAddr(g)
        len = randLen(g)
        const value = g.next() % 1000
        rt.insert(prefix, len, value)
        model.insert(prefix, len, value)
      } else if (r < 38 && !full) {
        // Replace the value of a stored prefix, spelled with random host bits.
        const e = model.routes[g.next() % model.size]!
        len = e.len
        prefix = (e.prefix | (g.next() & ~modelMask(len))) >>> 0
        const value = g.next() % 1000
        rt.insert(prefix, len, value)
        model.insert(prefix, len, value)
      } else if (r < 70) {
        const e = model.routes[g.next() % model.size]!
        prefix = e.prefix
        len = e.len
        const had = model.remove(prefix, len)
        if (rt.remove(prefix, len) !== had) failure = `remove(${prefix}/${len}) disagrees on presence`
      } else if (r < 80) {
        // Mostly absent prefixes.
        prefix = nearAddr(g)
        len = randLen(g)
        const had = model.remove(prefix, len)
        if (rt.remove(prefix, len) !== had) failure = `remove(${prefix}/${len}) disagrees on presence (${had})`
      } else {
        // A batch of mixed changes through apply().
        const changes: RouteChange[] = []
        const n = 1 + (g.next() % 16)
        for (let i = 0; i < n; i++) {
          const rem = model.size > 0 && g.next() % 3 === 0
          if (rem) {
            const e = model.routes[g.next() % model.size]!
            changes.push({ op: 'remove', prefix: e.prefix, len: e.len })
            model.remove(e.prefix, e.len)
          } else {
            const c: RouteChange = { op: 'add', prefix: nearAddr(g), len: randLen(g), value: g.next() % 1000 }
            changes.push(c)
            model.insert(c.prefix, c.len, c.value!)
          }
        }
        rt.apply(changes)
        totalOps += n - 1
        prefix = changes[0]!.prefix
        len = changes[0]!.len
      }
      totalOps++
      failure ??= probe(g, rt, model, prefix, len)
      totalLookups += 8
      if (failure === null && op % 500 === 499) failure = sameContents(rt, model)
    }
    failure ??= sameContents(rt, model)
    if (failure !== null) {
      t.fail(`seed ${seed}: ${failure}`)
      return
    }
    // Drain: every remaining route removed in random order, nodes all freed.
    while (model.size > 0) {
      const e = model.routes[g.next() % model.size]!
      model.remove(e.prefix, e.len)
      rt.remove(e.prefix, e.len)
      totalOps++
      totalLookups += 8
      const f = probe(g, rt, model, e.prefix, e.len)
      if (f !== null) {
        t.fail(`seed ${seed} drain: ${f}`)
        return
      }
    }
    if (rt.nodeCount !== 0) t.fail(`seed ${seed}: ${rt.nodeCount} nodes left after draining`)
  }
  t.ok(totalOps >= 100_000, `${totalOps} operations, ${totalLookups} addresses compared (lookup and lookupBatch)`)
})

t.test('a random real-table-like table of 20,000 prefixes matches the model, also while it is emptied', async (t) => {
  const g = gen(424242)
  const rt = new RouteTable()
  const model = new ReferenceModel()
  const lens = [8, 12, 15, 16, 16, 18, 19, 20, 20, 21, 22, 22, 23, 24, 24, 24, 24, 24, 26, 28, 30, 32]
  for (let i = 0; i < 20_000; i++) {
    const len = lens[g.next() % lens.length]!
    const prefix = g.next()
    rt.insert(prefix, len, i)
    model.insert(prefix, len, i)
  }
  t.equal(rt.size, model.size)
  // Batch lookups of random addresses and of addresses inside stored prefixes.
  const addrs = new Uint32Array(256)
  const out = new Int32Array(256)
  let bad = 0
  const check = (rounds: number): void => {
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < 256; i++) {
        if (i % 2 === 0 || model.size === 0) addrs[i] = g.next()
        else {
          const e = model.routes[g.next() % model.size]!
          addrs[i] = (e.prefix | (g.next() & ~modelMask(e.len))) >>> 0
        }
      }
      rt.lookupBatch(addrs, 256, out)
      for (let i = 0; i < 256; i++) if (out[i] !== model.lookup(addrs[i]!)) bad++
    }
  }
  check(8)
  t.equal(bad, 0, 'lookups of the full table')
  // Remove three quarters in random order through batched applies.
  while (model.size > 5000) {
    const changes: RouteChange[] = []
    for (let i = 0; i < 256 && model.size > 0; i++) {
      const e = model.routes[g.next() % model.size]!
      model.remove(e.prefix, e.len)
      changes.push({ op: 'remove', prefix: e.prefix, len: e.len })
    }
    rt.apply(changes)
  }
  check(8)
  t.equal(bad, 0, 'lookups after removing three quarters')
  t.equal(rt.size, model.size)
  for (const e of [...model.routes]) rt.remove(e.prefix, e.len)
  t.equal(rt.size, 0)
  t.equal(rt.nodeCount, 0)
  t.equal(rt.lookup(g.next()), NO_ROUTE)
})
