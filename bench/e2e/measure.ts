/**
 * The measurements, run pod to pod inside a Topology: iperf3 (TCP throughput, 64-byte UDP packet rate) and
 * sockperf (UDP ping-pong latency). Servers run in the server pod via topo.spawn; clients via topo.exec,
 * every one bounded by a timeout. Parsers are pure and exported for tests.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { ChildProcess } from 'node:child_process'
import { stopChild, type Topology, type TopologyNode } from '../../src/topology/index.js'

export const IPERF_PORT = 5201
export const SOCKPERF_PORT = 11111
/** Extra time a client gets beyond its test duration (connect, warm-up, result exchange). */
const CLIENT_SLACK_MS = 15_000

export interface TcpResult {
  bitsPerSecond: number
  bytes: number
  retransmits: number | null
  /** CPU seconds iperf3's client and server themselves used (their cpu_utilization_percent x duration). */
  endpointCpuSeconds: number | null
}

export interface UdpResult {
  /** Datagrams that arrived, per second. */
  deliveredPps: number
  lossPercent: number
  packets: number
}

export interface LatencyResult {
  /** One-way latency (RTT / 2, as sockperf reports it) in microseconds. */
  p50Us: number
  p99Us: number
  avgUs: number
  observations: number
}

/** Where a measurement runs: client pod -> server pod of one topology. */
export interface Endpoints {
  topo: Topology
  client: TopologyNode
  server: TopologyNode
}

/** The iperf3 and sockperf servers running in the server pod. */
export interface Servers {
  stop(): Promise<void>
}

/** Starts iperf3 and sockperf servers in the server pod and waits until both listen (at most 10 s). */
export async function startServers(ep: Endpoints): Promise<Servers> {
  const { topo, server } = ep
  const children: ChildProcess[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((c) => stopChild(c, 1_000)))
  }
  try {
    // --rcv-timeout: a client that dies mid-test must not wedge the server for the default 120 s.
    children.push(
      topo.spawn(server.podNs, ['iperf3', '-s', '-p', String(IPERF_PORT), '--rcv-timeout', '5000'], { stdio: 'ignore' }),
    )
    children.push(
      topo.spawn(server.podNs, ['sockperf', 'server', '-i', server.podIp, '-p', String(SOCKPERF_PORT)], { stdio: 'ignore' }),
    )
    await waitListening(topo, server.podNs, ['-t', `sport = :${IPERF_PORT}`], 10_000)
    await waitListening(topo, server.podNs, ['-u', `sport = :${SOCKPERF_PORT}`], 10_000)
  } catch (e) {
    await stop()
    throw e
  }
  return { stop }
}

async function waitListening(topo: Topology, ns: string, filter: readonly string[], timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const r = await topo.exec(ns, ['ss', '-H', '-l', '-n', ...filter], { timeoutMs: 2_000 })
    if (r.code === 0 && r.stdout.trim() !== '') return
    if (Date.now() > end) throw new Error(`no server listening on ${filter.join(' ')} in ${ns} after ${timeoutMs} ms`)
    await sleep(50)
  }
}

/** TCP throughput from client pod to server pod with `streams` parallel streams for durationS seconds. */
export async function tcpThroughput(ep: Endpoints, streams: number, durationS: number): Promise<TcpResult> {
  const argv = [...iperfClient(ep, durationS), '-P', String(streams)]
  return parseIperfTcp(await runIperf(ep, argv, durationS))
}

/** 64-byte UDP datagrams sent as fast as one iperf3 sender can (-b 0); reports what arrived. */
export async function udpSmallPackets(ep: Endpoints, durationS: number): Promise<UdpResult> {
  const argv = [...iperfClient(ep, durationS), '-u', '-l', '64', '-b', '0']
  return parseIperfUdp(await runIperf(ep, argv, durationS))
}

/** sockperf UDP ping-pong with 64-byte messages for durationS seconds; one-way latency percentiles. */
export async function latency(ep: Endpoints, durationS: number): Promise<LatencyResult> {
  const argv = ['sockperf', 'ping-pong', '-i', ep.server.podIp, '-p', String(SOCKPERF_PORT), '-m', '64', '-t', String(durationS)]
  const r = await ep.topo.exec(ep.client.podNs, argv, { timeoutMs: durationS * 1000 + CLIENT_SLACK_MS })
  const text = `${r.stdout}\n${r.stderr}`
  if (r.code !== 0 || r.timedOut) throw new Error(`sockperf failed (${r.timedOut ? 'timeout' : `exit ${r.code}`}): ${tail(text)}`)
  return parseSockperf(text)
}

