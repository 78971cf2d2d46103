/**
 * Micro-benchmarks of the route table (issue 3): lookups/s (bulk lookupBatch over 256 addresses, and
 * single lookup), route updates/s and table memory, for tables of 16, 1,000, 65,536 and 1,000,000 random
 * prefixes, against two baselines in the same run:
 *   - flannel-style linear scan: first match with swap-to-front, as flannel's UDP proxy find_route()
 *     (backend/udp/proxy_amd64.c). It is not a longest-prefix match (flannel's leases never overlap), so it
 *     is a speed reference only; skipped at 1,000,000 prefixes, where one lookup scans up to a million entries.
 *   - Map per prefix length: one Map<prefix, value> per length present, probed from the longest length down.
 *
 * Run:   node --import tsx bench/micro/route-table.bench.ts [--quick] [--runs N] [--sizes 16,1000] [--write]
 * --quick: shorter samples and one run; --runs: rounds per size (the median is reported, default 3);
 * --write: put the results into bench/RESULTS.md under "## Route table (issue 3)".
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { NO_ROUTE, RouteTable } from '../../src/route/route-table.js'
import { xorshift32 } from '../../test/helpers/xorshift.js'

// benchmark.js ships no types; this is the part of its API used here.
interface BenchTarget {
  name: string
  hz: number
  stats: { rme: number; sample: number[] }
  error?: unknown
}
interface Suite {
  add(name: string, fn: () => void, options?: { maxTime?: number; minSamples?: number }): Suite
  on(event: 'cycle', fn: (e: { target: BenchTarget }) => void): Suite
  run(options: { async: boolean }): Suite
}
interface BenchmarkStatic {
  Suite: new () => Suite
}
const require = createRequire(import.meta.url)
const Benchmark = require('benchmark') as BenchmarkStatic

// ---- options ----
const argv = process.argv.slice(2)
const quick = argv.includes('--quick')
const write = argv.includes('--write')
function optValue(name: string): string | undefined {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : undefined
}
const runs = Number(optValue('--runs') ?? (quick ? 1 : 3))
const sizes = (optValue('--sizes') ?? '16,1000,65536,1000000').split(',').map(Number)
const maxTime = quick ? 0.15 : 0.6
const BATCH = 256
const LINEAR_MAX = 65_536

// ---- workload ----
/** xorshift32, seeded: the same tables and addresses in every run. */
const rng = (seed: number): (() => number) => xorshift32(seed, 1)

// Prefix lengths "like a real table": 88% /16-/24 weighted as in the public IPv4 BGP table (about
// 60% /24), 6% /8-/15 and 6% /25-/32, uniform within those ranges.
const WEIGHTS_16_24 = [3, 1, 2, 3, 5, 6, 14, 12, 54]
function randLen(next: () => number): number {
  const r = next() % 100
  if (r < 6) return 8 + (next() % 8)
  if (r < 12) return 25 + (next() % 8)
  let w = next() % 100
  for (let k = 0; k < WEIGHTS_16_24.length; k++) {
    if (w < WEIGHTS_16_24[k]!) return 16 + k
    w -= WEIGHTS_16_24[k]!
  }
  return 24
}
function mask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0
}
interface Prefixes {
  prefix: Uint32Array
  len: Uint8Array
  value: Int32Array
}
/** n distinct random prefixes (host bits clear), values 0..n-1 (mod 2^20). */
function randomPrefixes(n: number, seed: number): Prefixes {
  const next = rng(seed)
  const p: Prefixes = { prefix: new Uint32Array(n), len: new Uint8Array(n), value: new Int32Array(n) }
  const seen = new Set<number>()
  for (let i = 0; i < n; ) {
    const len = randLen(next)
    const prefix = (next() & mask(len)) >>> 0
    const key = prefix * 64 + len
    if (seen.has(key)) continue
    seen.add(key)
    p.len[i] = len
    p.prefix[i] = prefix
    p.value[i] = i & 0xfffff
    i++
  }
  return p
}

