// UdpBind on loopback inside a namespace: recvmmsg/sendmmsg between two sockets, sender fields in host
// order, per-message errors, truncation and bind errors.
import t, { type Test } from 'tap'
import { PacketBatch } from '../../src/io/packet-batch.js'
import { UdpBind } from '../../src/io/udp-bind.js'
import { ip, loopbackUp, makeNetns, nativeSkipReason, sleep, within } from './fixtures/native-env.js'

const skip = nativeSkipReason()
const A = '198.18.0.1'
const B = '198.18.0.2'

function pair(t: Test): { a: UdpBind; b: UdpBind; ns: string } {
  const ns = makeNetns(t)
  loopbackUp(ns, A, B)
  const a = UdpBind.open({ address: A, port: 0, netns: ns })
  t.teardown(() => a.close())
  const b = UdpBind.open({ address: B, port: 9000, netns: ns })
  t.teardown(() => b.close())
  return { a, b, ns }
}

function fill(batch: PacketBatch, n: number, to: UdpBind, size: (i: number) => number): void {
  for (let i = 0; i < n; i++) {
    const len = size(i)
    batch.push(batch.slotBase(i) + batch.headroom, len, to.localAddr, to.localPort)
    for (let k = 0; k < len; k++) batch.bytes[batch.offsets[i]! + k] = (i + k) & 255
  }
}

function readableOnce(b: UdpBind): Promise<void> {
  return within<void>(2000, 'readable', (done) => b.onReadable(() => {
    b.onReadable(null)
    done()
  }))
}

t.test('open reports the bound address and the port the kernel chose', { skip }, async (t) => {
  const { a, b } = pair(t)
  t.equal(a.localAddr, ip(A))
  t.ok(a.localPort > 0, `ephemeral port ${a.localPort}`)
  t.equal(b.localAddr, 0xc6120002)
  t.equal(b.localPort, 9000)
})

t.test('datagrams cross between two binds with addrs/ports in host order and payloads intact', { skip }, async (t) => {
  const { a, b } = pair(t)
  const tx = new PacketBatch(16)
  fill(tx, 16, b, (i) => 1 + i * 50)
  const wait = readableOnce(b)
  t.equal(a.send(tx, 0), 16)
  t.same([...tx.status], new Array(16).fill(0))
  await wait
  const rx = new PacketBatch(32)
  t.equal(b.read(rx), 16)
  for (let i = 0; i < 16; i++) {
    t.equal(rx.addrs[i], 0xc6120001, `addr ${i}`)
    t.equal(rx.ports[i], a.localPort, `port ${i}`)
    t.equal(rx.lengths[i], 1 + i * 50)
    t.equal(rx.offsets[i], rx.slotBase(i) + rx.headroom)
    t.same(rx.bytes.subarray(rx.offsets[i], rx.offsets[i]! + rx.lengths[i]!), tx.bytes.subarray(tx.offsets[i], tx.offsets[i]! + tx.lengths[i]!))
    t.equal(rx.status[i], 0)
  }
})

t.test('send starts at `start` and a zero-length datagram is legal', { skip }, async (t) => {
  const { a, b } = pair(t)
  const tx = new PacketBatch(4)
  fill(tx, 4, b, (i) => (i === 3 ? 0 : 10))
  const wait = readableOnce(b)
  t.equal(a.send(tx, 2), 4)
  await wait
  await sleep(10)
  const rx = new PacketBatch(8)
  t.equal(b.read(rx), 2, 'only [2, 4) were sent')
  t.same([rx.lengths[0], rx.lengths[1]], [10, 0])
})

t.test('a message refused by the kernel gets its errno and the rest still go out', { skip }, async (t) => {
  const { a, b } = pair(t)
  const tx = new PacketBatch(5)
  fill(tx, 5, b, () => 20)
  tx.ports[1] = 0 // port 0 is not a destination: EINVAL from the kernel
  tx.offsets[3] = tx.buffer.byteLength - 5 // outside the slab: EINVAL from the addon, nothing read
  const wait = readableOnce(b)
  t.equal(a.send(tx, 0), 5)
  t.same([...tx.status], [0, 22, 0, 22, 0])
  await wait
  await sleep(10)
  const rx = new PacketBatch(8)
  t.equal(b.read(rx), 3)
  t.equal(b.read(rx), 0, 'and the socket has no pending error left')
})

t.test('a datagram larger than the slot is truncated and flagged EMSGSIZE', { skip }, async (t) => {
  const { a, b } = pair(t)
  const tx = new PacketBatch(2)
  fill(tx, 2, b, (i) => (i === 0 ? 1000 : 100))
  const wait = readableOnce(b)
  t.equal(a.send(tx, 0), 2)
  await wait
  await sleep(10)
  const rx = new PacketBatch(4, 256, 64) // 192 bytes of room per slot
  t.equal(b.read(rx), 2)
  t.equal(rx.lengths[0], 192)
  t.equal(rx.status[0], 90, 'EMSGSIZE')
  t.equal(rx.lengths[1], 100)
  t.equal(rx.status[1], 0)
})

t.test('binding a taken port fails with TARTAN_ERR_SOCKET (EADDRINUSE) and a hint', { skip }, async (t) => {
  const { b, ns } = pair(t)
  t.throws(() => UdpBind.open({ address: B, port: b.localPort, netns: ns }), {
    code: 'TARTAN_ERR_SOCKET',
    errno: 98,
    message: /Another socket is bound/,
  })
})

t.test('binding an address the namespace does not have fails with EADDRNOTAVAIL', { skip }, async (t) => {
  const ns = makeNetns(t)
  loopbackUp(ns) // with no local table at all the kernel lets any address bind
  t.throws(() => UdpBind.open({ address: '198.18.0.9', port: 0, netns: ns }), { code: 'TARTAN_ERR_SOCKET', errno: 99 })
  t.throws(() => UdpBind.open({ address: '198.18.0', port: 0, netns: ns }), { code: 'TARTAN_ERR_INVALID_ARGUMENT' })
  t.throws(() => UdpBind.open({ address: '0.0.0.0', port: 65536, netns: ns }), { code: 'TARTAN_ERR_INVALID_ARGUMENT' })
})

t.test('after close, read is 0 and send handles nothing', { skip }, async (t) => {
  const { a, b } = pair(t)
  a.close()
  a.close()
  const tx = new PacketBatch(2)
  fill(tx, 2, b, () => 10)
  t.equal(a.send(tx, 0), 0)
  t.equal(a.read(tx), 0)
  t.equal(tx.count, 0)
})
