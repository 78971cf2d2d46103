/**
 * UDP segmentation and receive coalescing through real sockets in a test namespace: equal-sized datagrams
 * to one destination leave in one UDP_SEGMENT send, arrive as one UDP_GRO message, and come out of
 * UdpBind.read as the original datagrams with their sender, both with the arena batch (zero copy) and with
 * a plain batch; a batch too small for a coalesced message gets the rest on the next read.
 */
import { execFileSync } from 'node:child_process'
import t, { type Test } from 'tap'
import { PacketBatch } from '../../src/io/packet-batch.js'
import { UdpBind } from '../../src/io/udp-bind.js'
import { loopbackUp, makeNetns, nativeSkipReason, sleep } from '../native/fixtures/native-env.js'
import { ip, pattern } from './fixtures/offload.js'

const skip = nativeSkipReason()

const A = '198.18.0.1'
const B = '198.18.0.2'

function pair(t: Test, offload = true): { a: UdpBind; b: UdpBind } {
  const ns = makeNetns(t)
  loopbackUp(ns, A, B)
  const a = UdpBind.open({ address: A, port: 0, netns: ns, offload })
  t.teardown(() => a.close())
  const b = UdpBind.open({ address: B, port: 0, netns: ns, offload })
  t.teardown(() => b.close())
  return { a, b }
}

/** Sends datagrams of the given sizes from a to b in one batch; returns their payloads. */
function sendAll(a: UdpBind, b: UdpBind, sizes: number[]): Uint8Array[] {
  const tx = new PacketBatch(Math.max(1, sizes.length), 4096)
  const sent = sizes.map((n, i) => pattern(n, i + 1))
  sent.forEach((p, i) => {
    tx.bytes.set(p, tx.offsets[i]!)
    tx.push(tx.offsets[i]!, p.length, ip(B), b.localPort)
  })
  tx.count = sizes.length
  if (a.send(tx, 0) !== sizes.length) throw new Error('send stopped short')
  return sent
}

function received(rx: PacketBatch): Uint8Array[] {
  return Array.from({ length: rx.count }, (_, i) => rx.bytes.slice(rx.offsets[i], rx.offsets[i]! + rx.lengths[i]!))
}

t.test('both ends report GSO and GRO on (and off when asked)', { skip }, async (t) => {
  const { a } = pair(t)
  t.same(a.offloadInfo().features, { gso: true, gro: true })
  const { a: plain } = pair(t, false)
  t.same(plain.offloadInfo(), { active: false, features: { gso: false, gro: false }, counters: {} })
})

t.test('equal datagrams and a shorter last one: one GSO send, one GRO message, the datagrams back in order', { skip }, async (t) => {
  const { a, b } = pair(t)
  const sizes = [...Array.from({ length: 20 }, () => 1000), 300]
  const sent = sendAll(a, b, sizes)
  await sleep(20)
  const rx = b.createReadBatch(64)
  t.ok(rx.buffer.byteLength > rx.capacity * rx.slotSize, 'the batch carries a receive arena')
  t.equal(b.read(rx), 21)
  t.same(received(rx), sent)
  t.same(Array.from(rx.addrs.subarray(0, 21)), Array(21).fill(ip(A)), 'sender address on every datagram')
  t.same(Array.from(rx.ports.subarray(0, 21)), Array(21).fill(a.localPort), 'sender port on every datagram')
  t.equal(a.offloadInfo().counters.gsoSends, 1)
  t.equal(a.offloadInfo().counters.gsoDatagrams, 21)
  t.equal(b.offloadInfo().counters.groReceives, 1)
  t.equal(b.offloadInfo().counters.groDatagrams, 21)
})

t.test('a plain receive batch gets the same datagrams (split by copying)', { skip }, async (t) => {
  const { a, b } = pair(t)
  const sent = sendAll(a, b, [1200, 1200, 1200, 50, 700])
  await sleep(20)
  const rx = new PacketBatch(16)
  t.equal(b.read(rx), 5)
  t.same(received(rx), sent)
})

t.test('a batch smaller than a coalesced message gets the rest on the next reads', { skip }, async (t) => {
  for (const arena of [true, false]) {
    const { a, b } = pair(t)
    const sent = sendAll(a, b, Array.from({ length: 10 }, () => 500))
    await sleep(20)
    const rx = arena ? b.createReadBatch(4) : new PacketBatch(4)
    const got: Uint8Array[] = []
    for (let k = 0; k < 5 && got.length < 10; k++) {
      b.read(rx)
      got.push(...received(rx))
    }
    t.same(got, sent, arena ? 'arena batch' : 'plain batch')
    t.ok(b.offloadInfo().counters.carried > 0, 'counted as carried')
  }
})

t.test('datagrams to different destinations or of growing size are not grouped', { skip }, async (t) => {
  const { a, b } = pair(t)
  const sent = sendAll(a, b, [100, 200, 200, 200])
  await sleep(20)
  const rx = b.createReadBatch(8)
  t.equal(b.read(rx), 4)
  t.same(received(rx), sent)
  t.equal(a.offloadInfo().counters.gsoDatagrams, 3, 'the larger datagrams after the small one form the group')
})

t.test('a datagram larger than a slot is cut to the slot and flagged EMSGSIZE, as without offloads', { skip }, async (t) => {
  const { a, b } = pair(t)
  sendAll(a, b, [3000])
  await sleep(20)
  const rx = b.createReadBatch(4)
  t.equal(b.read(rx), 1)
  t.equal(rx.lengths[0], rx.slotSize - rx.headroom)
  t.equal(rx.status[0], 90)
})

t.test('a GSO group refused for the path MTU (EMSGSIZE) goes out a datagram per message; GSO stays on', { skip }, async (t) => {
  // Two namespaces joined by a veth pair of MTU 1280: the kernel refuses a 1400-byte GSO segment, while a
  // plain 1400-byte datagram is fragmented and gets through.
  const ns1 = makeNetns(t)
  const ns2 = makeNetns(t)
  execFileSync('ip', ['-n', ns1, 'link', 'add', 'v0', 'mtu', '1280', 'type', 'veth', 'peer', 'name', 'v1', 'mtu', '1280', 'netns', ns2])
  execFileSync('ip', ['-n', ns1, 'addr', 'add', `${A}/24`, 'dev', 'v0'])
  execFileSync('ip', ['-n', ns2, 'addr', 'add', `${B}/24`, 'dev', 'v1'])
  execFileSync('ip', ['-n', ns1, 'link', 'set', 'v0', 'up'])
  execFileSync('ip', ['-n', ns2, 'link', 'set', 'v1', 'up'])
  const a = UdpBind.open({ address: A, port: 0, netns: ns1 })
  t.teardown(() => a.close())
  const b = UdpBind.open({ address: B, port: 0, netns: ns2 })
  t.teardown(() => b.close())
  const sent = sendAll(a, b, [1400, 1400, 1400])
  await sleep(50)
  const rx = b.createReadBatch(8)
  t.equal(b.read(rx), 3)
  t.same(received(rx), sent, 'every datagram arrived (fragmented by IP)')
  t.equal(a.offloadInfo().counters.gsoFallbacks, 1)
  t.equal(a.offloadInfo().features.gso, true, 'GSO stays on: the device can do it')
  const more = sendAll(a, b, [1000, 1000, 1000])
  await sleep(50)
  t.equal(b.read(rx), 3)
  t.same(received(rx), more)
  t.equal(a.offloadInfo().counters.gsoSends, 1, 'datagrams that fit go out with GSO again')
})
