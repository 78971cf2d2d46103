/**
 * The end-to-end benchmark: for each round, for each contender (order rotated every round so no contender
 * always runs first), build a fresh two-node Topology, let the contender configure it, run the measurements
 * pod 0 -> pod 1, and destroy everything (in `finally`). Results are medians over rounds plus each
 * contender's ratio to kernel VXLAN from the same run.
 */
import { cpus, release } from 'node:os'
import { spawnSync } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { canCreateTopology, Topology } from '../../src/topology/index.js'
import type { Contender, ContenderSession } from './contenders.js'
import { latency, startServers, tcpThroughput, udpSmallPackets, type Endpoints, type Servers } from './measure.js'
import { emptyMetrics, median, METRICS, ratio, type MetricDef, type Metrics } from './metrics.js'
import { cpuSnapshot, peakRssBytes } from './proc-stats.js'

export const RESULT_SCHEMA = 'tartan-bench-e2e/1'
export const BASELINE = 'kernel-vxlan'

export interface BenchOptions {
  contenders: readonly Contender[]
  rounds: number
  /** Seconds per measurement. */
  durationS: number
  underlayMtu?: number
  /** Progress lines; default: none. */
  log?: (line: string) => void
}

export interface RoundResult {
  round: number
  metrics: Metrics
  /** Raw inputs of the CPU metrics, for auditing. */
  cpu: { processSeconds: number; softirqSeconds: number; endpointSeconds: number | null; bytes: number } | null
  collected: Record<string, unknown>
  errors: string[]
  seconds: number
}

export interface ContenderResult {
  name: string
  label: string
  /** ok: at least one round measured; unavailable: could not run here; failed: never came up. */
  status: 'ok' | 'unavailable' | 'failed'
  reason: string | null
  podMtu: number
  rounds: RoundResult[]
  median: Metrics
  ratioToBaseline: Metrics
}

export interface BenchResult {
  schema: string
  date: string
  host: { kernel: string; cpus: number; cpuModel: string; node: string; iperf3: string; sockperf: string }
  config: { rounds: number; durationS: number; underlayMtu: number; baseline: string }
  metrics: readonly MetricDef[]
  contenders: ContenderResult[]
  totalSeconds: number
}

/** Runs the benchmark; never leaves a topology or process behind, also when a contender fails. */
export async function runBenchmark(options: BenchOptions): Promise<BenchResult> {
  const t0 = Date.now()
  const log = options.log ?? ((): void => undefined)
  const underlayMtu = options.underlayMtu ?? 1500
  if (!Number.isInteger(options.rounds) || options.rounds < 1) throw new Error(`rounds must be a positive integer, got ${options.rounds}`)
  if (!(options.durationS >= 1 && options.durationS <= 600)) throw new Error(`duration must be 1..600 s, got ${options.durationS}`)
  const missing = canCreateTopology() ?? missingTool(['iperf3', 'sockperf', 'ping', 'ss'])
  if (missing !== null) throw new Error(`cannot run the benchmark: ${missing}`)

  const results: ContenderResult[] = []
  for (const c of options.contenders) {
    const reason = await c.unavailable()
    results.push({
      name: c.name,
      label: c.label,
      status: reason === null ? 'ok' : 'unavailable',
      reason,
      podMtu: c.podMtu(underlayMtu),
      rounds: [],
      median: emptyMetrics(),
      ratioToBaseline: emptyMetrics(),
    })
    if (reason !== null) log(`${c.name}: unavailable: ${reason}`)
  }

  const n = options.contenders.length
  for (let round = 0; round < options.rounds; round++) {
    for (let k = 0; k < n; k++) {
      const i = (k + round) % n
      const c = options.contenders[i]
      const r = results[i]
      if (r.status !== 'ok') continue
      log(`round ${round + 1}/${options.rounds}: ${c.name} ...`)
      const rr = await runRound(c, round, underlayMtu, options.durationS, log)
      r.rounds.push(rr)
      const measured = METRICS.some((m) => rr.metrics[m.key] !== null)
      if (!measured && r.rounds.every((x) => METRICS.every((m) => x.metrics[m.key] === null))) {
        // Never came up: do not spend the remaining rounds on it.
        r.status = 'failed'
        r.reason = rr.errors[0] ?? 'no measurement succeeded'
        log(`${c.name}: failed: ${r.reason}`)
      } else {
        log(`  ${summarize(rr.metrics)}${rr.errors.length > 0 ? `  (errors: ${rr.errors.join('; ')})` : ''}`)
      }
    }
  }

  for (const r of results) {
    for (const m of METRICS) r.median[m.key] = median(r.rounds.map((x) => x.metrics[m.key]))
  }
  const base = results.find((r) => r.name === BASELINE)
  for (const r of results) {
    for (const m of METRICS) r.ratioToBaseline[m.key] = ratio(r.median[m.key], base?.median[m.key] ?? null)
  }
  return {
    schema: RESULT_SCHEMA,
    date: new Date().toISOString(),
    host: hostInfo(),
    config: { rounds: options.rounds, durationS: options.durationS, underlayMtu, baseline: BASELINE },
    metrics: METRICS,
    contenders: results,
    totalSeconds: (Date.now() - t0) / 1000,
  }
}

