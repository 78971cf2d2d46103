/**
 * Bounded busy polling: a group keeps polling its fds after a wakeup and runs the readable handler of one
 * that becomes ready, without the event loop turning in between; it stops after the idle time and skips
 * members whose reads are paused.
 */
import t, { type Test } from 'tap'
import { BusyPoll } from '../../src/io/busy-poll.js'
import { PacketBatch } from '../../src/io/packet-batch.js'
import { UdpBind } from '../../src/io/udp-bind.js'
import { loopbackUp, makeNetns, nativeSkipReason } from '../native/fixtures/native-env.js'
import { ip } from './fixtures/offload.js'

const skip = nativeSkipReason()
const A = '198.18.0.1'
const B = '198.18.0.2'

function pair(t: Test): { a: UdpBind; b: UdpBind } {
  const ns = makeNetns(t)
  loopbackUp(ns, A, B)
  const a = UdpBind.open({ address: A, port: 0, netns: ns })
  t.teardown(() => a.close())
  const b = UdpBind.open({ address: B, port: 0, netns: ns })
  t.teardown(() => b.close())
  return { a, b }
}

function sendOne(a: UdpBind, b: UdpBind, tx: PacketBatch): void {
  tx.count = 0
  tx.push(tx.offsets[0]!, 32, ip(B), b.localPort)
  a.send(tx, 0)
}

t.test('datagrams that arrive while the group spins are handled in the same turn of the event loop', { skip }, async (t) => {
  const { a, b } = pair(t)
  const group = new BusyPoll(20_000, 500_000)
  b.joinBusyPoll(group)
  const tx = new PacketBatch(1)
  const rx = new PacketBatch(8)
  let turns = 0
  let ticking = true
  const tick = (): void => { turns++; if (ticking) setImmediate(tick) }
  setImmediate(tick)
  const seenAt: number[] = []
  await new Promise<void>((resolve) => {
    b.onReadable(() => {
      b.read(rx)
      seenAt.push(turns)
      if (seenAt.length < 5) sendOne(a, b, tx)
      else resolve()
    })
    sendOne(a, b, tx)
  })
  ticking = false
  b.onReadable(null)
  t.equal(seenAt.length, 5)
  t.same(seenAt.slice(1), Array(4).fill(seenAt[0]), 'no event-loop turn between the five handlers')
})

t.test('the group stops after the idle time, and skips a member whose reads are paused', { skip }, async (t) => {
  const { a, b } = pair(t)
  const group = new BusyPoll(2_000)
  a.joinBusyPoll(group)
  b.joinBusyPoll(group)
  const rx = new PacketBatch(8)
  let calls = 0
  b.onReadable(() => { b.read(rx); calls++ })
  const started = performance.now()
  group.afterWakeup() // nothing arrives: returns after about idleUs
  const took = performance.now() - started
  t.ok(took >= 1.5 && took < 200, `returned after ${took.toFixed(2)} ms`)
  t.equal(calls, 0)
  b.onReadable(null)
  t.equal((() => { const s = performance.now(); group.afterWakeup(); return performance.now() - s })() < 1.5, true, 'no member reading: returns at once')
  b.joinBusyPoll(null)
  a.joinBusyPoll(null)
})

t.test('an idle time of 0 turns the group off', { skip }, async (t) => {
  const group = new BusyPoll(0)
  const s = performance.now()
  group.afterWakeup()
  t.ok(performance.now() - s < 5)
})
