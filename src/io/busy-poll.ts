/**
 * Bounded busy polling shared by an engine's TUN device and UDP bind. After a readiness wakeup has been
 * handled, the group keeps polling its fds (natively, yielding the CPU between polls) for up to `idleUs`
 * microseconds and runs the readable handler of whichever fd becomes ready, so the next packet is caught
 * without the engine going back to sleep in epoll: each sleeping hop costs a process wakeup, several
 * microseconds of one-way latency. It returns to the event loop after `maxSpinUs` in all, so timers,
 * stdin and signals are never starved. idleUs 0 turns it off.
 */
import { native, type NativeAddon } from './native.js'

/** One member: an fd and the handler to run when it is readable (null while its owner paused reads). */
export interface BusyPollMember {
  readonly watchedFd: number
  readableHandler(): (() => void) | null
}

export class BusyPoll {
  readonly idleUs: number
  readonly maxSpinUs: number
  private readonly addon: NativeAddon
  private readonly members: BusyPollMember[] = []
  private readonly fds = new Int32Array(8)
  private readonly handlers: ((() => void) | null)[] = []
  private spinning = false

  constructor(idleUs: number, maxSpinUs = 2000) {
    this.idleUs = idleUs
    this.maxSpinUs = maxSpinUs
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

  /** Called by a member's poller after a wakeup's handlers ran: spins while traffic keeps coming. */
  afterWakeup(): void {
    if (this.spinning || this.idleUs <= 0) return
    this.spinning = true
    const until = performance.now() + this.maxSpinUs / 1000
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
        const bits = this.addon.spinPoll(this.fds.subarray(0, n), this.idleUs)
        if (bits <= 0) break
        for (let i = 0; i < n; i++) if ((bits & (1 << i)) !== 0) this.handlers[i]!()
      }
    } finally {
      this.spinning = false
    }
  }
}
