/**
 * `tartan run` as users run it, on two hosts in network namespaces sharing the embedded SQLite store:
 * readiness, subnet.env, pod-to-pod traffic, metrics that match the traffic, status, --ip-masq, and a
 * SIGTERM + restart that keeps the subnet.
 */
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { SqliteLeaseStore } from '../../src/lease/sqlite-store.js'
import { wirePod } from '../../src/demo/pod-wiring.js'
import { tcpTransfer } from '../helpers/transfer.js'
import {
  cliCluster, httpGetInNetns, leftovers, ping, scrape, sendUdp, strayFiles, tartanOnce, waitForHttp,
} from '../helpers/cli-cluster.js'
import { sampleValue } from '../helpers/prom-text.js'
import { e2eUnavailable } from '../helpers/two-node-suite.js'

const skip = e2eUnavailable() ?? false
const NETWORK = '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'
const HEALTHZ = 'http://127.0.0.1:8471'

t.test('tartan run, two nodes, embedded store', { skip }, async (t) => {
  const c = await cliCluster(t, 2, (n, dir) => [`--store=sqlite:${join(dir, 'leases.db')}`, '--iface=eth0', '--healthz-port=8471'])
  const [h0, h1] = c.topo.nodes as [typeof c.topo.nodes[0], typeof c.topo.nodes[0]]

  // Node 0 starts on an empty store without --network: alive, not ready, waiting for a config.
  const n0 = c.start(h0, ['--ip-masq'])
  await n0.waitFor((l) => l.event === 'waiting-for-config', 20_000, 'waiting-for-config line')
  t.equal((await httpGetInNetns(c.topo, h0.hostNs, `${HEALTHZ}/healthz`)).status, 200, '/healthz: alive')
  t.same(await httpGetInNetns(c.topo, h0.hostNs, `${HEALTHZ}/readyz`), { status: 503, body: 'tartan is not ready yet\n', contentType: 'text/plain' })
  t.equal((await leftovers(c.topo, h0.hostNs)).tun, false, 'no TUN before the lease')

  // Node 1 bootstraps the config with --network; node 0 picks it up and becomes ready too.
  const n1 = c.start(h1, [`--network=${NETWORK}`])
  const [r0, r1] = await Promise.all([n0.ready(), n1.ready()])
  t.same(await httpGetInNetns(c.topo, h0.hostNs, `${HEALTHZ}/readyz`), { status: 200, body: 'tartan is ready\n', contentType: 'text/plain' }, '/readyz flips to 200')
  const store = new SqliteLeaseStore({ path: join(c.dir, 'leases.db') })
  t.teardown(() => store.close())
  t.same((await store.list()).leases.map((l) => l.attrs.publicIp).sort(), ['198.18.0.1', '198.18.0.2'], 'both leases in the store')

  t.test('subnet.env is written in flannel\'s format, mode 0644, with no staging file left', async (t) => {
    const text = readFileSync(c.subnetFile(h0), 'utf8')
    const subnet = String(r0.subnet).replace(/\.0\/24$/, '.1/24')
    t.equal(text, `FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=${subnet}\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n`)
    t.equal(statSync(c.subnetFile(h0)).mode & 0o777, 0o644)
    t.match(readFileSync(c.subnetFile(h1), 'utf8'), /FLANNEL_IPMASQ=false\n$/)
    t.same(strayFiles(c.subnetFile(h0)), [])
  })

  const pod0 = await wirePod(c.topo, h0, c.subnetFile(h0))
  const pod1 = await wirePod(c.topo, h1, c.subnetFile(h1))

  t.test('pods reach each other through the nodes', async (t) => {
    const a = await ping(c.topo, h0.podNs, pod1.podIp)
    t.equal(a.code, 0, a.out)
    const b = await ping(c.topo, h1.podNs, pod0.podIp)
    t.equal(b.code, 0, b.out)
  })

  t.test('a 64 MiB TCP transfer between the pods arrives intact (routes learned from the shared store only)', async (t) => {
    const { sent, received } = await tcpTransfer(c.topo, h0.podNs, h1.podNs, pod1.podIp, 7002, 64 * 1024 * 1024)
    t.equal(received.bytes, 64 * 1024 * 1024)
    t.equal(received.sha256, sent.sha256)
  })

  t.test('/metrics parses as Prometheus text and its counters match the traffic sent', async (t) => {
    const peer1 = { peer: h1.underlayIp, subnet: String(r1.subnet) }
    const peer0 = { peer: h0.underlayIp, subnet: String(r0.subnet) }
    const before0 = await scrape(c.topo, h0.hostNs)
    const before1 = await scrape(c.topo, h1.hostNs)
    const COUNT = 50
    const SIZE = 100
    await sendUdp(c.topo, h0.podNs, pod1.podIp, 9, COUNT, SIZE)
    await new Promise((r) => setTimeout(r, 300))
    const after0 = await scrape(c.topo, h0.hostNs)
    const after1 = await scrape(c.topo, h1.hostNs)
    const d = (a: typeof after0, b: typeof after0, name: string, labels?: Record<string, string>) => sampleValue(a, name, labels)! - sampleValue(b, name, labels)!
    t.equal(d(after0, before0, 'tartan_peer_tx_packets_total', peer1), COUNT, 'node 0 sent exactly the datagrams to node 1')
    t.equal(d(after0, before0, 'tartan_peer_tx_bytes_total', peer1), COUNT * (SIZE + 28), 'inner bytes: IPv4 + UDP headers + payload')
    t.equal(d(after1, before1, 'tartan_peer_rx_packets_total', peer0), COUNT, 'node 1 received them from node 0')
    t.equal(d(after1, before1, 'tartan_rx_bytes_total'), COUNT * (SIZE + 28))
    t.equal(d(after0, before0, 'tartan_batch_size_sum', { direction: 'tun' }), COUNT, 'every packet read from the TUN counted in a batch')
    t.equal(sampleValue(after0, 'tartan_routes'), 1)
    t.equal(sampleValue(after0, 'tartan_ready'), 1)
    t.ok(sampleValue(after0, 'tartan_lease_expiry_timestamp_seconds')! > Date.now() / 1000 + 23 * 3600, 'lease expiry ~24 h ahead')
    for (const s of after1.get('tartan_drops_total')!.samples) t.equal(s.value, 0, `no ${s.labels.reason} drops`)
  })

  t.test('tartan status prints the node\'s lease, peers, routes and counters', async (t) => {
    const r = await tartanOnce(c.topo, h0.hostNs, ['status'])
    t.equal(r.code, 0, r.stderr)
    t.match(r.stdout, `lease    ${String(r0.subnet)}  expires`)
    t.match(r.stdout, new RegExp(`${h1.underlayIp.replace(/\./g, '\\.')}\\s+${String(r1.subnet).replace(/\./g, '\\.')}\\s+\\d+`))
    t.match(r.stdout, `routes   1: ${String(r1.subnet)}`)
    const json = await tartanOnce(c.topo, h0.hostNs, ['status', '--json'])
    t.equal(JSON.parse(json.stdout).node.vtepMac, r0.vtepMac)
  })

  t.test('--ip-masq installs the node\'s nftables table', async (t) => {
    const r = await c.topo.exec(h0.hostNs, ['nft', 'list', 'table', 'ip', 'tartan-tartan0'])
    t.equal(r.code, 0, r.stderr)
    t.match(r.stdout, 'ip saddr 10.244.0.0/16 ip daddr 10.244.0.0/16 return')
    t.match(r.stdout, 'ip saddr 10.244.0.0/16 masquerade')
    t.same((await leftovers(c.topo, h1.hostNs)).nftTables, [], 'node 1 has no --ip-masq: no table')
  })

  t.test('SIGTERM: clean stop (TUN and nftables table gone, lease kept); a restart gets the same subnet back', async (t) => {
    t.same(await n1.stop(), { code: 0, signal: null })
    t.ok(n1.lines.some((l) => l.event === 'stopped'), 'logged its stop')
    t.same(await leftovers(c.topo, h1.hostNs), { tun: false, nftTables: [] })
    t.ok((await store.list()).leases.some((l) => l.attrs.publicIp === h1.underlayIp), 'the lease stays in the store')
    const again = c.start(h1, [`--network=${NETWORK}`])
    const r = await again.ready()
    t.equal(r.subnet, r1.subnet, 'same subnet after the restart')
    const p = await ping(c.topo, h0.podNs, pod1.podIp)
    t.equal(p.code, 0, `traffic resumes: ${p.out}`)
    t.same(await again.stop(), { code: 0, signal: null })
    t.same(await n0.stop(), { code: 0, signal: null })
    t.same(await leftovers(c.topo, h0.hostNs), { tun: false, nftTables: [] }, 'node 0 removed its TUN and its nftables table')
  })
})

t.test('SIGTERM while waiting for the network config exits 0 and leaves nothing', { skip }, async (t) => {
  const c = await cliCluster(t, 1, (n, dir) => [`--store=sqlite:${join(dir, 'leases.db')}`, '--iface=eth0', '--healthz-port=8471'])
  const h0 = c.topo.nodes[0]!
  const n0 = c.start(h0, ['--ip-masq'])
  await waitForHttp(c.topo, h0.hostNs, `${HEALTHZ}/readyz`, 503)
  t.same(await n0.stop(), { code: 0, signal: null })
  t.same(await leftovers(c.topo, h0.hostNs), { tun: false, nftTables: [] })
  t.same(strayFiles(c.subnetFile(h0)), [])
})
