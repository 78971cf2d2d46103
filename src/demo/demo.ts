/**
 * `tartan demo` (what `npm start` runs): a whole cluster on this machine. It builds N hosts in network
 * namespaces (an underlay bridge, and per host a pod behind a cni0 bridge), starts `tartan run` on each
 * with one shared embedded store, wires each pod from its node's subnet.env as flannel's CNI plugin would,
 * measures every pod pair with its own probes (UDP echo RTT percentiles, TCP bulk throughput), and prints
 * the results and each node's counters. Progress goes to stderr, the tables to stdout. Everything it made
 * (namespaces, processes, files) is removed on exit, on error and on Ctrl-C; --keep leaves the cluster up
 * until Ctrl-C.
 */
import { mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DaemonStatus } from '../daemon/daemon.js'
import { TartanError } from '../errors.js'
import { Topology, uniquePrefix, type TopologyNode } from '../topology/index.js'
import { DEMO_FLAGS, parseFlags } from '../cli/flags.js'
import { formatBitrate, formatBytes, formatMs, formatTable } from '../cli/table.js'
import { UsageError } from '../cli/usage-error.js'
import { programArgv } from './entry.js'
import { httpGetInNetns } from './netns-http.js'
import { NodeProcess } from './node-process.js'
import { wirePod, type PodAddress } from './pod-wiring.js'
import { demoPreflight } from './preflight.js'
import { ProbeAgent, type RttResult, type TcpResult } from './probe-agent.js'

export interface DemoOptions {
  nodes: number
  durationS: number
  backend: 'udp' | 'vxlan'
  keep: boolean
}

/** Where each node serves /status and /metrics inside its host namespace (tartan run's default). */
const METRICS_PORT = 8286
const PROBE_PORT = 7000
const RTT_PROBES = 200
/** Each pair's TCP transfer gets 80% of its share of --duration, and at least this long. */
const MIN_TCP_MS = 500

interface PairResult {
  from: number
  to: number
  rtt: RttResult | null
  tcp: TcpResult | null
  error?: string
}

function progress(text: string): void {
  process.stderr.write(text)
}

function nodeName(i: number): string {
  return `node${i + 1}`
}

