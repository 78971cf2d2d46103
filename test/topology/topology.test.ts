import t from 'tap'
import { existsSync } from 'node:fs'
import { TartanError } from '../../src/errors.js'
import { Topology, canCreateTopology, listLeftovers, uniquePrefix } from '../../src/topology/index.js'

const skip = canCreateTopology() ?? false

t.test('two nodes: each pod reaches its own cni0 bridge and nothing more', { skip }, async (t) => {
  const topo = await Topology.create({ nodes: 2 })
  t.teardown(() => topo.destroy())
  t.equal(topo.nodes.length, 2)
  t.same(
    topo.nodes.map((n) => [n.underlayIp, n.podIp, n.bridgeIp, n.subnet]),
    [
      ['198.18.0.1', '10.244.1.2', '10.244.1.1', '10.244.1.0/24'],
      ['198.18.0.2', '10.244.2.2', '10.244.2.1', '10.244.2.0/24'],
    ],
  )
  for (const n of topo.nodes) {
    t.ok(existsSync(n.netnsPath), `${n.hostNs} is mounted at ${n.netnsPath}`)
    const r = await topo.exec(n.podNs, ['ping', '-c1', '-W1', n.bridgeIp])
    t.equal(r.code, 0, `pod ${n.index} pings ${n.bridgeIp}: ${r.stderr}`)
  }
  // Hosts reach each other over the underlay.
  const u = await topo.exec(topo.nodes[0].hostNs, ['ping', '-c1', '-W1', topo.nodes[1].underlayIp])
  t.equal(u.code, 0, 'host 0 pings host 1 over the underlay')
  // Without an overlay the pods do not reach each other.
  const x = await topo.exec(topo.nodes[0].podNs, ['ping', '-c1', '-W1', topo.nodes[1].podIp])
  t.not(x.code, 0, 'pod 0 cannot reach pod 1 without an overlay')
})

t.test('destroy kills spawned processes and deletes every namespace; a second destroy is a no-op', { skip }, async (t) => {
  const topo = await Topology.create({ nodes: 2 })
  t.teardown(() => topo.destroy())
  t.equal((await listLeftovers(topo.prefix)).length, 5, 'underlay + 2 hosts + 2 pods')
  const child = topo.spawn(topo.nodes[0].podNs, ['sleep', '30'])
  const exited = new Promise<string | null>((resolve) => child.once('exit', (_c, s) => resolve(s)))
  await topo.destroy()
  t.equal(await exited, 'SIGTERM', 'the spawned process was terminated')
  t.same(await listLeftovers(topo.prefix), [], 'no namespace left')
  await topo.destroy()
  t.throws(() => topo.spawn(topo.nodes[0].podNs, ['true']), { code: 'TARTAN_ERR_STATE' })
})

t.test('exec refuses namespaces outside the topology', { skip }, async (t) => {
  const topo = await Topology.create({ nodes: 1 })
  t.teardown(() => topo.destroy())
  t.throws(() => topo.exec('some-other-ns', ['true']), { code: 'TARTAN_ERR_INVALID_ARGUMENT' })
  const r = await topo.exec(topo.nodes[0].hostNs, ['sh', '-c', 'echo hi; exit 3'])
  t.same([r.stdout, r.code], ['hi\n', 3], 'exit status and stdout are reported')
  const slow = await topo.exec(topo.nodes[0].hostNs, ['sleep', '5'], { timeoutMs: 200 })
  t.ok(slow.timedOut, 'a command past its timeout is killed')
})

t.test('a failed create cleans up what it made and names the failing command', { skip }, async (t) => {
  const prefix = uniquePrefix()
  // Occupy the name of node 1's pod namespace so creation fails after the underlay and node 0 exist.
  const blocker = `${prefix}-p1`
  const { runChecked } = await import('../../src/topology/command.js')
  await runChecked(['ip', 'netns', 'add', blocker])
  t.teardown(() => runChecked(['ip', 'netns', 'del', blocker]).catch(() => undefined))
  const err = await Topology.create({ nodes: 2, prefix }).then(
    () => null,
    (e: unknown) => e,
  )
  t.ok(err instanceof TartanError, 'throws a TartanError')
  t.equal((err as TartanError).code, 'TARTAN_ERR_NETLINK')
  t.match((err as TartanError).message, `ip netns add ${blocker}`, 'the message quotes the command')
  t.match((err as TartanError).message, /exists/i, 'and its stderr')
  t.same(await listLeftovers(prefix), [blocker], 'only the namespace it did not make is left')
})

t.test('bad options are rejected before anything is made', async (t) => {
  await t.rejects(Topology.create({ nodes: 0 }), { code: 'TARTAN_ERR_INVALID_ARGUMENT' })
  await t.rejects(Topology.create({ nodes: 2, underlayMtu: 20 }), { code: 'TARTAN_ERR_INVALID_ARGUMENT' })
  await t.rejects(Topology.create({ nodes: 2, prefix: 'bad name' }), { code: 'TARTAN_ERR_INVALID_ARGUMENT' })
})
