// Readiness through uv_poll: one JS call per wakeup, interest changes, pollClose, and the guard that keeps
// a watched fd from being closed under libuv. All sockets live on loopback in a test namespace.
import t, { type Test } from 'tap'
import { native, POLL_READABLE, POLL_WRITABLE } from '../../src/io/native.js'
import { withNetns } from '../../src/io/netns.js'
import { PacketBatch } from '../../src/io/packet-batch.js'
import { UdpBind } from '../../src/io/udp-bind.js'
import { ip, loopbackUp, makeNetns, nativeSkipReason, sleep, within } from './fixtures/native-env.js'

const skip = nativeSkipReason()
const A = '198.18.0.1'
const B = '198.18.0.2'
const EBADF = 9
const EBUSY = 16
const EEXIST = 17

interface Rig {
  ns: string
  sender: UdpBind
  /** A raw socket fd bound to B:9000, owned by the test. */
  fd: number
  burst(n: number): void
}

function rig(t: Test): Rig {
  const ns = makeNetns(t)
  loopbackUp(ns, A, B)
  const sender = UdpBind.open({ address: A, port: 0, netns: ns })
  t.teardown(() => sender.close())
  const fd = withNetns(ns, () => native().udpOpen(ip(B), 9000, 0))
  t.ok(fd >= 0, 'raw socket opened')
  t.teardown(() => {
    native().close(fd)
  })
  const tx = new PacketBatch(16)
  const burst = (n: number): void => {
    tx.count = 0
    for (let i = 0; i < n; i++) tx.push(tx.slotBase(i) + tx.headroom, 8, ip(B), 9000)
    if (sender.send(tx, 0) !== n) throw new Error('burst not sent')
  }
  return { ns, sender, fd, burst }
}

t.test('onReadable runs once per wakeup however many datagrams are waiting', { skip }, async (t) => {
  const { ns, sender } = rig(t)
  const recv = UdpBind.open({ address: B, port: 9001, netns: ns })
  t.teardown(() => recv.close())
  const tx = new PacketBatch(8)
  for (let i = 0; i < 5; i++) tx.push(tx.slotBase(i) + tx.headroom, 4, ip(B), 9001)
  const rx = new PacketBatch(16)
  const calls: number[] = []
  recv.onReadable(() => calls.push(recv.read(rx)))
  t.equal(sender.send(tx, 0), 5)
  await sleep(100)
  t.same(calls, [5], 'one call that read all five')
  tx.count = 3
  t.equal(sender.send(tx, 0), 3)
  await sleep(100)
  t.same(calls, [5, 3], 'the next burst is the next wakeup')
  recv.onReadable(null)
  t.equal(sender.send(tx, 0), 3)
  await sleep(50)
  t.same(calls, [5, 3], 'no calls once the handler is cleared')
})

t.test('the callback gets the ready events as a bitmask', { skip }, async (t) => {
  const { fd, burst } = rig(t)
  const a = native()
  const seen: number[] = []
  const h = a.pollStart(fd, POLL_WRITABLE, (ev) => seen.push(ev))
  t.type(h, 'object')
  t.teardown(() => a.pollClose(h as object))
  await sleep(30)
  t.ok(seen.length >= 1 && seen.every((e) => e === POLL_WRITABLE), `writable only: ${seen.join(',')}`)
  burst(1)
  seen.length = 0
  t.equal(a.pollUpdate(h as object, POLL_READABLE | POLL_WRITABLE), 0)
  const first = await within<number>(1000, 'a wakeup', (done) => {
    const poll = setInterval(() => {
      if (seen.length > 0) {
        clearInterval(poll)
        done(seen[0]!)
      }
    }, 5)
  })
  t.equal(first, POLL_READABLE | POLL_WRITABLE, 'both bits in one call')
  a.pollClose(h as object)
})

t.test('pollUpdate(0) pauses, a new interest resumes, pollClose stops for good', { skip }, async (t) => {
  const { fd, burst } = rig(t)
  const a = native()
  let calls = 0
  const h = a.pollStart(fd, POLL_READABLE, () => calls++) as object
  burst(1) // never read: level-triggered readiness wakes every loop turn
  await sleep(30)
  t.ok(calls > 1, `keeps firing while data waits (${calls})`)
  t.equal(a.pollUpdate(h, 0), 0)
  const paused = calls
  await sleep(30)
  t.equal(calls, paused, 'paused')
  t.equal(a.pollUpdate(h, POLL_READABLE), 0)
  await sleep(30)
  t.ok(calls > paused, 'resumed')
  a.pollClose(h)
  const closed = calls
  await sleep(30)
  t.equal(calls, closed, 'never called after pollClose')
  a.pollClose(h)
  t.equal(a.pollUpdate(h, POLL_READABLE), -EBADF, 'a closed poll cannot be re-armed')
})

t.test('pollClose from inside the callback stops it at once', { skip }, async (t) => {
  const { fd, burst } = rig(t)
  const a = native()
  let calls = 0
  const h: object = a.pollStart(fd, POLL_READABLE, () => {
    calls++
    a.pollClose(h)
  }) as object
  burst(2)
  await sleep(50)
  t.equal(calls, 1)
})

t.test('a watched fd cannot be closed or watched twice', { skip }, async (t) => {
  const { fd } = rig(t)
  const a = native()
  const h = a.pollStart(fd, POLL_READABLE, () => {}) as object
  t.equal(a.pollStart(fd, POLL_READABLE, () => {}), -EEXIST, 'one poll per fd')
  t.equal(a.close(fd), -EBUSY, 'close refused while polled')
  a.pollClose(h)
  const again = a.pollStart(fd, POLL_READABLE, () => {})
  t.type(again, 'object', 'watchable again after pollClose')
  a.pollClose(again as object)
})

t.test('onWritable calls its handler once and then disarms', { skip }, async (t) => {
  const { ns } = rig(t)
  const bind = UdpBind.open({ address: B, port: 9002, netns: ns })
  t.teardown(() => bind.close())
  let calls = 0
  bind.onWritable(() => calls++)
  await sleep(50)
  t.equal(calls, 1)
  let rearmed = 0
  bind.onWritable(() => {
    rearmed++
    if (rearmed < 3) bind.onWritable(() => rearmed++)
  })
  await sleep(50)
  t.equal(rearmed, 2, 'a handler may arm the next one')
  bind.onWritable(() => t.fail('cancelled'))
  bind.onWritable(null)
  await sleep(30)
})

t.test('closing a device stops its poll before the fd goes', { skip }, async (t) => {
  const { ns, sender } = rig(t)
  const recv = UdpBind.open({ address: B, port: 9003, netns: ns })
  let calls = 0
  recv.onReadable(() => calls++)
  recv.close()
  const tx = new PacketBatch(1)
  tx.push(tx.headroom, 4, ip(B), 9003)
  sender.send(tx, 0)
  await sleep(30)
  t.equal(calls, 0)
})