/** Runs `tartan demo`; resolves with the exit code. */
export async function demo(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const f = parseFlags(DEMO_FLAGS, argv, env, 'demo')
  if (f.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(f.positional[0])}`, 'demo')
  const backend = String(f.values.backend)
  if (backend !== 'udp' && backend !== 'vxlan') throw new UsageError(`--backend ${JSON.stringify(backend)}: use udp or vxlan`, 'demo')
  const missing = await demoPreflight()
  if (missing !== null) throw new TartanError('TARTAN_ERR_NOT_ROOT', missing)
  return runDemo({ nodes: f.values.nodes as number, durationS: f.values.duration as number, backend, keep: f.values.keep === true })
}

/** Builds, measures, reports and tears down a demo cluster; resolves with the exit code. */
export async function runDemo(o: DemoOptions): Promise<number> {
  const prefix = uniquePrefix()
  const dir = join(tmpdir(), `tartan-demo-${prefix}`)
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true })
  let topo: Topology | null = null
  const nodes: NodeProcess[] = []
  const probes: ProbeAgent[] = []
  let waitForSignal: (() => void) | null = null

  // Ctrl-C: while --keep waits, a normal (graceful) teardown; otherwise leave at once: the topology registry
  // deletes the namespaces and kills the processes in them on exit, and the files go here.
  const onSignal = (sig: NodeJS.Signals): void => {
    if (waitForSignal !== null) {
      waitForSignal()
      return
    }
    progress(`\n${sig}: stopping; removing the cluster\n`)
    removeDir()
    process.exit(sig === 'SIGINT' ? 130 : 143)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('exit', removeDir)

  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    progress(`tartan demo: ${o.nodes} nodes, ${o.backend} backend, embedded store ${join(dir, 'leases.db')}\n`)

    let t = Date.now()
    progress(`[1/5] building the cluster in network namespaces ${prefix}-* ... `)
    topo = await Topology.create({ nodes: o.nodes, prefix })
    progress(`done (${secondsSince(t)})\n`)

    t = Date.now()
    progress(`[2/5] starting tartan run on ${o.nodes} nodes ... `)
    const network = JSON.stringify({ Network: '10.244.0.0/16', Backend: { Type: o.backend } })
    for (const n of topo.nodes) {
      nodes.push(NodeProcess.spawn(topo, n.hostNs, [
        `--store=sqlite:${join(dir, 'leases.db')}`,
        `--network=${network}`,
        `--iface=${n.underlayIf}`,
        `--subnet-file=${join(dir, nodeName(n.index), 'subnet.env')}`,
        `--metrics-port=${METRICS_PORT}`,
      ]))
    }
    const ready = await Promise.all(nodes.map((p) => p.ready(60_000)))
    progress(`ready (${secondsSince(t)}): ${ready.map((r, i) => `${nodeName(i)} ${String(r.subnet)}`).join(', ')}\n`)

    progress('[3/5] wiring each pod from its node\'s subnet.env (as flannel\'s CNI plugin does) ... ')
    const pods: PodAddress[] = []
    for (const n of topo.nodes) pods.push(await wirePod(topo, n, join(dir, nodeName(n.index), 'subnet.env')))
    progress(`done: pods ${pods.map((p) => p.podIp).join(', ')}, MTU ${pods[0]!.mtu}\n`)

    t = Date.now()
    progress('[4/5] starting a probe in each pod ... ')
    for (const [i, n] of topo.nodes.entries()) probes.push(await ProbeAgent.start(topo, n.podNs, pods[i]!.podIp, PROBE_PORT, prefix))
    progress(`done (${secondsSince(t)})\n`)

    const pairs: [number, number][] = []
    for (let a = 0; a < o.nodes; a++) for (let b = 0; b < o.nodes; b++) if (a !== b) pairs.push([a, b])
    const tcpMs = Math.max(MIN_TCP_MS, Math.floor((o.durationS * 1000 * 0.8) / pairs.length))
    progress(`[5/5] measuring ${pairs.length} pod pairs (${RTT_PROBES} UDP echoes, then ${(tcpMs / 1000).toFixed(1)} s of TCP each) ...`)
    const results: PairResult[] = []
    for (const [k, [a, b]] of pairs.entries()) {
      results.push(await measurePair(probes[a]!, pods[b]!.podIp, a, b, tcpMs))
      progress(` ${k + 1}/${pairs.length}`)
    }
    progress('\n\n')

    const statuses: (DaemonStatus | null)[] = []
    for (const n of topo.nodes) statuses.push(await nodeStatus(topo, n))
    process.stdout.write(`${report(o, topo, pods, results, statuses)}\n`)

    const failed = results.filter((r) => r.error !== undefined)
    if (o.keep) {
      process.stdout.write(`\n${keepInstructions(topo, pods, dir)}\n`)
      await new Promise<void>((resolve) => {
        waitForSignal = resolve
      })
      progress('\nstopping; removing the cluster ...\n')
    }
    if (failed.length > 0) {
      throw new TartanError('TARTAN_ERR_STATE', `${failed.length} of ${pairs.length} pod pairs could not be measured: ${failed[0]!.error}`)
    }
    return 0
  } finally {
    for (const p of probes) p.close()
    await Promise.all(nodes.map((p) => p.stop(10_000)))
    await topo?.destroy()
    removeDir()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.off('exit', removeDir)
    progress(`removed the cluster (${prefix}-* namespaces, processes, ${dir})\n`)
  }
}

function secondsSince(t: number): string {
  return `${((Date.now() - t) / 1000).toFixed(1)} s`
}

async function measurePair(from: ProbeAgent, toIp: string, a: number, b: number, tcpMs: number): Promise<PairResult> {
  try {
    const rtt = await from.rtt(toIp, PROBE_PORT, RTT_PROBES)
    if (rtt.p50Ms === null) return { from: a, to: b, rtt, tcp: null, error: `${nodeName(a)} -> ${nodeName(b)}: no UDP echo came back` }
    const tcp = await from.tcp(toIp, PROBE_PORT, tcpMs)
    return { from: a, to: b, rtt, tcp }
  } catch (err) {
    return { from: a, to: b, rtt: null, tcp: null, error: `${nodeName(a)} -> ${nodeName(b)}: ${(err as Error).message}` }
  }
}

async function nodeStatus(topo: Topology, n: TopologyNode): Promise<DaemonStatus | null> {
  try {
    const r = await httpGetInNetns(topo, n.hostNs, `http://127.0.0.1:${METRICS_PORT}/status`)
    return JSON.parse(r.body) as DaemonStatus
  } catch {
    return null
  }
}

