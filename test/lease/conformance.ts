/**
 * The LeaseStore conformance suite: the same specifications, run against the embedded (SQLite) store and
 * against a real etcd. Each test gets a fresh, empty store namespace from the harness; every "node" opens
 * its own client, as separate hosts would.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import { formatCidr, parseCidr } from '../../src/config/cidr.js'
import { type NetworkConfig, parseNetworkConfig } from '../../src/config/network-config.js'
import { type LeaseAttrs, leaseAttrsFor, subnetKey } from '../../src/lease/lease-codec.js'
import { LeaseManager, type LeaseTimingOptions } from '../../src/lease/lease-manager.js'
import type { LeaseStore, StoreWatch, WatchCallbacks, WatchResult } from '../../src/lease/lease-store.js'
import { Node } from '../../src/node/node.js'
import { FakeSink, waitUntil } from '../node/fake-sink.js'

export const fixture = (name: string) => readFileSync(new URL(`../fixtures/flannel/${name}`, import.meta.url), 'utf8')

export const NETWORK = '{"Network":"10.244.0.0/16","Backend":{"Type":"udp"}}'
export const udpConfig: NetworkConfig = parseNetworkConfig(NETWORK)
export const vxlanConfig: NetworkConfig = parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}')

/** Lease timing for tests: a 2 s TTL renewed 1 s ahead, failed renewals retried after 100 ms. */
export const SHORT: LeaseTimingOptions = { ttlMs: 2000, renewMarginMs: 1000, retryMs: 100 }

export interface StoreHarness {
  readonly name: string
  /** A new client of this test's store (as another host would open). Closed in teardown. */
  open(): LeaseStore
  /** Discards history below `revision`. */
  compact(revision: number): Promise<void>
  /** Writes raw bytes under the subnets prefix (as another program, e.g. flanneld, would). */
  putRaw(key: string, value: string): Promise<void>
  /** Reads the raw value stored under the subnets prefix. */
  getRaw(key: string): Promise<string | undefined>
  /** The full store key of a subnet key, where the store has one (etcd), else null. */
  fullKey(key: string): string | null
  /** Warnings the stores logged. */
  readonly warnings: string[]
}

export type HarnessFactory = (t: Test, options?: { prefix?: string }) => Promise<StoreHarness>

const net = (s: string) => {
  const c = parseCidr(s)
  if (!c.ok) throw new Error(c.reason)
  return c.net
}
const ip = (n: number) => `198.18.${Math.floor(n / 250)}.${(n % 250) + 1}`

interface RunningNode {
  node: Node
  sink: FakeSink
  store: LeaseStore
}

async function startNode(
  t: Test,
  h: StoreHarness,
  o: { publicIp: string; config?: NetworkConfig; vtepMac?: string; lease?: LeaseTimingOptions; subnetFile?: string; store?: LeaseStore },
): Promise<RunningNode> {
  const store = o.store ?? h.open()
  const sink = new FakeSink()
  const node = new Node({
    store,
    sink,
    publicIp: o.publicIp,
    vtepMac: o.vtepMac,
    config: o.config,
    lease: o.lease,
    subnetFile: o.subnetFile,
    mtu: o.subnetFile === undefined ? undefined : 1472,
  })
  t.teardown(() => node.stop())
  await node.start()
  return { node, sink, store }
}

/** A store whose watches only start once release() is called: the watcher falls behind meanwhile. */
class GatedStore implements LeaseStore {
  private open!: () => void
  private readonly gate = new Promise<void>((r) => (this.open = r))
  constructor(private readonly inner: LeaseStore) {}
  get description() {
    return this.inner.description
  }
  release() {
    this.open()
  }
  getNetworkConfig() {
    return this.inner.getNetworkConfig()
  }
  putNetworkConfig(json: string) {
    return this.inner.putNetworkConfig(json)
  }
  list() {
    return this.inner.list()
  }
  get(key: string) {
    return this.inner.get(key)
  }
  create(key: string, attrs: LeaseAttrs, ttlMs: number) {
    return this.inner.create(key, attrs, ttlMs)
  }
  update(key: string, attrs: LeaseAttrs, ttlMs: number, rev: number) {
    return this.inner.update(key, attrs, ttlMs, rev)
  }
  delete(key: string, rev?: number) {
    return this.inner.delete(key, rev)
  }
  watch(from: number, cb: WatchCallbacks): StoreWatch {
    let real: StoreWatch | undefined
    let closed = false
    void this.gate.then(() => {
      if (!closed) real = this.inner.watch(from, cb)
    })
    return {
      close: async () => {
        closed = true
        await real?.close()
      },
    }
  }
  stats() {
    return this.inner.stats()
  }
  close() {
    return this.inner.close()
  }
}

