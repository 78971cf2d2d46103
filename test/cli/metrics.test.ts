import type { AddressInfo } from 'node:net'
import t from 'tap'
import { close, handler, listen } from '../../src/cli/http-server.js'
import { createMetrics } from '../../src/cli/metrics.js'
import { formatStatus } from '../../src/cli/status.js'
import type { DaemonStatus } from '../../src/daemon/daemon.js'
import { Engine } from '../../src/engine/engine.js'
import { memoryPair, until } from '../helpers/memory-pair.js'
import { parsePrometheusText, sampleValue } from '../helpers/prom-text.js'
import { udpPacket } from '../helpers/packets.js'

/** A status as a Daemon would report it, around a real (in-memory) engine. */
function statusOf(engine: Engine, ready = true): DaemonStatus {
  return {
    ready,
    node: {
      publicIp: '198.18.0.1', bindAddress: '198.18.0.1', iface: 'eth0', tun: 'tartan0', mtu: 1472, backend: 'udp', port: 8285,
      vni: null, vtepMac: null, network: '10.244.0.0/16',
    },
    lease: { key: '10.244.1.0-24', subnet: '10.244.1.0/24', expiresAt: Date.parse('2030-01-01T00:00:00Z') },
    store: { description: 'sqlite:/tmp/x.db', reachable: true, errors: 2, renewals: 5 },
    peers: engine.peers(),
    routes: engine.peers().map((p) => p.subnet),
    counters: engine.counters(),
  }
}

t.test('/metrics is valid Prometheus text whose counters are the engine\'s', async (t) => {
  const { a, b, stop } = memoryPair()
  t.teardown(stop)
  for (let i = 0; i < 7; i++) a.device.inject(udpPacket('10.244.1.2', '10.244.2.3', 1, 2, new Uint8Array(100)))
  a.device.inject(udpPacket('10.244.1.2', '10.244.77.3', 1, 2, new Uint8Array(10))) // no route: a drop
  await until(() => b.device.written.length === 7 && a.engine.counters().drops.tun_no_route === 1)
  const registry = createMetrics({ status: () => statusOf(a.engine) })
  const m = parsePrometheusText(await registry.metrics())
  const peer = { peer: '198.18.0.2', subnet: '10.244.2.0/24' }
  t.equal(sampleValue(m, 'tartan_peer_tx_packets_total', peer), 7)
  t.equal(sampleValue(m, 'tartan_peer_tx_bytes_total', peer), 7 * 128)
  t.equal(sampleValue(m, 'tartan_peer_rx_packets_total', peer), 0)
  t.equal(sampleValue(m, 'tartan_peer_tx_errors_total', peer), 0)
  t.equal(sampleValue(m, 'tartan_tx_packets_total'), 7)
  t.equal(sampleValue(m, 'tartan_drops_total', { reason: 'tun_no_route' }), 1)
  t.equal(sampleValue(m, 'tartan_drops_total', { reason: 'spoofed_source' }), 0, 'every reason is listed')
  t.equal(m.get('tartan_drops_total')!.samples.length, 22)
  t.equal(sampleValue(m, 'tartan_routes'), 1)
  t.equal(sampleValue(m, 'tartan_peers'), 1)
  t.equal(sampleValue(m, 'tartan_ready'), 1)
  t.equal(sampleValue(m, 'tartan_lease_expiry_timestamp_seconds'), Date.parse('2030-01-01T00:00:00Z') / 1000)
  t.equal(sampleValue(m, 'tartan_store_errors_total'), 2)
  t.equal(sampleValue(m, 'tartan_store_reachable'), 1)
  t.equal(m.get('tartan_batch_size')!.type, 'histogram')
  t.equal(sampleValue(m, 'tartan_batch_size_sum', { direction: 'tun' }), 8, 'packets read from the TUN')
  t.equal(sampleValue(m, 'tartan_batch_size_count', { direction: 'tun' }), a.engine.counters().tunBatches.counts.reduce((x, y) => x + y, 0))
  t.equal(sampleValue(m, 'tartan_node_info', { backend: 'udp', subnet: '10.244.1.0/24' }), 1)
  t.equal(m.get('tartan_peer_tx_packets_total')!.type, 'counter')
  t.ok(m.has('process_resident_memory_bytes'), 'process metrics too')
})