// ---- baselines ----
/** flannel UDP proxy find_route(): first match in insertion order, swapping the hit to the front. */
class LinearSwapToFront {
  private readonly nets: Uint32Array
  private readonly masks: Uint32Array
  private readonly vals: Int32Array
  private readonly n: number
  constructor(p: Prefixes) {
    this.n = p.prefix.length
    this.nets = p.prefix.slice()
    this.masks = Uint32Array.from(p.len, mask)
    this.vals = p.value.slice()
  }
  lookup(addr: number): number {
    const nets = this.nets
    const masks = this.masks
    for (let i = 0; i < this.n; i++) {
      if (((addr & masks[i]!) >>> 0) === nets[i]) {
        if (i !== 0) {
          const n0 = nets[0]!
          const m0 = masks[0]!
          const v0 = this.vals[0]!
          nets[0] = nets[i]!
          masks[0] = masks[i]!
          this.vals[0] = this.vals[i]!
          nets[i] = n0
          masks[i] = m0
          this.vals[i] = v0
        }
        return this.vals[0]!
      }
    }
    return NO_ROUTE
  }
}

/** One Map<prefix, value> per prefix length present, probed longest first. */
class MapPerLength {
  private readonly maps: Map<number, number>[] = []
  private readonly masks: number[] = []
  constructor(p: Prefixes) {
    const byLen = new Map<number, Map<number, number>>()
    for (let i = 0; i < p.prefix.length; i++) {
      const l = p.len[i]!
      let m = byLen.get(l)
      if (!m) byLen.set(l, (m = new Map()))
      m.set(p.prefix[i]!, p.value[i]!)
    }
    for (const l of [...byLen.keys()].sort((a, b) => b - a)) {
      this.maps.push(byLen.get(l)!)
      this.masks.push(mask(l))
    }
  }
  lookup(addr: number): number {
    for (let k = 0; k < this.maps.length; k++) {
      const v = this.maps[k]!.get((addr & this.masks[k]!) >>> 0)
      if (v !== undefined) return v
    }
    return NO_ROUTE
  }
}

// ---- measurement ----
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

function runSuite(cases: [string, () => void][]): Map<string, number> {
  const hz = new Map<string, number>()
  const suite = new Benchmark.Suite()
  for (const [name, fn] of cases) suite.add(name, fn, { maxTime, minSamples: 5 })
  suite.on('cycle', (e) => {
    const b = e.target
    if (b.error) throw b.error
    hz.set(b.name, b.hz)
    console.log(`    ${b.name}: ${b.hz.toFixed(0)} calls/s ±${b.stats.rme.toFixed(1)}% (${b.stats.sample.length} samples)`)
  })
  suite.run({ async: false })
  return hz
}

interface SizeResult {
  size: number
  buildMs: number
  memory: number
  nodes: number
  bulk: number
  bulkMin: number
  bulkMax: number
  single: number
  map: number
  linear: number | null
  updates: number
  wideUpdateUs: number
}