function iperfClient(ep: Endpoints, durationS: number): string[] {
  return ['iperf3', '-c', ep.server.podIp, '-p', String(IPERF_PORT), '-t', String(durationS), '-J', '--connect-timeout', '3000']
}

async function runIperf(ep: Endpoints, argv: readonly string[], durationS: number): Promise<unknown> {
  const r = await ep.topo.exec(ep.client.podNs, argv, { timeoutMs: durationS * 1000 + CLIENT_SLACK_MS })
  let json: unknown = null
  try {
    json = JSON.parse(r.stdout)
  } catch {
    // fall through to the error below
  }
  const err = json !== null && typeof json === 'object' ? (json as { error?: unknown }).error : undefined
  if (r.code !== 0 || r.timedOut || json === null || typeof err === 'string') {
    const why = typeof err === 'string' ? err : tail(`${r.stdout}\n${r.stderr}`)
    throw new Error(`iperf3 failed (${r.timedOut ? 'timeout' : `exit ${r.code}`}): ${why}`)
  }
  return json
}

interface IperfSum {
  seconds?: number
  bytes?: number
  bits_per_second?: number
  retransmits?: number
  packets?: number
  lost_packets?: number
  lost_percent?: number
}

function endOf(json: unknown): { sum?: IperfSum; sum_sent?: IperfSum; sum_received?: IperfSum } {
  const end = (json as { end?: unknown } | null)?.end
  if (end === null || typeof end !== 'object') throw new Error('iperf3 JSON has no "end" section')
  return end as { sum?: IperfSum; sum_sent?: IperfSum; sum_received?: IperfSum }
}

/** Reads receiver-side TCP throughput from iperf3 -J output. */
export function parseIperfTcp(json: unknown): TcpResult {
  const end = endOf(json)
  const rx = end.sum_received
  if (rx === undefined || typeof rx.bits_per_second !== 'number' || typeof rx.bytes !== 'number') {
    throw new Error('iperf3 JSON has no end.sum_received for a TCP test')
  }
  const cpu = (end as { cpu_utilization_percent?: { host_total?: unknown; remote_total?: unknown } }).cpu_utilization_percent
  const seconds = typeof rx.seconds === 'number' ? rx.seconds : null
  const endpointCpuSeconds =
    cpu !== undefined && typeof cpu.host_total === 'number' && typeof cpu.remote_total === 'number' && seconds !== null
      ? ((cpu.host_total + cpu.remote_total) / 100) * seconds
      : null
  return {
    bitsPerSecond: rx.bits_per_second,
    bytes: rx.bytes,
    retransmits: typeof end.sum_sent?.retransmits === 'number' ? end.sum_sent.retransmits : null,
    endpointCpuSeconds,
  }
}

/** Reads delivered datagrams/s and loss from iperf3 -J UDP output (receiver's view). */
export function parseIperfUdp(json: unknown): UdpResult {
  const end = endOf(json)
  const rx = end.sum_received ?? end.sum
  if (rx === undefined || typeof rx.packets !== 'number' || typeof rx.lost_packets !== 'number' || typeof rx.seconds !== 'number') {
    throw new Error('iperf3 JSON has no packet counts for a UDP test')
  }
  const delivered = Math.max(0, rx.packets - Math.max(0, rx.lost_packets))
  return {
    deliveredPps: rx.seconds > 0 ? delivered / rx.seconds : 0,
    lossPercent: rx.packets > 0 ? (100 * Math.max(0, rx.lost_packets)) / rx.packets : 0,
    packets: rx.packets,
  }
}

/** Reads one-way latency percentiles (usec) from sockperf ping-pong output. */
export function parseSockperf(text: string): LatencyResult {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/\x1b\[[0-9;]*m/g, '')
  const pct = (p: string): number | null => {
    const m = new RegExp(`percentile ${p.replace('.', '\\.')} =\\s*([0-9.]+)`).exec(clean)
    return m === null ? null : Number(m[1])
  }
  const p50 = pct('50.000')
  const p99 = pct('99.000')
  const avg = /avg-latency=([0-9.]+)/.exec(clean)
  const obs = /Total (\d+) observations/.exec(clean)
  if (p50 === null || p99 === null || avg === null) throw new Error(`sockperf output has no percentiles: ${tail(clean)}`)
  return { p50Us: p50, p99Us: p99, avgUs: Number(avg[1]), observations: obs === null ? 0 : Number(obs[1]) }
}

function tail(s: string): string {
  const t = s.trim()
  return t.length > 400 ? `...${t.slice(-400)}` : t || '(no output)'
}