t.test('/metrics shows the offloads in use and what busy polling did, when the engine has them', async (t) => {
  const { a, stop } = memoryPair()
  t.teardown(stop)
  const base = statusOf(a.engine)
  const counters = {
    ...base.counters!,
    offload: {
      tun: { active: true, features: { vnetHdr: true, tso: true, uso: false }, counters: {} },
      udp: { active: true, features: { gso: true, gro: true }, counters: {} },
    },
    busyPoll: { spins: 12, spinMs: 2500, bulk: 300, contended: 4 },
  }
  const m = parsePrometheusText(await createMetrics({ status: () => ({ ...base, counters }) }).metrics())
  t.equal(sampleValue(m, 'tartan_offload_active', { device: 'tun', feature: 'vnet_hdr' }), 1)
  t.equal(sampleValue(m, 'tartan_offload_active', { device: 'tun', feature: 'uso' }), 0, 'refused by the kernel')
  t.equal(sampleValue(m, 'tartan_offload_active', { device: 'udp', feature: 'gro' }), 1)
  t.equal(sampleValue(m, 'tartan_busy_poll_spins_total'), 12)
  t.equal(sampleValue(m, 'tartan_busy_poll_seconds_total'), 2.5)
  t.equal(sampleValue(m, 'tartan_busy_poll_backoffs_total', { reason: 'bulk' }), 300)
  t.equal(sampleValue(m, 'tartan_busy_poll_backoffs_total', { reason: 'contended' }), 4)
  const plain = parsePrometheusText(await createMetrics({ status: () => base }).metrics())
  t.equal(plain.get('tartan_offload_active')?.samples.length ?? 0, 0, 'no offload state: no samples')
  t.equal(plain.get('tartan_busy_poll_backoffs_total')?.samples.length ?? 0, 0, 'busy polling off: no samples')
})

t.test('the HTTP endpoints: /healthz always, /readyz only when ready, /status JSON, /metrics text, 404 and 405', async (t) => {
  const { a, stop } = memoryPair()
  t.teardown(stop)
  let ready = false
  const source = { get ready() { return ready }, status: () => statusOf(a.engine, ready) }
  const server = await listen(handler(source, createMetrics(source)), '127.0.0.1', 0, '--metrics-port')
  t.teardown(() => close(server))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const get = async (path: string, method = 'GET') => {
    const r = await fetch(base + path, { method })
    return { status: r.status, type: r.headers.get('content-type'), body: await r.text() }
  }
  t.same(await get('/healthz'), { status: 200, type: 'text/plain', body: 'tartan is running\n' })
  t.same(await get('/readyz'), { status: 503, type: 'text/plain', body: 'tartan is not ready yet\n' })
  ready = true
  t.same(await get('/readyz'), { status: 200, type: 'text/plain', body: 'tartan is ready\n' })
  const s = await get('/status')
  t.equal(s.type, 'application/json')
  t.equal(JSON.parse(s.body).lease.subnet, '10.244.1.0/24')
  const m = await get('/metrics')
  t.equal(m.type, 'text/plain; version=0.0.4; charset=utf-8')
  t.ok(parsePrometheusText(m.body).has('tartan_ready'))
  t.equal((await get('/nope')).status, 404)
  t.equal((await get('/healthz', 'POST')).status, 405)
})

t.test('a port in use is an error naming the flag', async (t) => {
  const { a, stop } = memoryPair()
  t.teardown(stop)
  const source = { ready: false, status: () => statusOf(a.engine) }
  const h = handler(source, createMetrics(source))
  const first = await listen(h, '127.0.0.1', 0, '--metrics-port')
  t.teardown(() => close(first))
  const port = (first.address() as AddressInfo).port
  await t.rejects(listen(h, '127.0.0.1', port, '--healthz-port'), {
    code: 'TARTAN_ERR_SOCKET',
    message: `cannot listen on 127.0.0.1:${port} (--healthz-port): EADDRINUSE the port is in use; stop what uses it or choose another`,
  })
})

t.test('tartan status renders the lease, peers, routes and counters as tables', async (t) => {
  const { a, b, stop } = memoryPair()
  t.teardown(stop)
  for (let i = 0; i < 3; i++) a.device.inject(udpPacket('10.244.1.2', '10.244.2.3', 1, 2, new Uint8Array(100)))
  await until(() => b.device.written.length === 3)
  const text = formatStatus(statusOf(a.engine), Date.parse('2029-12-31T23:00:00Z'))
  t.match(text, 'node     198.18.0.1 (eth0, bound to 198.18.0.1)  READY')
  t.match(text, 'backend  udp port 8285  tun tartan0 mtu 1472  network 10.244.0.0/16')
  t.match(text, 'lease    10.244.1.0/24  expires 2030-01-01T00:00:00.000Z (in 1h00m)')
  t.match(text, 'store    sqlite:/tmp/x.db  reachable  errors 2  renewals 5')
  t.match(text, /PEER\s+SUBNET\s+RX PKTS\s+RX BYTES\s+TX PKTS\s+TX BYTES\s+TX ERRORS\n/)
  t.match(text, /198\.18\.0\.2\s+10\.244\.2\.0\/24\s+0\s+0 B\s+3\s+384 B\s+0\n/)
  t.match(text, 'routes   1: 10.244.2.0/24')
  t.match(text, 'traffic  tx 3 pkts (384 B)  rx 0 pkts (0 B)')
  t.match(text, 'drops    none')
})