function benchSize(size: number): SizeResult {
  console.log(`\n== ${size} prefixes`)
  const prefixes = randomPrefixes(size, 0x5eed + size)
  const rt = new RouteTable()
  const t0 = performance.now()
  for (let i = 0; i < size; i++) rt.insert(prefixes.prefix[i]!, prefixes.len[i]!, prefixes.value[i]!)
  const buildMs = performance.now() - t0
  console.log(`  built in ${buildMs.toFixed(0)} ms: ${rt.size} distinct prefixes, ${(rt.memoryBytes() / 2 ** 20).toFixed(2)} MiB`)
  const map = new MapPerLength(prefixes)
  const linear = size <= LINEAR_MAX ? new LinearSwapToFront(prefixes) : null

  // Random destinations: 65,536 of them, walked 256 at a time so caches see a realistic spread.
  const nextAddr = rng(0xadd2e55)
  const addrs = Uint32Array.from({ length: 65_536 }, () => nextAddr())
  const slices: Uint32Array[] = []
  for (let o = 0; o < addrs.length; o += BATCH) slices.push(addrs.subarray(o, o + BATCH))
  const out = new Int32Array(BATCH)

  // Cross-check the baselines that are longest-match against the table before timing anything.
  for (let i = 0; i < 4096; i++) {
    if (rt.lookup(addrs[i]!) !== map.lookup(addrs[i]!)) throw new Error(`map baseline disagrees at ${addrs[i]}`)
  }

  const memory = rt.memoryBytes()
  const nodes = rt.nodeCount
  let slice = 0
  let sink = 0
  const lookupCases: [string, () => void][] = [
    [
      'tartan lookupBatch x256',
      () => {
        rt.lookupBatch(slices[slice]!, BATCH, out)
        slice = (slice + 1) & 255
        sink ^= out[0]!
      },
    ],
    [
      'tartan lookup x256',
      () => {
        const s = slices[slice]!
        for (let k = 0; k < BATCH; k++) sink ^= rt.lookup(s[k]!)
        slice = (slice + 1) & 255
      },
    ],
    [
      'Map per length x256',
      () => {
        const s = slices[slice]!
        for (let k = 0; k < BATCH; k++) sink ^= map.lookup(s[k]!)
        slice = (slice + 1) & 255
      },
    ],
  ]
  if (linear) {
    lookupCases.push([
      'flannel linear x256',
      () => {
        const s = slices[slice]!
        for (let k = 0; k < BATCH; k++) sink ^= linear.lookup(s[k]!)
        slice = (slice + 1) & 255
      },
    ])
  }
  const rounds: Map<string, number>[] = []
  for (let r = 0; r < runs; r++) {
    console.log(`  lookups, run ${r + 1}/${runs}`)
    rounds.push(runSuite(lookupCases))
  }

  // Updates: a ring of fresh prefixes, half of them present; each call adds one and removes another, so
  // the table keeps its size (plus 2,048).
  const RING = 4096
  const ring = randomPrefixes(RING * 2, 0xf00d + size)
  const fresh: number[] = []
  for (let i = 0; i < ring.prefix.length && fresh.length < RING; i++) {
    if (rt.get(ring.prefix[i]!, ring.len[i]!) === NO_ROUTE) fresh.push(i)
  }
  for (let k = 0; k < RING / 2; k++) rt.insert(ring.prefix[fresh[k]!]!, ring.len[fresh[k]!]!, 1)
  let u = 0
  const updateCases: [string, () => void][] = [
    [
      'tartan insert+remove',
      () => {
        const add = fresh[(u + RING / 2) % RING]!
        const del = fresh[u % RING]!
        rt.insert(ring.prefix[add]!, ring.len[add]!, 1)
        rt.remove(ring.prefix[del]!, ring.len[del]!)
        u++
      },
    ],
  ]
  for (let r = 0; r < runs; r++) {
    console.log(`  updates, run ${r + 1}/${runs}`)
    rounds.push(runSuite(updateCases))
  }

  // The widest update: a default route (/0) added and removed (the median of 101 single updates).
  const times: number[] = []
  for (let k = 0; k < 40; k++) rt.apply([{ op: k % 2 === 0 ? 'add' : 'remove', prefix: 0, len: 0, value: 1 }]) // warm-up
  for (let k = 0; k < 101; k++) {
    const w0 = performance.now()
    if (k % 2 === 0) rt.insert(0, 0, 1)
    else rt.remove(0, 0)
    times.push((performance.now() - w0) * 1000)
  }
  if (rt.get(0, 0) !== NO_ROUTE) rt.remove(0, 0)
  const wideUpdateUs = median(times)

  if (sink === 0x7fffffff) console.log('(sink)')
  const all = (name: string): number[] => rounds.filter((m) => m.has(name)).map((m) => m.get(name)!)
  const med = (name: string): number => median(all(name))
  return {
    size,
    buildMs,
    memory,
    nodes,
    bulk: med('tartan lookupBatch x256') * BATCH,
    bulkMin: Math.min(...all('tartan lookupBatch x256')) * BATCH,
    bulkMax: Math.max(...all('tartan lookupBatch x256')) * BATCH,
    single: med('tartan lookup x256') * BATCH,
    map: med('Map per length x256') * BATCH,
    linear: linear ? med('flannel linear x256') * BATCH : null,
    updates: med('tartan insert+remove') * 2,
    wideUpdateUs,
  }
}

// ---- report ----
function fmtRate(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(1)} M`
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)} k`
  return x.toFixed(0)
}
function mib(b: number): string {
  return `${(b / 2 ** 20).toFixed(2)} MiB`
}

