/**
 * A token bucket for ICMP errors, as Linux limits them globally (net.ipv4.icmp_msgs_per_sec = 1000,
 * icmp_msgs_burst = 50): a flood of bad packets cannot turn the node into an ICMP reflector.
 */
export const ICMP_ERRORS_PER_SECOND = 1000
export const ICMP_ERRORS_BURST = 50

export class IcmpRateLimiter {
  private tokens: number
  private last: number

  constructor(
    private readonly perSecond = ICMP_ERRORS_PER_SECOND,
    private readonly burst = ICMP_ERRORS_BURST,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst
    this.last = now()
  }

  /** Takes one token; returns false (send nothing) when the bucket is empty. */
  take(): boolean {
    const t = this.now()
    const refill = ((t - this.last) * this.perSecond) / 1000
    if (refill > 0) {
      this.tokens = Math.min(this.burst, this.tokens + refill)
      this.last = t
    }
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}
