import t from 'tap'
import { formatCidr } from '../../src/config/cidr.js'
import { EtcdLeaseStore } from '../../src/lease/etcd-store.js'
import type { LeaseTimingOptions } from '../../src/lease/lease-manager.js'
import { Node } from '../../src/node/node.js'
import { etcdSkip, startEtcd } from '../helpers/etcd.js'
import { NETWORK } from '../lease/conformance.js'
import { FakeSink, waitUntil } from './fake-sink.js'

const skip = etcdSkip()
if (skip) t.comment(`etcd tests skipped: ${skip}`)

// A 4 s TTL renewed 2 s ahead: renewals fall inside the outage. (etcd refreshes every lease's TTL when it
// comes back and elects itself leader, so leases outlive an outage shorter than the client's retries.)
const TIMING: LeaseTimingOptions = { ttlMs: 4000, renewMarginMs: 2000, retryMs: 100 }

t.test('etcd restarted while nodes run: subnets kept, watches resume, routes stay correct', { skip }, async (t) => {
  const etcd = await startEtcd(t)
  const open = () => {
    const s = new EtcdLeaseStore({ endpoints: [etcd.endpoint], prefix: '/tartan-restart', reconnectMaxMs: 500, callTimeoutMs: 1000, logger: { warn: () => undefined } })
    t.teardown(() => s.close())
    return s
  }
  await open().putNetworkConfig(NETWORK)

  type Running = { node: Node; sink: FakeSink; events: string[] }
  const start = async (publicIp: string): Promise<Running> => {
    const sink = new FakeSink()
    const node = new Node({ store: open(), sink, publicIp, lease: TIMING })
    t.teardown(() => node.stop())
    const events: string[] = []
    for (const e of ['store-unreachable', 'store-restored', 'lease-lost', 'lease-renewed'] as const) node.on(e, () => events.push(e))
    await node.start()
    return { node, sink, events }
  }
  const nodes = [await start('198.18.0.1'), await start('198.18.0.2'), await start('198.18.0.3')]
  const subnets = nodes.map((n) => formatCidr(n.node.lease!.subnet))
  const others = (i: number, list = subnets) => list.filter((_, j) => j !== i).sort()
  await waitUntil(() => nodes.every((n, i) => n.sink.subnets().join() === others(i).join()), 2000, 'full mesh')

  await etcd.kill()
  const killedAt = Date.now()
  await new Promise((r) => setTimeout(r, 2500)) // every node's renewal falls due and fails meanwhile
  t.ok(nodes.every((n) => n.events.includes('store-unreachable')), 'every node noticed the outage')
  await etcd.restart()
  await waitUntil(() => nodes.every((n) => n.node.manager!.reachable && n.events.includes('store-restored')), 10_000, 'reconnection')
  const renewalsAfter = nodes.map((n) => n.node.manager!.stats().renewals)
  await new Promise((r) => setTimeout(r, 4500)) // longer than a TTL
  nodes.forEach((n, i) => {
    t.notOk(n.events.includes('lease-lost'), `node ${i} kept its lease`)
    t.equal(formatCidr(n.node.lease!.subnet), subnets[i], `node ${i} has the same subnet`)
    t.ok(n.node.manager!.stats().renewals > renewalsAfter[i]!, `node ${i} renews again`)
    t.same(n.sink.subnets(), others(i), `node ${i} routes unchanged`)
    t.same(n.sink.updates.filter((u) => u.at >= killedAt), [], `node ${i}: no route churn through the outage`)
  })
  const stored = await open().list()
  t.same(stored.leases.map((l) => formatCidr(l.subnet)).sort(), [...subnets].sort(), 'the store holds exactly our leases')

  // Watches resumed: a join and a leave reach everyone.
  const d = await start('198.18.0.4')
  const withD = [...subnets, formatCidr(d.node.lease!.subnet)]
  await waitUntil(() => nodes.every((n, i) => n.sink.subnets().join() === others(i, withD).join()), 2000, 'everyone to route to the new node')
  await nodes[2]!.node.stop({ release: true })
  const left = withD.filter((s) => s !== subnets[2])
  await waitUntil(
    () => [nodes[0]!, nodes[1]!, d].every((n) => n.sink.subnets().join() === left.filter((s) => s !== formatCidr(n.node.lease!.subnet)).sort().join()),
    2000,
    'everyone to drop the node that left',
  )
  t.pass('joins and leaves after the restart reach every node')
})
