import t from 'tap'
import { memoryPair, settle, until } from '../helpers/memory-pair.js'
import { icmpEcho, ip, refChecksum, udpPacket } from '../helpers/packets.js'

t.test('a packet from a local pod reaches the peer pod with TTL decremented and a valid checksum', async (t) => {
  const { a, b, stop } = memoryPair()
  t.teardown(stop)
  const p = udpPacket('10.244.1.2', '10.244.2.3', 4000, 5000, Buffer.from('hello'))
  a.device.inject(p)
  await until(() => b.device.written.length === 1)
  const got = b.device.take()[0]!
  t.equal(got[8], 63)
  t.equal(refChecksum(got.subarray(0, 20)), 0)
  const expect = Buffer.from(p)
  expect[8] = 63
  expect.writeUInt16BE(0, 10)
  expect.writeUInt16BE(refChecksum(expect.subarray(0, 20)), 10)
  t.same(Buffer.from(got), expect, 'every other byte unchanged')
})

t.test('the UDP payload on the underlay is exactly the inner IPv4 packet (flannel udp format)', async (t) => {
  const { a, b, stop } = memoryPair({ startB: false }) // B's datagrams stay queued for inspection
  t.teardown(stop)
  const p = udpPacket('10.244.1.2', '10.244.2.3', 1, 2, Buffer.from('x'))
  a.device.inject(p)
  await until(() => b.bind.queued === 1)
  const batch = new (await import('../../src/io/packet-batch.js')).PacketBatch(4)
  t.equal(b.bind.read(batch), 1)
  t.equal(batch.addrs[0], ip('198.18.0.1'), 'outer source is node A')
  t.equal(batch.ports[0], 8285, 'flannel udp port')
  const payload = batch.bytes.subarray(batch.offsets[0]!, batch.offsets[0]! + batch.lengths[0]!)
  t.equal(payload.length, p.length)
  t.equal(payload[8], 63)
  t.same(Buffer.from(payload.subarray(12)), Buffer.from(p.subarray(12)))
})

t.test('traffic flows both ways and per-peer counters count it', async (t) => {
  const { a, b, stop } = memoryPair()
  t.teardown(stop)
  for (let i = 0; i < 10; i++) a.device.inject(udpPacket('10.244.1.2', '10.244.2.3', 1, 2, new Uint8Array(100)))
  for (let i = 0; i < 5; i++) b.device.inject(udpPacket('10.244.2.3', '10.244.1.2', 2, 1, new Uint8Array(50)))
  await until(() => b.device.written.length === 10 && a.device.written.length === 5)
  const pa = a.engine.peers()[0]!
  t.equal(pa.txPackets, 10)
  t.equal(pa.txBytes, 10 * 128)
  t.equal(pa.rxPackets, 5)
  t.equal(pa.rxBytes, 5 * 78)
  const cb = b.engine.counters()
  t.equal(cb.rxPackets, 10)
  t.equal(cb.rxBytes, 1280)
  t.equal(cb.txPackets, 5)
  t.ok(Object.values(cb.drops).every((v) => v === 0), 'no drops')
})

t.test('a burst is carried in batches, recorded in the batch-size histogram', async (t) => {
  const { a, b, stop } = memoryPair()
  t.teardown(stop)
  for (let i = 0; i < 640; i++) a.device.inject(udpPacket('10.244.1.2', '10.244.2.3', 1, 2, new Uint8Array(10)))
  await until(() => b.device.written.length === 640)
  const h = a.engine.counters().tunBatches
  const batches = h.counts.reduce((x, y) => x + y, 0)
  t.ok(batches <= 20, `640 packets took ${batches} batches`)
  t.ok(h.counts[6]! >= 9, 'mostly full batches of 64')
})

t.test('nothing is lost when the underlay socket fills up: the TUN side waits (backpressure)', async (t) => {
  const { a, b, net, stop } = memoryPair({ bindQueue: 32, blockWhenFull: true })
  t.teardown(stop)
  for (let i = 0; i < 2000; i++) {
    const p = udpPacket('10.244.1.2', '10.244.2.3', 1, 2, Uint8Array.of(i & 255, i >> 8))
    a.device.inject(p)
  }
  await until(() => b.device.written.length === 2000, 5000, '2000 packets')
  t.equal(net.dropped, 0)
  t.ok(a.engine.counters().txBlocked > 0, 'the sender blocked at least once')
  const order = b.device.take().map((p) => p[28]! | (p[29]! << 8))
  t.same(order, Array.from({ length: 2000 }, (_, i) => i), 'in order')
})

t.test('removing a peer removes its route: its traffic now gets ICMP net unreachable', async (t) => {
  const { a, b, stop } = memoryPair()
  t.teardown(stop)
  t.equal(a.engine.removePeer('10.244.2.0/24'), true)
  t.equal(a.engine.routeCount, 0)
  a.device.inject(icmpEcho('10.244.1.2', '10.244.2.3'))
  await until(() => a.device.written.length === 1)
  const icmp = a.device.take()[0]!
  t.equal(icmp[20], 3)
  t.equal(icmp[21], 0)
  await settle()
  t.equal(b.device.written.length, 0)
  t.equal(a.engine.removePeer('10.244.2.0/24'), false, 'removing again reports absence')
})

t.test('a flood in one direction does not starve the other: each wakeup handles at most `budget` batches', async (t) => {
  const { a, stop } = memoryPair({ batchSize: 8, budget: 1, startB: false })
  t.teardown(stop)
  const out = udpPacket('10.244.1.2', '10.244.2.3', 1, 2, new Uint8Array(10))
  const back = udpPacket('10.244.2.3', '10.244.1.2', 2, 1, new Uint8Array(10))
  for (let i = 0; i < 800; i++) {
    a.device.inject(out)
    a.bind.deliver(back, 0, back.length, ip('198.18.0.2'), 8285)
  }
  await settle(3)
  const c = a.engine.counters()
  t.ok(c.txPackets > 0 && c.txPackets <= 3 * 8, `pods -> peers after 3 turns: ${c.txPackets}`)
  t.ok(c.rxPackets > 0 && c.rxPackets <= 3 * 8, `peers -> pods after 3 turns: ${c.rxPackets}`)
  await until(() => a.engine.counters().txPackets === 800 && a.engine.counters().rxPackets === 800, 5000, 'both floods')
})