/** The two result tables: pod pairs, then per-node counters. */
export function report(o: DemoOptions, topo: Topology, pods: PodAddress[], results: PairResult[], statuses: (DaemonStatus | null)[]): string {
  const ms = (v: number | null | undefined): string => (v == null ? '-' : formatMs(v))
  const pairRows = results.map((r) => [
    `${nodeName(r.from)} ${pods[r.from]!.podIp}`,
    `${nodeName(r.to)} ${pods[r.to]!.podIp}`,
    ms(r.rtt?.p50Ms), ms(r.rtt?.p90Ms), ms(r.rtt?.p99Ms),
    r.rtt === null ? '-' : `${((r.rtt.lost / r.rtt.count) * 100).toFixed(1)}%`,
    r.tcp === null ? (r.error === undefined ? '-' : 'FAILED') : formatBitrate(r.tcp.bitsPerSecond),
  ])
  const nodeRows = topo.nodes.map((n, i) => {
    const s = statuses[i]
    const c = s?.counters
    const drops = c === null || c === undefined ? '-' : String(Object.values(c.drops).reduce((x, y) => x + y, 0))
    return [
      nodeName(i), n.underlayIp, s?.lease?.subnet ?? '?', String(s?.peers.length ?? '?'),
      c == null ? '-' : String(c.txPackets), c == null ? '-' : formatBytes(c.txBytes),
      c == null ? '-' : String(c.rxPackets), c == null ? '-' : formatBytes(c.rxBytes), drops,
    ]
  })
  return [
    `Pod to pod over tartan (${o.backend}, ${o.nodes} nodes; RTT: UDP echo percentiles; throughput: one TCP stream)`,
    '',
    formatTable(['FROM', 'TO', 'RTT p50', 'RTT p90', 'RTT p99', 'LOSS', 'TCP THROUGHPUT'], pairRows, [2, 3, 4, 5, 6]),
    '',
    'Per node (tartan run counters, from GET /status)',
    '',
    formatTable(['NODE', 'PUBLIC IP', 'SUBNET', 'PEERS', 'TX PKTS', 'TX BYTES', 'RX PKTS', 'RX BYTES', 'DROPS'], nodeRows, [3, 4, 5, 6, 7, 8]),
  ].join('\n')
}

function keepInstructions(topo: Topology, pods: PodAddress[], dir: string): string {
  const tartan = programArgv('cli/main').map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')
  const h0 = topo.nodes[0]!
  return [
    'The cluster keeps running (--keep). From another terminal, as root:',
    `  ip netns exec ${h0.podNs} ping ${pods[1]!.podIp}                       # pod ${nodeName(0)} -> pod ${nodeName(1)}`,
    `  ip netns exec ${h0.hostNs} ${tartan} status     # ${nodeName(0)}'s lease, peers, counters`,
    `  ip netns exec ${h0.hostNs} curl -s http://127.0.0.1:${METRICS_PORT}/metrics           # Prometheus metrics`,
    `  cat ${join(dir, nodeName(0), 'subnet.env')}`,
    `Namespaces: ${topo.namespaces().join(' ')}`,
    'Press Ctrl-C to stop the nodes and remove everything.',
  ].join('\n')
}