/** Collects watch results until `pred` holds for them. */
function collect(store: LeaseStore, from: number) {
  const results: WatchResult[] = []
  const w = store.watch(from, { onResult: (r) => results.push(r) })
  return { results, close: () => w.close() }
}

export function conformance(t: Test, makeHarness: HarnessFactory): void {
  t.test('create is create-if-absent, update is compare-and-swap, delete honours the revision', async (t) => {
    const h = await makeHarness(t)
    const s = h.open()
    const a = leaseAttrsFor(udpConfig, '198.18.0.1')
    const first = await s.create('10.244.1.0-24', a, 60_000)
    t.ok(first, 'created')
    t.equal(await s.create('10.244.1.0-24', { ...a, publicIp: '198.18.0.2' }, 60_000), null, 'second create refused')
    const got = await s.get('10.244.1.0-24')
    t.equal(got?.attrs.publicIp, '198.18.0.1', 'the first writer holds it')
    t.ok(got!.expiresAt! > Date.now() + 50_000, 'get reports the expiry')
    t.equal(await s.update('10.244.1.0-24', a, 60_000, first!.revision - 1), null, 'stale revision refused')
    const renewed = await s.update('10.244.1.0-24', a, 60_000, first!.revision)
    t.ok(renewed && renewed.revision > first!.revision, 'renewed at a new revision')
    t.equal(await s.update('10.244.9.0-24', a, 60_000, 1), null, 'absent key refused')
    t.equal(await s.delete('10.244.1.0-24', first!.revision), false, 'delete at a stale revision refused')
    t.equal(await s.delete('10.244.1.0-24', renewed!.revision), true)
    t.equal(await s.get('10.244.1.0-24'), null)
    t.equal(await s.delete('10.244.1.0-24'), false, 'nothing left to delete')
    const list = await s.list()
    t.same(list.leases, [])
    t.ok(list.revision >= renewed!.revision + 1, 'the list revision covers the delete')
    await t.rejects(s.create('not-a-key', a, 1000), { code: 'TARTAN_ERR_INVALID_ARGUMENT' })
    t.same(await s.getNetworkConfig(), udpConfig, 'the network config reads back')
  })

  t.test('watch delivers puts and deletes in revision order', async (t) => {
    const h = await makeHarness(t)
    const s = h.open()
    const start = (await s.list()).revision
    const w = collect(s, start + 1)
    t.teardown(w.close)
    const a = leaseAttrsFor(udpConfig, '198.18.0.1')
    await s.create('10.244.1.0-24', a, 60_000)
    await s.create('10.244.2.0-24', { ...a, publicIp: '198.18.0.2' }, 60_000)
    await s.delete('10.244.1.0-24')
    await waitUntil(() => w.results.flatMap((r) => (r.kind === 'events' ? r.events : [])).length >= 3, 2000, 'three events')
    const events = w.results.flatMap((r) => (r.kind === 'events' ? r.events : []))
    t.same(
      events.map((e) => [e.type, e.type === 'put' ? e.lease.key : e.key]),
      [
        ['put', '10.244.1.0-24'],
        ['put', '10.244.2.0-24'],
        ['delete', '10.244.1.0-24'],
      ],
    )
    const revs = events.map((e) => (e.type === 'put' ? e.lease.revision : e.revision))
    t.same(revs, [...revs].sort((x, y) => x - y), 'increasing revisions')
    t.equal(events[1]!.type === 'put' && events[1]!.lease.attrs.publicIp, '198.18.0.2')
  })

  t.test('50 managers acquiring at once get 50 distinct subnets', async (t) => {
    const h = await makeHarness(t)
    const managers = Array.from({ length: 50 }, (_, i) => {
      const m = new LeaseManager({ store: h.open(), config: udpConfig, attrs: leaseAttrsFor(udpConfig, ip(i)) })
      t.teardown(() => m.stop())
      return m
    })
    const leases = await Promise.all(managers.map((m) => m.start()))
    const subnets = new Set(leases.map((l) => formatCidr(l.subnet)))
    t.equal(subnets.size, 50, 'all distinct')
    for (const l of leases) {
      t.ok(l.subnet.len === 24 && l.subnet.addr >= udpConfig.subnetMin && l.subnet.addr <= udpConfig.subnetMax, `${formatCidr(l.subnet)} in range`)
    }
    const listed = await h.open().list()
    t.equal(listed.leases.length, 50, 'the store holds exactly 50 leases')
    t.same(new Set(listed.leases.map((l) => l.attrs.publicIp)).size, 50, 'one per node')
    await waitUntil(() => managers.every((m) => m.peers.size === 49), 5000, 'every manager to see 49 peers')
    t.pass('every manager sees the 49 others')
  })

  t.test("a short TTL expires and the peer disappears from the others' routes within 2 s", async (t) => {
    const h = await makeHarness(t)
    const observer = await startNode(t, h, { publicIp: '198.18.0.1', lease: SHORT })
    const victim = await startNode(t, h, { publicIp: '198.18.0.2', lease: SHORT })
    const subnet = formatCidr(victim.node.lease!.subnet)
    await waitUntil(() => observer.sink.routes.has(subnet), 1000, 'the observer to route to the victim')
    let expiresAt = victim.node.lease!.expiresAt!
    victim.node.on('lease-renewed', (l) => (expiresAt = l.expiresAt!))
    await victim.node.manager!.stop() // the victim dies: no more renewals, lease left behind
    const gone = await waitUntil(() => !observer.sink.routes.has(subnet), 6000, 'the victim route to disappear')
    t.ok(gone - expiresAt <= 2000, `route gone ${gone - expiresAt} ms after the lease expired (<= 2000)`)
    t.ok(gone >= expiresAt - 1000, 'not before the lease expired')
    t.equal(observer.node.manager!.peers.size, 0)
    t.ok(observer.node.lease, 'the observer keeps its own lease')
  })

  t.test('renewals keep a lease alive past several TTLs', async (t) => {
    const h = await makeHarness(t)
    const a = await startNode(t, h, { publicIp: '198.18.0.1', lease: SHORT })
    const b = await startNode(t, h, { publicIp: '198.18.0.2', lease: SHORT })
    const lost: unknown[] = []
    a.node.on('lease-lost', (e) => lost.push(e))
    const first = a.node.lease!
    await new Promise((r) => setTimeout(r, 3.2 * SHORT.ttlMs!)) // more than three TTLs
    t.same(lost, [], 'no lease lost')
    t.ok(a.node.manager!.stats().renewals >= 3, `renewed ${a.node.manager!.stats().renewals} times`)
    t.equal(formatCidr(a.node.lease!.subnet), formatCidr(first.subnet), 'same subnet')
    const stored = await h.open().get(first.key)
    t.equal(stored?.attrs.publicIp, '198.18.0.1', 'still in the store')
    t.ok(b.sink.routes.has(formatCidr(first.subnet)), 'still routed by the peer')
  })

  t.test('watch delivers add/remove within 1 s', async (t) => {
    const h = await makeHarness(t)
    const b = await startNode(t, h, { publicIp: '198.18.0.1' })
    const a = await startNode(t, h, { publicIp: '198.18.0.2' })
    const joined = Date.now()
    const subnet = formatCidr(a.node.lease!.subnet)
    const added = await waitUntil(() => b.sink.routes.has(subnet), 3000, 'add')
    t.ok(added - joined <= 1000, `added after ${added - joined} ms`)
    t.same(b.sink.routes.get(subnet), { publicIp: '198.18.0.2', port: 8285, subnet })
    const left = Date.now()
    await a.node.stop({ release: true })
    const removed = await waitUntil(() => !b.sink.routes.has(subnet), 3000, 'remove')
    t.ok(removed - left <= 1000, `removed after ${removed - left} ms`)
  })

  t.test('a compacted revision yields a snapshot and the peer view stays correct', async (t) => {
    const h = await makeHarness(t)
    const admin = h.open()
    const a = leaseAttrsFor(udpConfig, '198.18.0.9')
    await admin.create('10.244.1.0-24', a, 60_000)
    const old = (await admin.list()).revision
    await admin.delete('10.244.1.0-24')
    await admin.create('10.244.2.0-24', a, 60_000)
    const now = (await admin.list()).revision
    await h.compact(now)
    const w = collect(admin, old + 1)
    t.teardown(w.close)
    await waitUntil(() => w.results.length > 0, 3000, 'a watch result')
    const r = w.results[0]!
    t.equal(r.kind, 'snapshot', 'watching from before the compaction gives a snapshot')
    if (r.kind === 'snapshot') t.same(r.leases.map((l) => l.key), ['10.244.2.0-24'])
    t.ok(admin.stats().watchResets >= 1, 'counted')
    await admin.create('10.244.3.0-24', a, 60_000)
    await waitUntil(() => w.results.some((x) => x.kind === 'events'), 2000, 'events after the snapshot')

    // A node whose watch falls behind a compaction: its routes converge on the store's leases.
    const gated = new GatedStore(h.open())
    const peer1 = await startNode(t, h, { publicIp: '198.18.0.1' })
    const b = await startNode(t, h, { publicIp: '198.18.0.2', store: gated })
    const s1 = formatCidr(peer1.node.lease!.subnet)
    t.ok(b.sink.routes.has(s1), 'initial view from the list')
    await peer1.node.stop({ release: true })
    const peer3 = await startNode(t, h, { publicIp: '198.18.0.3' })
    const s3 = formatCidr(peer3.node.lease!.subnet)
    await h.compact((await admin.list()).revision)
    gated.release()
    await waitUntil(() => b.sink.routes.has(s3) && !b.sink.routes.has(s1), 3000, 'the view to converge')
    t.ok(b.node.manager!.stats().snapshots >= 1, 'through a snapshot')
    const live = (await admin.list()).leases.filter((l) => l.key !== b.node.lease!.key).map((l) => formatCidr(l.subnet))
    t.same(b.sink.subnets(), live.sort(), 'exactly the live leases')
    t.ok(b.node.lease, 'b keeps its lease')
  })

  t.test('garbage values under the subnets prefix are skipped and counted with a warning, never a crash', async (t) => {
    const h = await makeHarness(t)
    await h.putRaw('10.244.50.0-24', 'not json')
    const observer = await startNode(t, h, { publicIp: '198.18.0.1' })
    await h.putRaw('junk', '{"PublicIP":"198.18.0.66"}')
    await h.putRaw('10.244.51.0-24', '{"PublicIP":"198.18.0"}')
    await h.putRaw('10.244.52.7-24', '{"PublicIP":"198.18.0.52"}')
    const good = await startNode(t, h, { publicIp: '198.18.0.2' })
    const s = formatCidr(good.node.lease!.subnet)
    await waitUntil(() => observer.sink.routes.has(s), 2000, 'the good peer after the garbage')
    t.same(observer.sink.subnets(), [s], 'garbage never becomes a route')
    const list = await observer.store.list()
    t.same(list.leases.map((l) => l.attrs.publicIp).sort(), ['198.18.0.1', '198.18.0.2'])
    t.ok(observer.store.stats().garbageSkipped >= 4, `counted ${observer.store.stats().garbageSkipped}`)
    t.ok(h.warnings.some((w) => w.includes('10.244.50.0-24') && w.includes('not JSON')), 'warned, naming the key')
    t.notOk(good.node.lease!.key === '10.244.50.0-24', 'a garbage entry still occupies its key')
  })

  t.test("a flannel node's lease is read and routed; tartan's own lease is flannel's bytes", async (t) => {
    const h = await makeHarness(t, { prefix: '/coreos.com/network' })
    const rel = (k: string) => k.slice('/coreos.com/network/subnets/'.length)

    // tartan writing the fixtures' leases: the same keys, the same bytes.
    for (const [kind, config, mac] of [['udp', udpConfig, undefined], ['vxlan', vxlanConfig, '0e:5a:44:c3:1f:08']] as const) {
      const key = rel(fixture(`lease-${kind}.key`))
      const m = new LeaseManager({
        store: h.open(),
        config,
        attrs: leaseAttrsFor(config, kind === 'udp' ? '198.18.0.7' : '198.18.0.8', mac),
        previousSubnet: net(key.replace('-', '/')),
      })
      t.teardown(() => m.stop())
      const l = await m.start()
      t.equal(l.key, key, `${kind}: the key flannel would use`)
      const full = h.fullKey(l.key)
      if (full !== null) t.equal(full, fixture(`lease-${kind}.key`), `${kind}: the full etcd key`)
      t.equal(await h.getRaw(l.key), fixture(`lease-${kind}.json`), `${kind}: value bytes equal flannel's`)
      await m.stop({ release: true })
    }

    // Leases written by flannel nodes.
    for (const f of ['udp', 'vxlan', 'dualstack', 'hostgw']) await h.putRaw(rel(fixture(`lease-${f}.key`)), fixture(`lease-${f}.json`))
    const vx = await startNode(t, h, { publicIp: '198.18.0.20', config: vxlanConfig, vtepMac: '0e:5a:44:c3:1f:20' })
    t.same(vx.sink.subnets(), ['10.244.8.0/24', '10.244.9.0/24'], 'vxlan node routes the vxlan peers only')
    t.same(vx.sink.routes.get('10.244.8.0/24'), { publicIp: '198.18.0.8', port: 8472, subnet: '10.244.8.0/24', vtepMac: '0e:5a:44:c3:1f:08' })
    t.same(vx.sink.routes.get('10.244.9.0/24')?.vtepMac, '0e:5a:44:c3:1f:09', 'the dual-stack lease by its IPv4 part')
    t.same(vx.node.ignored().otherBackend, 2, 'the udp and host-gw leases are ignored')
    const udp = await startNode(t, h, { publicIp: '198.18.0.21', config: udpConfig })
    t.same(udp.sink.subnets(), ['10.244.7.0/24'], 'udp node routes the flannel udp lease (no BackendType)')
    t.same(udp.sink.routes.get('10.244.7.0/24'), { publicIp: '198.18.0.7', port: 8285, subnet: '10.244.7.0/24' })
  })

  t.test('a node restarted with its subnet.env gets the same subnet back', async (t) => {
    const h = await makeHarness(t)
    const dir = t.testdir()
    const subnetFile = join(dir, 'subnet.env')
    // Other nodes hold some subnets so a random pick would rarely coincide.
    for (let i = 0; i < 5; i++) await startNode(t, h, { publicIp: ip(100 + i) })
    const first = await startNode(t, h, { publicIp: '198.18.0.1', subnetFile })
    const subnet = formatCidr(first.node.lease!.subnet)
    t.match(readFileSync(subnetFile, 'utf8'), `FLANNEL_SUBNET=${subnet.replace(/0\/24$/, '1/24')}\n`)
    await first.node.stop({ release: true }) // gone from the store: only subnet.env remembers
    t.equal(await h.open().get(subnetKey(net(subnet))), null)
    const again = await startNode(t, h, { publicIp: '198.18.0.1', subnetFile })
    t.equal(formatCidr(again.node.lease!.subnet), subnet, 'same subnet from subnet.env')
    // Restarted without releasing (a crash): found again by PublicIP, even with no subnet.env.
    await again.node.manager!.stop()
    const third = await startNode(t, h, { publicIp: '198.18.0.1' })
    t.equal(formatCidr(third.node.lease!.subnet), subnet, 'same subnet by PublicIP')
  })

  t.test('a deleted own lease is lost: routes withdrawn, TARTAN_ERR_LEASE_LOST reported', async (t) => {
    const h = await makeHarness(t)
    const a = await startNode(t, h, { publicIp: '198.18.0.1', lease: SHORT })
    const b = await startNode(t, h, { publicIp: '198.18.0.2', lease: SHORT })
    await waitUntil(() => a.sink.routes.size === 1, 1000, 'a to route to b')
    const lost = new Promise<Error & { code?: string }>((resolve) => a.node.once('lease-lost', resolve))
    const key = a.node.lease!.key
    await h.open().delete(key)
    const err = await lost
    t.equal(err.code, 'TARTAN_ERR_LEASE_LOST')
    t.match(err.message, 'deleted or expired')
    t.equal(a.sink.routes.size, 0, 'a stopped forwarding')
    t.equal(a.node.lease, null)
    await waitUntil(() => b.sink.routes.size === 0, 1000, 'b to drop a')
    // The key taken over by another node is lost too.
    const c = await startNode(t, h, { publicIp: '198.18.0.3', lease: SHORT })
    const lostC = new Promise<Error & { code?: string }>((resolve) => c.node.once('lease-lost', resolve))
    const s = h.open()
    const cur = (await s.get(c.node.lease!.key))!
    await s.delete(cur.key, cur.revision)
    await s.create(cur.key, leaseAttrsFor(udpConfig, '198.18.0.99'), 60_000)
    const e2 = await lostC
    t.equal(e2.code, 'TARTAN_ERR_LEASE_LOST')
  })
}

