/**
 * Driving the real `tartan` CLI in a test topology: a temporary state directory, `tartan run` processes per
 * host namespace (from source), HTTP from inside a namespace, and the checks that a node left nothing
 * behind. Everything is removed in t's teardown, also when the test fails.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { programArgv } from '../../src/demo/entry.js'
import { httpGetInNetns } from '../../src/demo/netns-http.js'
import { NodeProcess } from '../../src/demo/node-process.js'
import { Topology, type TopologyNode } from '../../src/topology/index.js'
import { parsePrometheusText, type Family } from './prom-text.js'

export { NodeProcess, httpGetInNetns }

export interface CliCluster {
  topo: Topology
  /** The state directory: leases.db and node<i>/subnet.env live here. */
  dir: string
  subnetFile(n: TopologyNode): string
  /** Starts `tartan run` on host n with the common flags (store, iface, subnet file) plus `extra`. */
  start(n: TopologyNode, extra?: string[]): NodeProcess
}

/** Builds a topology of `nodes` hosts and a state directory, both removed in teardown. */
export async function cliCluster(t: Test, nodes: number, common: (n: TopologyNode, dir: string) => string[]): Promise<CliCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'tartan-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const topo = await Topology.create({ nodes })
  t.teardown(() => topo.destroy())
  const subnetFile = (n: TopologyNode): string => join(dir, `node${n.index}`, 'subnet.env')
  return {
    topo,
    dir,
    subnetFile,
    start: (n, extra = []) => NodeProcess.spawn(topo, n.hostNs, [...common(n, dir), `--subnet-file=${subnetFile(n)}`, ...extra]),
  }
}

/** Runs the tartan CLI once in namespace `ns` and resolves with its exit code and output. */
export async function tartanOnce(topo: Topology, ns: string, args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await topo.exec(ns, [...programArgv('cli/main'), ...args], { timeoutMs })
  return { code: r.code, stdout: r.stdout, stderr: r.stderr }
}

/** GET /metrics from inside ns, parsed (and so validated) as Prometheus text. */
export async function scrape(topo: Topology, ns: string, port = 8286): Promise<Map<string, Family>> {
  const r = await httpGetInNetns(topo, ns, `http://127.0.0.1:${port}/metrics`)
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`)
  return parsePrometheusText(r.body)
}

/** Polls GET path in ns until it answers `status`; resolves with the attempts made. */
export async function waitForHttp(topo: Topology, ns: string, url: string, status: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      if ((await httpGetInNetns(topo, ns, url, 1000)).status === status) return
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} in ${ns} did not answer ${status} within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** What a stopped or failed node may not leave behind in host namespace ns. */
export async function leftovers(topo: Topology, ns: string, tun = 'tartan0'): Promise<{ tun: boolean; nftTables: string[] }> {
  const link = await topo.exec(ns, ['ip', 'link', 'show', 'dev', tun])
  const nft = await topo.exec(ns, ['nft', 'list', 'tables'])
  return { tun: link.code === 0, nftTables: nft.stdout.split('\n').filter((l) => l.includes('tartan')) }
}

/** Files in the subnet.env directory other than subnet.env itself (staging files must not survive). */
export function strayFiles(subnetFile: string): string[] {
  const d = join(subnetFile, '..')
  return existsSync(d) ? readdirSync(d).filter((f) => f !== 'subnet.env') : []
}

/** Pings `to` from pod namespace `ns` (3 packets); resolves with the exit code and output. */
export async function ping(topo: Topology, ns: string, to: string): Promise<{ code: number | null; out: string }> {
  const r = await topo.exec(ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', to], { timeoutMs: 15_000 })
  return { code: r.code, out: r.stdout + r.stderr }
}

/** Sends `count` UDP datagrams of `size` bytes from pod namespace ns to to:port; resolves when sent. */
export async function sendUdp(topo: Topology, ns: string, to: string, port: number, count: number, size: number): Promise<void> {
  const script = `
const s = require('node:dgram').createSocket('udp4'); const b = Buffer.alloc(${size}, 7); let n = 0;
const next = () => n++ < ${count} ? s.send(b, ${port}, '${to}', next) : s.close(); next();`
  const r = await topo.exec(ns, [process.execPath, '-e', script], { timeoutMs: 15_000 })
  if (r.code !== 0) throw new Error(`sending UDP from ${ns} failed: ${r.stderr}`)
}