async function runRound(c: Contender, round: number, underlayMtu: number, durationS: number, log: (s: string) => void): Promise<RoundResult> {
  const t0 = Date.now()
  const metrics = emptyMetrics()
  const errors: string[] = []
  let cpu: RoundResult['cpu'] = null
  let collected: Record<string, unknown> = {}
  let topo: Topology | null = null
  let session: ContenderSession | null = null
  let servers: Servers | null = null
  const attempt = async <T>(what: string, f: () => Promise<T>): Promise<T | null> => {
    try {
      return await f()
    } catch (e) {
      errors.push(`${what}: ${(e as Error).message}`)
      return null
    }
  }
  try {
    topo = await Topology.create({ nodes: 2, underlayMtu, podMtu: c.podMtu(underlayMtu) })
    session = await c.setup(topo)
    const ep: Endpoints = { topo, client: topo.nodes[0], server: topo.nodes[1] }
    await checkConnectivity(ep)
    servers = await startServers(ep)
    const pids = session.pids

    const before = cpuSnapshot(pids)
    const tcp1 = await attempt('tcp 1 stream', () => tcpThroughput(ep, 1, durationS))
    const after = cpuSnapshot(pids)
    if (tcp1 !== null) {
      metrics.tcp1Gbps = tcp1.bitsPerSecond / 1e9
      const gb = tcp1.bytes / 1e9
      const processSeconds = after.processSeconds - before.processSeconds
      const softirqSeconds = after.softirqSeconds - before.softirqSeconds
      cpu = { processSeconds, softirqSeconds, endpointSeconds: tcp1.endpointCpuSeconds, bytes: tcp1.bytes }
      if (gb > 0) {
        metrics.cpuSecPerGB = (processSeconds + softirqSeconds) / gb
        if (tcp1.endpointCpuSeconds !== null) metrics.cpuAllSecPerGB = (processSeconds + softirqSeconds + tcp1.endpointCpuSeconds) / gb
      }
    }
    const tcp4 = await attempt('tcp 4 streams', () => tcpThroughput(ep, 4, durationS))
    if (tcp4 !== null) metrics.tcp4Gbps = tcp4.bitsPerSecond / 1e9
    const udp = await attempt('udp 64 B', () => udpSmallPackets(ep, durationS))
    if (udp !== null) {
      metrics.udp64Kpps = udp.deliveredPps / 1e3
      metrics.udp64LossPct = udp.lossPercent
    }
    const lat = await attempt('latency', () => latency(ep, durationS))
    if (lat !== null) {
      metrics.latP50Us = lat.p50Us
      metrics.latP99Us = lat.p99Us
    }
    if (pids.length > 0) {
      const rss = pids.map((p) => peakRssBytes(p)).filter((x): x is number => x !== null)
      if (rss.length > 0) metrics.peakRssMiB = Math.max(...rss) / (1024 * 1024)
    }
    collected = (await attempt('collect', () => session!.collect())) ?? {}
  } catch (e) {
    errors.push((e as Error).message)
  } finally {
    if (servers !== null) await servers.stop().catch((e: Error) => errors.push(`stop servers: ${e.message}`))
    if (session !== null) await session.teardown().catch((e: Error) => errors.push(`teardown: ${e.message}`))
    if (topo !== null) await topo.destroy().catch((e: Error) => errors.push(`destroy: ${e.message}`))
  }
  if (errors.length > 0) log(`  ${c.name} round ${round + 1}: ${errors.length} error(s)`)
  return { round, metrics, cpu, collected, errors, seconds: (Date.now() - t0) / 1000 }
}

/** Pod 0 must reach pod 1 before anything is measured (an engine may need a moment after "ready"). */
async function checkConnectivity(ep: Endpoints): Promise<void> {
  let last = ''
  for (let i = 0; i < 5; i++) {
    const r = await ep.topo.exec(ep.client.podNs, ['ping', '-c1', '-W1', ep.server.podIp], { timeoutMs: 5_000 })
    if (r.code === 0) return
    last = (r.stdout + r.stderr).trim().split('\n').slice(-2).join(' ')
    await sleep(200)
  }
  throw new Error(`pod ${ep.client.podIp} cannot reach pod ${ep.server.podIp}: ${last}`)
}

function summarize(m: Metrics): string {
  const f = (v: number | null, d = 2): string => (v === null ? '-' : v.toFixed(d))
  return (
    `tcp1 ${f(m.tcp1Gbps)} Gb/s, tcp4 ${f(m.tcp4Gbps)} Gb/s, udp64 ${f(m.udp64Kpps, 0)} kpps (${f(m.udp64LossPct, 1)}% loss), ` +
    `lat p50/p99 ${f(m.latP50Us, 1)}/${f(m.latP99Us, 1)} us, cpu ${f(m.cpuSecPerGB, 3)} s/GB` +
    (m.peakRssMiB === null ? '' : `, rss ${f(m.peakRssMiB, 1)} MiB`)
  )
}

function missingTool(tools: readonly string[]): string | null {
  for (const t of tools) {
    const r = spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore', timeout: 2_000 })
    if (r.status !== 0) return `\`${t}\` is not installed (Debian: iperf3, sockperf, iputils-ping, iproute2)`
  }
  return null
}

function firstLine(argv: readonly string[]): string {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 2_000 })
  // eslint-disable-next-line no-control-regex
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.replace(/\x1b\[[0-9;]*m/g, '').trim().split('\n')[0] ?? ''
}

function hostInfo(): BenchResult['host'] {
  const c = cpus()
  return {
    kernel: release(),
    cpus: c.length,
    cpuModel: c[0]?.model ?? 'unknown',
    node: process.version,
    iperf3: firstLine(['iperf3', '--version']),
    sockperf: firstLine(['sockperf', '--version']).replace(/^sockperf:?\s*(sockperf,\s*)?/, ''),
  }
}
