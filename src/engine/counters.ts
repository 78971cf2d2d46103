/**
 * The engine's counters, all in one Float64Array (exact up to 2^53) so the hot loop increments numbers in
 * place: totals, drops by reason, ICMP errors, and a histogram of batch sizes per direction.
 */
import { DROP_REASON_COUNT, DROP_REASON_NAMES } from './drop-reasons.js'
import type { OffloadInfo } from '../io/device.js'
import type { BusyPollStats } from '../io/busy-poll.js'

export const C_TX_PACKETS = 0
export const C_TX_BYTES = 1
export const C_RX_PACKETS = 2
export const C_RX_BYTES = 3
export const C_ICMP_SENT = 4
export const C_ICMP_RATE_LIMITED = 5
export const C_TX_BLOCKED = 6
export const C_WAKEUPS = 7
export const C_CONTROL_REPLIES = 8
export const C_DROPS = 9
/** Batch-size histogram buckets: bucket k counts batches of size in [2^k, 2^(k+1)), k = 0..BATCH_BUCKETS-1. */
export const BATCH_BUCKETS = 11
export const C_TUN_BATCHES = C_DROPS + DROP_REASON_COUNT
export const C_UDP_BATCHES = C_TUN_BATCHES + BATCH_BUCKETS
/** Packets read in all TUN / UDP batches (the histograms' sums). */
export const C_TUN_BATCH_PACKETS = C_UDP_BATCHES + BATCH_BUCKETS
export const C_UDP_BATCH_PACKETS = C_TUN_BATCH_PACKETS + 1
export const COUNTER_SLOTS = C_UDP_BATCH_PACKETS + 1

/** Bucket index of a batch of n >= 1 packets: floor(log2(n)), capped. */
export function batchBucket(n: number): number {
  const k = 31 - Math.clz32(n)
  return k < BATCH_BUCKETS ? k : BATCH_BUCKETS - 1
}

export interface BatchHistogram {
  /** Upper bound (exclusive) of each bucket's batch size: 2, 4, 8, ... */
  bounds: number[]
  counts: number[]
  /** Packets in all batches (the sum of the batch sizes). */
  packets: number
}

export interface EngineCounters {
  txPackets: number
  txBytes: number
  rxPackets: number
  rxBytes: number
  icmpSent: number
  icmpRateLimited: number
  /** Times the UDP socket was full and the TUN side paused until it drained. */
  txBlocked: number
  /** Readiness wakeups handled (both directions). */
  wakeups: number
  /** Control frames answered (VXLAN ARP replies). */
  controlReplies: number
  drops: Record<string, number>
  tunBatches: BatchHistogram
  udpBatches: BatchHistogram
  /** Offloads in use by the TUN device and the UDP bind, with their counters (absent for in-memory I/O). */
  offload?: { tun?: OffloadInfo; udp?: OffloadInfo }
  /** Busy polling (Engine option busyPollUs), when on. */
  busyPoll?: BusyPollStats
}

/** A readable snapshot of the counter array. */
export function snapshotCounters(c: Float64Array): EngineCounters {
  const drops: Record<string, number> = {}
  for (let i = 0; i < DROP_REASON_COUNT; i++) drops[DROP_REASON_NAMES[i]!] = c[C_DROPS + i]!
  const hist = (base: number, sum: number): BatchHistogram => ({
    bounds: Array.from({ length: BATCH_BUCKETS }, (_, k) => 2 ** (k + 1)),
    counts: Array.from(c.subarray(base, base + BATCH_BUCKETS)),
    packets: c[sum]!,
  })
  return {
    txPackets: c[C_TX_PACKETS]!,
    txBytes: c[C_TX_BYTES]!,
    rxPackets: c[C_RX_PACKETS]!,
    rxBytes: c[C_RX_BYTES]!,
    icmpSent: c[C_ICMP_SENT]!,
    icmpRateLimited: c[C_ICMP_RATE_LIMITED]!,
    txBlocked: c[C_TX_BLOCKED]!,
    wakeups: c[C_WAKEUPS]!,
    controlReplies: c[C_CONTROL_REPLIES]!,
    drops,
    tunBatches: hist(C_TUN_BATCHES, C_TUN_BATCH_PACKETS),
    udpBatches: hist(C_UDP_BATCHES, C_UDP_BATCH_PACKETS),
  }
}
