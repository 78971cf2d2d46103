import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { formatCidr } from '../../src/config/cidr.js'
import { parseNetworkConfig } from '../../src/config/network-config.js'
import { leaseAttrsFor } from '../../src/lease/lease-codec.js'
import type { LeaseStore } from '../../src/lease/lease-store.js'
import { SqliteLeaseStore } from '../../src/lease/sqlite-store.js'
import { Node, type NodeOptions } from '../../src/node/node.js'
import { FakeSink, waitUntil } from './fake-sink.js'

const vxlan = parseNetworkConfig({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan', VNI: 1 } })

function setup(t: Test, configJson = JSON.stringify({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } })) {
  const dir = mkdtempSync(join(tmpdir(), 'tartan-node-'))
  const stores: LeaseStore[] = []
  const open = () => {
    const s = new SqliteLeaseStore({ path: join(dir, 'leases.db'), pollIntervalMs: 20, logger: { warn: () => undefined } })
    stores.push(s)
    return s
  }
  const nodes: Node[] = []
  const node = (o: Partial<NodeOptions> & { publicIp: string }) => {
    const sink = new FakeSink()
    const n = new Node({ store: open(), sink, vtepMac: 'aa:bb:cc:00:00:01', ...o })
    nodes.push(n)
    return { node: n, sink }
  }
  t.teardown(async () => {
    for (const n of nodes) await n.stop()
    for (const s of stores) await s.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const ready = open().putNetworkConfig(configJson)
  return { dir, open, node, ready }
}

t.test('the config is read from the store; events are forwarded; subnet.env is written', async (t) => {
  const { dir, node, ready } = setup(t)
  await ready
  const subnetFile = join(dir, 'run', 'subnet.env')
  const { node: n } = node({ publicIp: '198.18.0.1', subnetFile, mtu: 1450, ipMasq: true })
  const acquired: string[] = []
  n.on('lease-acquired', (l) => acquired.push(l.key))
  const lease = await n.start()
  t.same(n.config, vxlan)
  t.same(acquired, [lease.key])
  const first = formatCidr({ addr: lease.subnet.addr + 1, len: 24 })
  t.equal(readFileSync(subnetFile, 'utf8'), `FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=${first}\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n`)
})

t.test("a peer's changed lease is one atomic update: remove and add of its subnet", async (t) => {
  const { node, open, ready } = setup(t)
  await ready
  const { node: n, sink } = node({ publicIp: '198.18.0.1' })
  await n.start()
  const admin = open()
  const p = (await admin.create('10.244.9.0-24', leaseAttrsFor(vxlan, '198.18.0.9', 'aa:bb:cc:00:00:09'), 60_000))!
  await waitUntil(() => sink.routes.has('10.244.9.0/24'), 1000, 'the peer')
  const before = sink.updates.length
  await admin.update(p.key, leaseAttrsFor(vxlan, '198.18.0.9', 'aa:bb:cc:00:00:99'), 60_000, p.revision)
  await waitUntil(() => sink.routes.get('10.244.9.0/24')?.vtepMac === 'aa:bb:cc:00:00:99', 1000, 'the new MAC')
  t.equal(sink.updates.length, before + 1, 'one update')
  t.same(sink.updates.at(-1)!.remove, ['10.244.9.0/24'])
  t.same(sink.updates.at(-1)!.add, [{ publicIp: '198.18.0.9', port: 8472, subnet: '10.244.9.0/24', vtepMac: 'aa:bb:cc:00:00:99' }])
  // A peer switching to another backend is withdrawn.
  const cur = (await admin.get(p.key))!
  await admin.update(p.key, { publicIp: '198.18.0.9', publicIpv6: null, backendType: 'host-gw' }, 60_000, cur.revision)
  await waitUntil(() => !sink.routes.has('10.244.9.0/24'), 1000, 'withdrawn')
  t.equal(n.ignored().otherBackend, 1)
})

t.test('leases that must not become routes are ignored and counted', async (t) => {
  const { node, open, ready } = setup(t)
  await ready
  const { node: n, sink } = node({ publicIp: '198.18.0.1' })
  const own = await n.start()
  const admin = open()
  const attrs = (ip: string) => leaseAttrsFor(vxlan, ip, 'aa:bb:cc:00:00:02')
  await admin.create('10.245.1.0-24', attrs('198.18.0.2'), 60_000) // outside 10.244.0.0/16
  await admin.create('10.0.0.0-8', attrs('198.18.0.3'), 60_000) // contains the whole network
  await admin.create(`${formatCidr({ addr: own.subnet.addr, len: 25 }).replace('/', '-')}`, attrs('198.18.0.4'), 60_000) // inside ours
  await admin.create('10.244.250.0-24', { ...attrs('198.18.0.5'), backendData: { VNI: 1 } }, 60_000) // no VtepMAC
  await admin.create('10.244.251.0-24', attrs('198.18.0.6'), 60_000) // fine
  await waitUntil(() => sink.routes.has('10.244.251.0/24'), 1000, 'the good peer')
  t.same(sink.subnets(), ['10.244.251.0/24'])
  t.same(n.ignored(), { otherBackend: 0, outsideNetwork: 2, overlapsOwn: 1, badBackendData: 1 })
  t.equal(n.manager!.peers.size, 5, 'the manager still reports every lease')
})

t.test('routes are withdrawn before anyone hears of a lost lease, and on stop', async (t) => {
  const { node, open, ready } = setup(t)
  await ready
  const a = node({ publicIp: '198.18.0.1' })
  const b = node({ publicIp: '198.18.0.2' })
  await a.node.start()
  await b.node.start()
  await waitUntil(() => a.sink.routes.size === 1 && b.sink.routes.size === 1, 1000, 'both routed')
  let routesAtLoss = -1
  a.node.on('lease-lost', () => (routesAtLoss = a.sink.routes.size))
  await open().delete(a.node.lease!.key)
  await waitUntil(() => routesAtLoss >= 0, 1000, 'lease-lost')
  t.equal(routesAtLoss, 0)
  t.same(a.node.routes(), [])
  await b.node.stop()
  t.equal(b.sink.routes.size, 0, 'stop withdraws routes')
})

t.test('an unwritable subnet.env fails start with TARTAN_ERR_SUBNET_FILE and no routes', async (t) => {
  const { dir, node, ready, open } = setup(t)
  await ready
  const peer = node({ publicIp: '198.18.0.2' })
  await peer.node.start()
  writeFileSync(join(dir, 'afile'), '')
  const { node: n, sink } = node({ publicIp: '198.18.0.1', subnetFile: join(dir, 'afile', 'subnet.env'), mtu: 1450 })
  await t.rejects(n.start(), { code: 'TARTAN_ERR_SUBNET_FILE' })
  t.equal(sink.routes.size, 0)
  t.equal((await open().list()).leases.length, 2, 'the lease is kept for a retry (found again by PublicIP)')
})

t.test('options are checked', async (t) => {
  const { node } = setup(t)
  t.throws(() => node({ publicIp: '198.18.0.1', subnetFile: '/tmp/x.env' }), { code: 'TARTAN_ERR_INVALID_ARGUMENT', message: /mtu/ })
  const { node: n } = node({ publicIp: '198.18.0.1', config: vxlan, vtepMac: undefined })
  await t.rejects(n.start(), { code: 'TARTAN_ERR_INVALID_ARGUMENT', message: /VTEP MAC/ })
  await t.rejects(n.start(), { code: 'TARTAN_ERR_STATE' })
})
