/**
 * `tartan run` with etcd, given flanneld's flags: etcd runs in the underlay namespace (198.18.0.254), two
 * hosts run the udp backend. Readiness, flannel's subnet.env, pod-to-pod traffic, and a restart without
 * subnet.env that finds its lease again by public IP.
 */
import { readFileSync, rmSync } from 'node:fs'
import t from 'tap'
import { wirePod } from '../../src/demo/pod-wiring.js'
import { etcdSkip, startEtcdInNetns } from '../helpers/etcd.js'
import { cliCluster, httpGetInNetns, leftovers, ping } from '../helpers/cli-cluster.js'
import { e2eUnavailable } from '../helpers/two-node-suite.js'
import { tcpTransfer } from '../helpers/transfer.js'

const skip = e2eUnavailable() ?? etcdSkip()
const ETCD = '198.18.0.254'

t.test('tartan run with flanneld\'s etcd flags, two nodes, udp backend', { skip }, async (t) => {
  const c = await cliCluster(t, 2, () => [
    `--etcd-endpoints=http://${ETCD}:2379`, '--etcd-prefix=/tartan-e2e/network', '--iface=eth0', '--healthz-port=8471',
    '--network={"Network":"10.244.0.0/16","Backend":{"Type":"udp"}}',
  ])
  await c.topo.ip(c.topo.underlayNs, ['addr', 'add', `${ETCD}/24`, 'dev', 'br0'])
  await startEtcdInNetns({ netns: c.topo.underlayNs, address: ETCD }, t)
  const [h0, h1] = c.topo.nodes as [typeof c.topo.nodes[0], typeof c.topo.nodes[0]]

  const n0 = c.start(h0)
  const n1 = c.start(h1)
  const [r0, r1] = await Promise.all([n0.ready(), n1.ready()])
  t.match(n0.lines.find((l) => l.event === 'starting'), { store: `etcd:http://${ETCD}:2379/tartan-e2e/network` }, 'etcd chosen by --etcd-endpoints')
  t.equal((await httpGetInNetns(c.topo, h0.hostNs, 'http://127.0.0.1:8471/readyz')).status, 200)
  t.equal(
    readFileSync(c.subnetFile(h1), 'utf8'),
    `FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=${String(r1.subnet).replace(/\.0\/24$/, '.1/24')}\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=false\n`,
    'subnet.env: udp MTU 1500 - 28',
  )
  const key = await c.topo.exec(c.topo.underlayNs, ['etcdctl', `--endpoints=http://${ETCD}:2379`, 'get', '--prefix', '--keys-only', '/tartan-e2e/network/subnets/'])
  if (key.code === 0) t.match(key.stdout, `/tartan-e2e/network/subnets/${String(r0.subnet).replace('/', '-')}`, 'flannel\'s key schema')

  const pod0 = await wirePod(c.topo, h0, c.subnetFile(h0))
  const pod1 = await wirePod(c.topo, h1, c.subnetFile(h1))
  const p = await ping(c.topo, h0.podNs, pod1.podIp)
  t.equal(p.code, 0, p.out)

  // Restart node 1 without its subnet.env: the lease is found again by its public IP.
  t.same(await n1.stop(), { code: 0, signal: null })
  t.same(await leftovers(c.topo, h1.hostNs), { tun: false, nftTables: [] })
  rmSync(c.subnetFile(h1))
  const again = c.start(h1)
  t.equal((await again.ready()).subnet, r1.subnet, 'same subnet')
  const back = await ping(c.topo, h1.podNs, pod0.podIp)
  t.equal(back.code, 0, `traffic resumes: ${back.out}`)
  t.same(await again.stop(), { code: 0, signal: null })
  t.same(await n0.stop(), { code: 0, signal: null })
})

t.test('etcd restarted while two nodes run: leases kept, routes unchanged, the data plane forwards throughout', { skip }, async (t) => {
  const c = await cliCluster(t, 2, () => [
    `--etcd-endpoints=http://${ETCD}:2379`, '--etcd-prefix=/tartan-outage/network', '--iface=eth0',
    '--network={"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}',
  ])
  await c.topo.ip(c.topo.underlayNs, ['addr', 'add', `${ETCD}/24`, 'dev', 'br0'])
  const etcd = await startEtcdInNetns({ netns: c.topo.underlayNs, address: ETCD }, t)
  const [h0, h1] = c.topo.nodes as [typeof c.topo.nodes[0], typeof c.topo.nodes[0]]
  const n0 = c.start(h0)
  const n1 = c.start(h1)
  const [r0, r1] = await Promise.all([n0.ready(), n1.ready()])
  await wirePod(c.topo, h0, c.subnetFile(h0))
  const pod1 = await wirePod(c.topo, h1, c.subnetFile(h1))
  const peersOf = async (h: typeof h0) => {
    const s = JSON.parse((await httpGetInNetns(c.topo, h.hostNs, 'http://127.0.0.1:8286/status')).body)
    return { subnet: s.lease?.subnet, peers: (s.peers as { subnet: string }[]).map((p) => p.subnet).sort() }
  }
  const before = [await peersOf(h0), await peersOf(h1)]
  t.same(before[0], { subnet: r0.subnet, peers: [r1.subnet] }, 'node 0 routes to node 1 (learned from its lease)')

  await etcd.kill()
  const outageStart = Date.now()
  // A 64 MiB TCP transfer between pods while the store is down, SHA-256 checked.
  const { sent, received: got } = await tcpTransfer(c.topo, h0.podNs, h1.podNs, pod1.podIp, 7001, 64 * 1024 * 1024, 60_000)
  t.equal(got.sha256, sent.sha256, 'the transfer during the outage arrived intact')
  const during = await ping(c.topo, h0.podNs, pod1.podIp)
  t.equal(during.code, 0, `ping during the outage: ${during.out}`)
  await new Promise((r) => setTimeout(r, Math.max(0, 3000 - (Date.now() - outageStart))))
  t.same([await peersOf(h0), await peersOf(h1)], before, 'routes unchanged while etcd is down')

  await etcd.restart()
  await new Promise((r) => setTimeout(r, 2000))
  t.same([await peersOf(h0), await peersOf(h1)], before, 'same leases and routes after etcd is back')
  const after = await ping(c.topo, h1.podNs, `10.244.${String(r0.subnet).split(".")[2]}.2`)
  t.equal(after.code, 0, `ping after the restart: ${after.out}`)
  t.same(await n0.stop(), { code: 0, signal: null })
  t.same(await n1.stop(), { code: 0, signal: null })
})
