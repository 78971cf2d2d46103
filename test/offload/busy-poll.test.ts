/**
 * Bounded busy polling: a group keeps polling its fds after a wakeup and runs the readable handler of one
 * that becomes ready, without the event loop turning in between; it stops after the idle time, skips
 * members whose reads are paused, and gives the core up (and backs off) when another task wants it.
 */
import { spawn, spawnSync } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
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
  // contendedGapUs 0: the other test files running beside this one must not end the spin early.
  const group = new BusyPoll(20_000, { maxSpinUs: 500_000, contendedGapUs: 0 })
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
  const group = new BusyPoll(2_000, { contendedGapUs: 0 })
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

/** This thread's CPU affinity as taskset prints it (e.g. "0-1"), or null without taskset. */
function affinity(pid: number): string | null {
  const r = spawnSync('taskset', ['-pc', String(pid)], { encoding: 'utf8' })
  if (r.status !== 0) return null
  return r.stdout.trim().split(':').pop()!.trim()
}

const startAffinity = skip === undefined ? affinity(process.pid) : null
const tasksetSkip = skip ?? (startAffinity === null ? 'needs taskset (util-linux) to share one core with a busy process' : undefined)

t.test('a spin gives the core up when another task runs on it, and the group stays off for the back-off', { skip: tasksetSkip }, async (t) => {
  const original = startAffinity!
  const { a, b } = pair(t)
  const group = new BusyPoll(500_000, { maxSpinUs: 1_000_000, contendedGapUs: 200, backoffMs: 60_000 })
  b.joinBusyPoll(group)
  const rx = new PacketBatch(8)
  b.onReadable(() => { b.read(rx) })
  t.teardown(() => { b.onReadable(null); b.joinBusyPoll(null) })
  // A busy process (bounded to 10 s) and this thread share core 0: every yield of the spin lets it run.
  const hog = spawn('taskset', ['-c', '0', process.execPath, '-e', 'const end = Date.now() + 10000; while (Date.now() < end);'], { stdio: 'ignore' })
  t.teardown(() => { hog.kill('SIGKILL') })
  spawnSync('taskset', ['-pc', '0', String(process.pid)])
  t.teardown(() => { spawnSync('taskset', ['-pc', original, String(process.pid)]) })
  await sleep(100)

  const started = performance.now()
  group.afterWakeup() // nothing arrives; alone on the core it would spin for 500 ms
  const took = performance.now() - started
  t.ok(took < 250, `gave the core up after ${took.toFixed(1)} ms, not the 500 ms idle time`)
  t.equal(group.stats().contended, 1, 'counted as a contended spin')
  const again = performance.now()
  group.afterWakeup()
  t.ok(performance.now() - again < 5, 'within the back-off the next wakeup does not spin')
  t.equal(group.stats().contended, 1)
})

t.test('with a work meter, a wakeup that moved more than heavyBytes (bulk traffic) stops spinning for the back-off', { skip }, async (t) => {
  const { b } = pair(t)
  let moved = 0
  const group = new BusyPoll(20_000, { contendedGapUs: 0, work: () => moved, heavyBytes: 16_384, backoffMs: 100 })
  b.joinBusyPoll(group)
  const rx = new PacketBatch(8)
  b.onReadable(() => { b.read(rx) })
  t.teardown(() => { b.onReadable(null); b.joinBusyPoll(null) })
  const timed = (): number => { const s = performance.now(); group.afterWakeup(); return performance.now() - s }
  moved += 100 // one small request
  t.ok(timed() >= 15, 'after 100 bytes: spins for the idle time')
  moved += 65_536 // one TSO super-packet
  t.ok(timed() < 5, 'after 64 KiB: back to epoll at once')
  moved += 100
  t.ok(timed() < 5, 'a light wakeup within the back-off does not spin either')
  await sleep(120)
  moved += 100
  t.ok(timed() >= 15, 'after the back-off a light wakeup spins again')
})

t.test('a spin stops as soon as a readable fd brings bulk traffic', { skip }, async (t) => {
  const { a, b } = pair(t)
  let moved = 0
  const group = new BusyPoll(200_000, { maxSpinUs: 500_000, contendedGapUs: 0, work: () => moved })
  b.joinBusyPoll(group)
  const rx = new PacketBatch(8)
  let handled = 0
  b.onReadable(() => { handled += b.read(rx); moved += 65_536 })
  t.teardown(() => { b.onReadable(null); b.joinBusyPoll(null) })
  sendOne(a, b, new PacketBatch(1)) // ready before the spin starts: the first poll finds it
  const s = performance.now()
  group.afterWakeup()
  const took = performance.now() - s
  t.equal(handled, 1, 'the datagram was handled inside the spin')
  t.ok(took < 100, `returned after ${took.toFixed(1)} ms, not the 200 ms idle time`)
})