const loadBefore = os.loadavg()[0]!
const results = sizes.map(benchSize)
const loadAfter = os.loadavg()[0]!
const command = `node --import tsx bench/micro/route-table.bench.ts${argv.length ? ' ' + argv.join(' ') : ''}`
// os.release() is what `uname -r` prints; os.availableParallelism() what `nproc` prints.
const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
const machine = `nproc ${os.availableParallelism()}, ${cpu}, uname -r ${os.release()}, node -v ${process.version}`
const rows = results.map(
  (r) =>
    `| ${r.size.toLocaleString('en-US')} | ${fmtRate(r.bulk)} (${fmtRate(r.bulkMin)}-${fmtRate(r.bulkMax)}) | ${fmtRate(r.single)} | ${fmtRate(r.map)} | ` +
    `${r.linear === null ? 'skipped (see note)' : fmtRate(r.linear)} | ${fmtRate(r.updates)} | ` +
    `${r.wideUpdateUs.toFixed(1)} µs | ${mib(r.memory)} | ${r.nodes.toLocaleString('en-US')} | ${(r.buildMs / 1000).toFixed(2)} s |`,
)
const bar = (ok: boolean): string => (ok ? 'met' : 'NOT met')
const at = (n: number): SizeResult | undefined => results.find((r) => r.size === n)
const checks: string[] = []
const r65k = at(65_536)
const r1m = at(1_000_000)
if (r65k) {
  checks.push(`- bulk lookups >= 100 M/s at 65,536 prefixes: ${fmtRate(r65k.bulk)}/s, ${bar(r65k.bulk >= 100e6)}`)
  checks.push(`- table memory <= 16 MiB at 65,536 prefixes: ${mib(r65k.memory)}, ${bar(r65k.memory <= 16 * 2 ** 20)}`)
}
if (r1m) checks.push(`- bulk lookups >= 20 M/s at 1,000,000 prefixes: ${fmtRate(r1m.bulk)}/s, ${bar(r1m.bulk >= 20e6)}`)
const minUpd = Math.min(...results.map((r) => r.updates))
checks.push(`- route updates >= 100,000/s: slowest size ${fmtRate(minUpd)}/s, ${bar(minUpd >= 100e3)}`)

const section = `## Route table (issue 3)

Command: \`${command}\`

Machine: ${machine}.
The machine is shared with other workers running in parallel (tests, iperf3; 1-minute load average
${loadBefore.toFixed(1)} at the start of this run and ${loadAfter.toFixed(1)} at its end, on 2 cores), so each figure is the median of
${runs} run(s) of benchmark.js (${maxTime} s max per sample set); the bulk column also shows the slowest and fastest
run. Expect the rates to swing by up to 2x between runs of this command.

Workload: random prefixes (88% /16-/24 weighted like the public BGP table, 6% /8-/15, 6% /25-/32), uniformly
random destination addresses (65,536 of them, 256 per call). Rates are lookups (or updates) per second on
one thread. "Updates/s" alternately inserts and removes random prefixes of the same length mix into the
table of that size; "/0 update" is the time to add or remove a default route there. Memory is the table's
typed arrays (lookup arrays, nodes and the control-plane prefix map).

| prefixes | tartan lookupBatch x256 (slowest-fastest run) | tartan lookup | Map per length | flannel linear (swap-to-front) | updates/s | /0 update | memory | nodes | build (insert one by one) |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}

Performance bar:
${checks.join('\n')}

Notes: the flannel-style baseline is flannel's UDP proxy find_route() (first match, hit swapped to the
front); it is not longest-prefix match, so it is a speed reference only, and it is skipped at 1,000,000
prefixes (each lookup would scan up to a million entries). The Map-per-length baseline is checked against
the table before timing. Memory is 5 MiB fixed (the 2^20-entry root and its depth bytes), 84 bytes per node
(16 entries, their depths, a prefix count; arrays grow by 1.5x, so up to a third is headroom) and 15-30 bytes
per prefix for the control-plane map; at 1,000,000 prefixes it exceeds 16 MiB, as expected.
`

console.log('\n' + section)

if (write) {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const file = path.resolve(here, '..', 'RESULTS.md')
  const heading = '## Route table (issue 3)'
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n'
  const start = text.indexOf(heading)
  if (start >= 0) {
    const nextHeading = text.indexOf('\n## ', start + heading.length)
    const end = nextHeading >= 0 ? nextHeading + 1 : text.length
    text = text.slice(0, start) + section + (nextHeading >= 0 ? '\n' : '') + text.slice(end)
  } else {
    text = text.replace(/\n*$/, '\n\n') + section
  }
  writeFileSync(file, text)
  console.log(`wrote ${path.relative(process.cwd(), file)}`)
}
