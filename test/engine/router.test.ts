import t from 'tap'
import { memoryPair, settle, until } from '../helpers/memory-pair.js'
import { icmpEcho, ip, ipv4, refChecksum, udpPacket } from '../helpers/packets.js'

const u32 = (b: Uint8Array, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0

t.test('TTL 1 from a pod: ICMP time exceeded back to the pod from the router address, nothing sent', async (t) => {
  const { a, b, stop } = memoryPair()
  t.teardown(stop)
  const p = icmpEcho('10.244.1.2', '10.244.2.3', 9, 1)
  a.device.inject(p)
  await until(() => a.device.written.length === 1)
  const e = a.device.take()[0]!
  t.equal(e[9], 1, 'ICMP')
  t.equal(u32(e, 12), ip('10.244.1.0'), 'from the TUN address')
  t.equal(u32(e, 16), ip('10.244.1.2'), 'to the sender')
  t.equal(e[20], 11)
  t.equal(e[21], 0)
  t.equal(refChecksum(e.subarray(0, 20)), 0)
  t.equal(refChecksum(e.subarray(20)), 0)
  t.same(Buffer.from(e.subarray(28)), Buffer.from(p), 'quotes the original packet')
  const c = a.engine.counters()
  t.equal(c.drops.tun_ttl_expired, 1)
  t.equal(c.icmpSent, 1)
  await settle()
  t.equal(b.device.written.length, 0)
})

t.test('TTL 2 is forwarded (arrives with TTL 1)', async (t) => {
  const { a, b, stop } = memoryPair()
  t.teardown(stop)
  a.device.inject(icmpEcho('10.244.1.2', '10.244.2.3', 1, 2))
  await until(() => b.device.written.length === 1)
  t.equal(b.device.take()[0]![8], 1)
})

t.test('no route: ICMP destination net unreachable (type 3 code 0)', async (t) => {
  const { a, stop } = memoryPair()
  t.teardown(stop)
  a.device.inject(udpPacket('10.244.1.2', '10.244.9.9', 1, 2, new Uint8Array(4)))
  await until(() => a.device.written.length === 1)
  const e = a.device.take()[0]!
  t.equal(e[20], 3)
  t.equal(e[21], 0)
  t.equal(a.engine.counters().drops.tun_no_route, 1)
})

t.test('a destination in the local subnet arriving from the TUN is dropped without ICMP', async (t) => {
  const { a, stop } = memoryPair()
  t.teardown(stop)
  a.device.inject(udpPacket('10.244.1.2', '10.244.1.3', 1, 2, new Uint8Array(4)))
  await settle()
  t.equal(a.device.written.length, 0)
  t.equal(a.engine.counters().drops.tun_local_destination, 1)
})

t.test('too big with DF: ICMP fragmentation needed carrying the overlay MTU (1500 - 28 = 1472)', async (t) => {
  const { a, b, stop } = memoryPair()
  t.teardown(stop)
  t.equal(a.engine.mtu, 1472)
  a.device.inject(udpPacket('10.244.1.2', '10.244.2.3', 1, 2, new Uint8Array(1473 - 28)))
  await until(() => a.device.written.length === 1)
  const e = a.device.take()[0]!
  t.equal(e[20], 3)
  t.equal(e[21], 4)
  t.equal((e[26]! << 8) | e[27]!, 1472)
  t.equal(a.engine.counters().drops.tun_too_big, 1)
  await settle()
  t.equal(b.device.written.length, 0)
})

t.test('exactly MTU-sized packets are forwarded', async (t) => {
  const { a, b, stop } = memoryPair()
  t.teardown(stop)
  a.device.inject(udpPacket('10.244.1.2', '10.244.2.3', 1, 2, new Uint8Array(1472 - 28)))
  await until(() => b.device.written.length === 1)
  t.equal(b.device.take()[0]!.length, 1472)
})

t.test('too big without DF is dropped and counted, without ICMP', async (t) => {
  const { a, stop } = memoryPair()
  t.teardown(stop)
  a.device.inject(ipv4({ src: '10.244.1.2', dst: '10.244.2.3', flagsFragment: 0, payload: new Uint8Array(1500) }))
  await settle()
  t.equal(a.device.written.length, 0)
  t.equal(a.engine.counters().drops.tun_too_big, 1)
})

t.test('no ICMP error about an ICMP error', async (t) => {
  const { a, stop } = memoryPair()
  t.teardown(stop)
  a.device.inject(icmpEcho('10.244.1.2', '10.244.9.9', 1, 64, 3))
  await settle()
  t.equal(a.device.written.length, 0)
  t.equal(a.engine.counters().drops.tun_no_route, 1)
})

t.test('no ICMP error about a non-first fragment', async (t) => {
  const { a, stop } = memoryPair()
  t.teardown(stop)
  a.device.inject(ipv4({ src: '10.244.1.2', dst: '10.244.9.9', flagsFragment: 0x0020, payload: new Uint8Array(8) }))
  await settle()
  t.equal(a.device.written.length, 0)
})

t.test('ICMP errors are rate limited: a burst of 500 yields at most the burst allowance', async (t) => {
  const { a, stop } = memoryPair()
  t.teardown(stop)
  for (let i = 0; i < 500; i++) a.device.inject(udpPacket('10.244.1.2', '10.244.9.9', 1, 2, new Uint8Array(4)))
  await until(() => a.engine.counters().drops.tun_no_route === 500)
  const c = a.engine.counters()
  t.ok(c.icmpSent >= 50 && c.icmpSent < 100, `sent ${c.icmpSent}`)
  t.equal(c.icmpSent + c.icmpRateLimited, 500)
})

t.test('a non-IPv4 frame from the TUN is dropped as malformed', async (t) => {
  const { a, stop } = memoryPair()
  t.teardown(stop)
  const v6 = new Uint8Array(40)
  v6[0] = 0x60
  a.device.inject(v6)
  a.device.inject(new Uint8Array(3))
  await settle()
  t.equal(a.engine.counters().drops.tun_malformed, 2)
  t.equal(a.device.written.length, 0)
})
