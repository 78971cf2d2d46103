/**
 * The embedding examples run as documented (docs/api.md), inside a namespace of a test topology.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { PACKAGE_ROOT } from '../../src/demo/entry.js'
import { Topology } from '../../src/topology/index.js'
import { e2eUnavailable } from '../helpers/two-node-suite.js'
import { linesOf } from '../helpers/lines.js'

const skip = e2eUnavailable() ?? false
const node = (file: string) => [process.execPath, '--import', 'tsx', join(PACKAGE_ROOT, 'examples', file)]

t.test('examples/embed.ts: create, add peers, send, hear about the unreachable one, remove, stop', { skip }, async (t) => {
  const topo = await Topology.create({ nodes: 1 })
  t.teardown(() => topo.destroy())
  const h0 = topo.nodes[0]!
  const r = await topo.exec(h0.hostNs, [...node('embed.ts'), h0.underlayIp], { timeoutMs: 30_000 })
  t.equal(r.code, 0, r.stderr)
  const steps = Object.fromEntries(r.stdout.trim().split('\n').map((l) => JSON.parse(l)).map((s) => [s.step, s]))
  t.match(steps.created, { tun: 'tartan-ex0', mtu: 1450 })
  t.same(steps.peers.peers, ['10.244.2.0/24 via 198.18.0.2', '10.244.9.0/24 via 198.19.255.1'])
  t.match(steps['peer-unreachable'].event, { publicIp: '198.19.255.1', subnet: '10.244.9.0/24', errno: 101, error: 'ENETUNREACH (network unreachable)' })
  t.same(steps.counters.peers, [
    { peer: '198.18.0.2', txPackets: 1, txErrors: 0 },
    { peer: '198.19.255.1', txPackets: 1, txErrors: 1 },
  ])
  t.same(steps.removed, { step: 'removed', removed: true, routes: 1 })
  t.ok(steps.stopped)
  t.not((await topo.exec(h0.hostNs, ['ip', 'link', 'show', 'dev', 'tartan-ex0'])).code, 0, 'the TUN device is gone')
})

t.test('examples/daemon.ts: two embedded nodes find each other; SIGTERM stops them cleanly', { skip }, async (t) => {
  const topo = await Topology.create({ nodes: 2 })
  t.teardown(() => topo.destroy())
  const dir = mkdtempSync(join(tmpdir(), 'tartan-example-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // Both share the embedded store (one SQLite file); subnet.env is per node.
  const start = (i: number) => {
    const subnetFile = join(dir, `n${i}`, 'subnet.env')
    const child = topo.spawn(topo.nodes[i]!.hostNs, [...node('daemon.ts'), join(dir, 'leases.db'), subnetFile, 'eth0'], { stdio: ['ignore', 'pipe', 'pipe'] })
    return { child, lines: linesOf(child), subnetFile }
  }
  const a = start(0)
  const ra = await a.lines.next((m) => m.event === 'ready', 20_000)
  t.match(ra.status, { ready: true, node: { publicIp: '198.18.0.1', backend: 'vxlan', tun: 'tartan-ex0' } })
  t.match(readFileSync(a.subnetFile, 'utf8'), /^FLANNEL_NETWORK=10\.244\.0\.0\/16\n/)
  const b = start(1)
  const rb = await b.lines.next((m) => m.event === 'ready', 20_000)
  t.same(rb.status.peers.map((p: { publicIp: string }) => p.publicIp), ['198.18.0.1'], 'the second node routes to the first')
  const joined = await a.lines.next((m) => m.event === 'peer-added', 10_000)
  t.equal(joined.publicIp, '198.18.0.2', 'the first hears about the second')
  for (const n of [a, b]) {
    const exited = new Promise((r) => n.child.once('exit', (code) => r(code)))
    n.child.kill('SIGTERM')
    await n.lines.next((m) => m.event === 'stopped', 10_000)
    t.equal(await exited, 0)
  }
})
