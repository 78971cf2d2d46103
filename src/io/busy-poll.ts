/**
 * Bounded busy polling shared by an engine's TUN device and UDP bind. After a readiness wakeup has been
 * handled, the group keeps polling its fds (natively, yielding the CPU between polls) for up to `idleUs`
 * microseconds and runs the readable handler of whichever fd becomes ready, so the next packet is caught
 * without the engine going back to sleep in epoll: each sleeping hop costs a process wakeup, several
 * microseconds of one-way latency. It returns to the event loop after `maxSpinUs` in all, so timers,
 * stdin and signals are never starved. Spinning is for light, request/response traffic, and never takes CPU
 * from work that needs it:
 * - with a `work` meter, a wakeup (or a readable fd during the spin) that moved more than `heavyBytes` is bulk
 *   traffic, which keeps the engine awake by itself: the group stops and stays off for `backoffMs`;
 * - when more than `contendedGapUs` pass between two polls, another task ran on the core in the yield, so the
 *   group stops and stays off for `backoffMs` too.
 * idleUs 0 turns it off.
 */
import { Errno } from '../errors.js'
import { native, type NativeAddon } from './native.js'

/** What a busy-poll group did so far (see BusyPoll.stats). */
export interface BusyPollStats {
  /** Spins started. */
  spins: number
  /** Milliseconds spent in them, handling included. */
  spinMs: number
  /** Back-offs because the members moved bulk traffic. */
  bulk: number
  /** Back-offs because another task ran on the core. */
  contended: number
}

export interface BusyPollOptions {
  /** Longest spin before returning to the event loop, so timers, stdin and signals run (default 2000 us). */
  maxSpinUs?: number
  /** A gap between two polls longer than this means the core is contended (default 200 us: a poll and a
   * sched_yield take a few microseconds on a free core, a request handled by an application woken on the same
   * core tens, and a bulk sender's time slice milliseconds). 0 never stops for contention. */
  contendedGapUs?: number
  /** How long the group stays off after bulk traffic or a contended spin (default 20 ms). */
  backoffMs?: number
  /** Bytes the members have moved so far (a counter that only grows); without it every wakeup may spin. */
  work?: () => number
  /** More bytes than this in one wakeup or one spin is bulk traffic (default 16384: a few MTU-sized packets
   * pass, one 64 KiB TSO super-packet or a GRO batch does not). */
  heavyBytes?: number
}

/** One member: an fd and the handler to run when it is readable (null while its owner paused reads). */
export interface BusyPollMember {
  readonly watchedFd: number
  readableHandler(): (() => void) | null
}

export class BusyPoll {
  readonly idleUs: number
  readonly maxSpinUs: number
  readonly contendedGapUs: number
  readonly backoffMs: number
  readonly heavyBytes: number
  private readonly work: (() => number) | null
  private lastWork = 0
  private readonly addon: NativeAddon
  private readonly members: BusyPollMember[] = []
  private readonly fds = new Int32Array(8)
  /** fdViews[n]: the first n fds, made once so a spin allocates nothing. */
  private readonly fdViews = Array.from({ length: 9 }, (_, n) => this.fds.subarray(0, n))
  private readonly handlers: ((() => void) | null)[] = []
  private spinning = false
  private quietUntil = 0
  private contendedCount = 0
  private spinCount = 0
  private spinMs = 0
  private bulkCount = 0

  constructor(idleUs: number, o: BusyPollOptions = {}) {
    this.idleUs = idleUs
    this.maxSpinUs = o.maxSpinUs ?? 2000
    this.contendedGapUs = o.contendedGapUs ?? 200
    this.backoffMs = o.backoffMs ?? 20
    this.heavyBytes = o.heavyBytes ?? 16384
    this.work = o.work ?? null
    this.addon = native()
  }

  /** Adds an fd to the group (at most 8). */
  add(member: BusyPollMember): void {
    if (this.members.length >= this.fds.length) throw new RangeError('a busy-poll group holds at most 8 fds')
    this.members.push(member)
  }

  /** Removes an fd (its owner is closing). */
  remove(member: BusyPollMember): void {
    const i = this.members.indexOf(member)
    if (i >= 0) this.members.splice(i, 1)
  }

  /** What the group did so far: spins started, milliseconds spent in them, back-offs for bulk traffic and
   * for a contended core. */
  stats(): BusyPollStats {
    return { spins: this.spinCount, spinMs: this.spinMs, bulk: this.bulkCount, contended: this.contendedCount }
  }

  /** Called by a member's poller after a wakeup's handlers ran: spins while traffic keeps coming. */
  afterWakeup(): void {
    if (this.spinning || this.idleUs <= 0) return
    if (this.work !== null && this.sawBulk()) return
    const now = performance.now()
    if (now < this.quietUntil) return
    this.spinning = true
    this.spinCount++
    const until = now + this.maxSpinUs / 1000
    try {
      while (performance.now() < until) {
        let n = 0
        for (const m of this.members) {
          const h = m.readableHandler()
          if (h === null) continue
          this.fds[n] = m.watchedFd
          this.handlers[n] = h
          n++
        }
        if (n === 0) break
        const bits = this.addon.spinPoll(this.fdViews[n]!, this.idleUs, this.contendedGapUs)
        if (bits === -Errno.EBUSY) { // another task ran on the core between two polls
          this.contendedCount++
          this.quietUntil = performance.now() + this.backoffMs
          break
        }
        if (bits <= 0) break
        for (let i = 0; i < n; i++) if ((bits & (1 << i)) !== 0) this.handlers[i]!()
        if (this.work !== null && this.sawBulk()) break
      }
    } finally {
      this.spinning = false
      this.spinMs += performance.now() - now
    }
  }

  /** True (and the group goes quiet for backoffMs) when the members moved more than heavyBytes since the last
   * look. */
  private sawBulk(): boolean {
    const moved = this.work!()
    const heavy = moved - this.lastWork > this.heavyBytes
    this.lastWork = moved
    if (heavy) {
      this.bulkCount++
      this.quietUntil = performance.now() + this.backoffMs
    }
    return heavy
  }
}
