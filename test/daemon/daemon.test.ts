/**
 * The Daemon (the Node API behind `tartan run`) in-process, its engines in the namespaces of a test
 * topology: start-up order and readiness, routes that follow leases, a lost lease, release on stop, and a
 * failed start that undoes itself.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { Daemon, type DaemonOptions } from '../../src/daemon/daemon.js'
import { SqliteLeaseStore } from '../../src/lease/sqlite-store.js'
import { Topology, type TopologyNode } from '../../src/topology/index.js'
import { e2eUnavailable } from '../helpers/two-node-suite.js'

const skip = e2eUnavailable() ?? false
const NETWORK = '{"Network":"10.244.0.0/16","Backend":{"Type":"udp"}}'

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

t.test('Daemon: two in-process nodes in namespaces', { skip }, async (t) => {
  const topo = await Topology.create({ nodes: 2 })
  t.teardown(() => topo.destroy())
  const dir = mkdtempSync(join(tmpdir(), 'tartan-daemon-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const options = (n: TopologyNode, extra: Partial<DaemonOptions> = {}): DaemonOptions => ({
    store: { kind: 'sqlite', path: join(dir, 'leases.db') },
    network: NETWORK,
    netns: n.netnsPath,
    underlay: { iface: 'eth0', bindAddress: n.underlayIp, publicIp: n.underlayIp, mtu: 1500 },
    subnetFile: join(dir, `node${n.index}`, 'subnet.env'),
    leaseTtlMs: 60_000,
    ...extra,
  })
  const [h0, h1] = topo.nodes as [TopologyNode, TopologyNode]

  const a = new Daemon(options(h0))
  t.teardown(() => a.stop())
  const order: string[] = []
  for (const e of ['lease-acquired', 'ready'] as const) a.on(e, () => order.push(e))
  await a.start()
  t.same(order, ['lease-acquired', 'ready'])
  t.equal(a.ready, true)
  const sa = a.status()
  t.match(sa, { ready: true, node: { publicIp: '198.18.0.1', backend: 'udp', port: 8285, mtu: 1472, tun: 'tartan0' }, store: { reachable: true } })
  t.match(readFileSync(options(h0).subnetFile!, 'utf8'), `FLANNEL_SUBNET=${sa.lease!.subnet.replace(/\.0\/24$/, '.1/24')}\n`)

  const b = new Daemon(options(h1))
  t.teardown(() => b.stop())
  const lost: string[] = []
  b.on('lease-lost', (e) => lost.push(e.code))
  await b.start()
  const sb = b.status()
  t.same(sb.routes, [sa.lease!.subnet], 'b routes to a')
  await until(() => a.status().routes.length === 1, 5000, 'a to route to b')
  t.same(a.status().peers.map((p) => p.publicIp), ['198.18.0.2'])

  t.test('a lost lease stops the node: routes withdrawn, TUN removed, lease-lost then stopped', async (t) => {
    const stopped = new Promise<void>((r) => b.once('stopped', r))
    const store = new SqliteLeaseStore({ path: join(dir, 'leases.db') })
    t.teardown(() => store.close())
    t.ok(await store.delete(b.lease!.key))
    await stopped
    t.same(lost, ['TARTAN_ERR_LEASE_LOST'])
    t.equal(b.ready, false)
    t.not((await topo.exec(h1.hostNs, ['ip', 'link', 'show', 'dev', 'tartan0'])).code, 0, 'TUN gone')
    await until(() => a.status().routes.length === 0, 5000, 'a to drop the route to b')
  })

  t.test('stop({ release: true }) frees the subnet at once', async (t) => {
    const subnet = a.lease!.key
    await a.stop({ release: true })
    const store = new SqliteLeaseStore({ path: join(dir, 'leases.db') })
    t.teardown(() => store.close())
    t.equal(await store.get(subnet), null)
  })

  t.test('a failed start undoes every step: no TUN, no subnet.env, no staging file; the error says why', async (t) => {
    await topo.ip(h0.hostNs, ['link', 'add', 'busy0', 'type', 'bridge'])
    const c = new Daemon(options(h0, { tunName: 'busy0', subnetFile: join(dir, 'fail', 'subnet.env') }))
    await t.rejects(c.start(), { code: 'TARTAN_ERR_TUN', message: /A link named busy0 exists and is not a TUN device/ })
    t.equal(c.ready, false)
    t.notOk(existsSync(join(dir, 'fail', 'subnet.env')))
    t.same(existsSync(join(dir, 'fail')) ? readdirSync(join(dir, 'fail')) : [], [], 'no staging file')
    await t.rejects(c.start(), { code: 'TARTAN_ERR_STATE' }, 'start runs once')
  })

  t.test('options a Daemon cannot honour are refused before anything is made', async (t) => {
    const d = new Daemon({ ...options(h0), underlay: undefined })
    await t.rejects(d.start(), { code: 'TARTAN_ERR_INVALID_ARGUMENT', message: /with netns, give the underlay explicitly/ })
    const e = new Daemon({ ...options(h0), backend: 'vxlan' })
    await t.rejects(e.start(), { code: 'TARTAN_ERR_INVALID_CONFIG', message: /uses backend udp, but this node was asked to run vxlan/ })
  })
})
