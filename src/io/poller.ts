/**
 * Readiness for one fd: a single native uv_poll shared by a readable and a writable handler, whose
 * interest bits follow the handlers that are set. Each handler runs at most once per event-loop wakeup.
 */
import { systemError, type TartanErrorCode } from '../errors.js'
import type { BusyPoll } from './busy-poll.js'
import { native, POLL_READABLE, POLL_WRITABLE, type NativeAddon } from './native.js'

export type ReadyHandler = () => void

export class FdPoller {
  private readonly addon: NativeAddon
  private readonly fd: number
  private readonly errorCode: TartanErrorCode
  private readonly what: string
  private handle: object | undefined
  private interest = 0
  private readable: ReadyHandler | null = null
  private writable: ReadyHandler | null = null
  private closed = false
  private busy: BusyPoll | null = null

  /** Watches `fd` (not yet: the native poll starts with the first handler). Errors use `errorCode`. */
  constructor(fd: number, errorCode: TartanErrorCode, what: string) {
    this.addon = native()
    this.fd = fd
    this.errorCode = errorCode
    this.what = what
  }

  /** Sets (or with null clears) the handler called when the fd is readable. */
  setReadable(handler: ReadyHandler | null): void {
    this.readable = handler
    this.sync()
  }

  /** Sets (or with null clears) the handler called when the fd is writable. */
  setWritable(handler: ReadyHandler | null): void {
    this.writable = handler
    this.sync()
  }

  /** The readable handler now set (null when reads are paused). */
  readableHandler(): ReadyHandler | null {
    return this.readable
  }

  /** Joins a busy-poll group: after each wakeup's handlers ran, the group spins over its fds (see busy-poll.ts). */
  joinBusyPoll(group: BusyPoll | null): void {
    if (this.busy !== null) this.busy.remove(this)
    this.busy = group
    if (group !== null) group.add(this)
  }

  /** The fd watched. */
  get watchedFd(): number {
    return this.fd
  }

  /** Stops watching for good; handlers are never called again. Idempotent. Call before closing the fd. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.readable = null
    this.writable = null
    this.joinBusyPoll(null)
    if (this.handle !== undefined) this.addon.pollClose(this.handle)
    this.handle = undefined
  }

  // Called by the addon once per wakeup with the ready events.
  private readonly onEvents = (events: number): void => {
    if ((events & POLL_READABLE) !== 0 && this.readable !== null) this.readable()
    // The readable handler may have closed us or cleared the writable handler.
    if ((events & POLL_WRITABLE) !== 0 && this.writable !== null) this.writable()
    if (this.busy !== null) this.busy.afterWakeup()
  }

  private sync(): void {
    if (this.closed) return
    const want = (this.readable !== null ? POLL_READABLE : 0) | (this.writable !== null ? POLL_WRITABLE : 0)
    if (want === this.interest) return
    if (this.handle === undefined) {
      if (want === 0) return
      const h = this.addon.pollStart(this.fd, want, this.onEvents)
      if (typeof h === 'number') throw systemError(this.errorCode, `watching ${this.what} for readiness`, -h, 'The fd is closed or already watched by another poller.')
      this.handle = h
    } else {
      const rc = this.addon.pollUpdate(this.handle, want)
      if (rc < 0) throw systemError(this.errorCode, `changing readiness interest of ${this.what}`, -rc, 'The fd may have been closed.')
    }
    this.interest = want
  }
}
