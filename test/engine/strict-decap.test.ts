import t, { type Test } from 'tap'
import { memoryPair, settle, until } from '../helpers/memory-pair.js'
import { ip, ipv4, udpPacket } from '../helpers/packets.js'

const A = ip('198.18.0.1')
const good = () => udpPacket('10.244.1.2', '10.244.2.3', 1, 2, Buffer.from('payload!'))

/** Injects `count` copies of `payload` into node B's socket from `from`, then checks the named counter. */
async function expectDrops(t: Test, name: string, payload: Uint8Array, from = A, count = 3): Promise<void> {
  const { b, stop } = memoryPair()
  t.teardown(stop)
  for (let i = 0; i < count; i++) b.bind.deliver(payload, 0, payload.length, from, 8285)
  await until(() => b.engine.counters().drops[name] === count, 2000, `${name} == ${count}`)
  await settle()
  t.equal(b.device.written.length, 0, 'nothing reached the pod')
  const drops = b.engine.counters().drops
  const others = Object.entries(drops).filter(([k, v]) => k !== name && v !== 0)
  t.same(others, [], 'no other reason counted')
  // the engine keeps forwarding afterwards
  const ok = good()
  b.bind.deliver(ok, 0, ok.length, A, 8285)
  await until(() => b.device.written.length === 1)
}

t.test('a well-formed datagram from a known peer is delivered', async (t) => {
  const { b, stop } = memoryPair()
  t.teardown(stop)
  const p = good()
  b.bind.deliver(p, 0, p.length, A, 8285)
  await until(() => b.device.written.length === 1)
  t.same(Buffer.from(b.device.take()[0]!), Buffer.from(p), 'delivered unchanged')
})

t.test('unknown outer source: dropped (unknown_peer)', (t) => expectDrops(t, 'unknown_peer', good(), ip('198.18.0.77')))
t.test('truncated (shorter than an IPv4 header): dropped (truncated)', (t) => expectDrops(t, 'truncated', good().subarray(0, 19)))
t.test('empty datagram: dropped (truncated)', (t) => expectDrops(t, 'truncated', new Uint8Array(0)))
t.test('not IPv4 (version 6): dropped (not_ipv4)', (t) => {
  const p = good()
  p[0] = 0x65
  return expectDrops(t, 'not_ipv4', p)
})
t.test('IHL below 5: dropped (bad_ihl)', (t) => {
  const p = good()
  p[0] = 0x43
  return expectDrops(t, 'bad_ihl', p)
})
t.test('bad header checksum: dropped (bad_checksum)', (t) => {
  const p = good()
  p[11] ^= 0x55
  return expectDrops(t, 'bad_checksum', p)
})
t.test('total length differs from the datagram: dropped (length_mismatch)', (t) => {
  const p = Buffer.concat([good(), Buffer.from([0, 0])])
  return expectDrops(t, 'length_mismatch', p)
})
t.test('inner source outside the peer subnet (spoofed): dropped (spoofed_source)', (t) =>
  expectDrops(t, 'spoofed_source', udpPacket('10.244.3.2', '10.244.2.3', 1, 2, Buffer.from('x'))))
t.test('inner destination outside the local subnet: dropped, never relayed (not_local_destination)', (t) =>
  expectDrops(t, 'not_local_destination', udpPacket('10.244.1.2', '10.244.3.3', 1, 2, Buffer.from('x'))))
t.test('inner destination that is another peer\'s subnet: not relayed back out', async (t) => {
  const { a, b, stop } = memoryPair()
  t.teardown(stop)
  b.engine.addPeer({ publicIp: '198.18.0.3', subnet: '10.244.3.0/24' })
  const p = udpPacket('10.244.1.2', '10.244.3.3', 1, 2, Buffer.from('x'))
  b.bind.deliver(p, 0, p.length, A, 8285)
  await until(() => b.engine.counters().drops.not_local_destination === 1)
  t.equal(b.engine.counters().txPackets, 0, 'nothing sent')
  t.equal(a.engine.counters().rxPackets, 0)
})
t.test('TTL 0: dropped (ttl_zero)', (t) =>
  expectDrops(t, 'ttl_zero', ipv4({ src: '10.244.1.2', dst: '10.244.2.3', ttl: 0 })))
t.test('a flood of 10,000 garbage datagrams is counted exactly and forwarding continues', async (t) => {
  const { b, stop } = memoryPair()
  t.teardown(stop)
  let seed = 7
  const junk = new Uint8Array(64)
  for (let i = 0; i < 10000; i++) {
    for (let j = 0; j < junk.length; j++) junk[j] = (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24
    b.bind.deliver(junk, 0, (i % 64) + 1, A, 8285)
    if (i % 4000 === 3999) await settle(50)
  }
  await until(() => Object.values(b.engine.counters().drops).reduce((x, y) => x + y, 0) === 10000, 5000)
  t.equal(b.device.written.length, 0)
  const p = good()
  b.bind.deliver(p, 0, p.length, A, 8285)
  await until(() => b.device.written.length === 1)
})
