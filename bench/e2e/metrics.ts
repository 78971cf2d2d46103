/** What the end-to-end benchmark reports, and the statistics over rounds (median, ratio to a baseline). */

export type MetricKey =
  | 'tcp1Gbps'
  | 'tcp4Gbps'
  | 'udp64Kpps'
  | 'udp64LossPct'
  | 'latP50Us'
  | 'latP99Us'
  | 'cpuSecPerGB'
  | 'cpuAllSecPerGB'
  | 'peakRssMiB'

export interface MetricDef {
  key: MetricKey
  label: string
  unit: string
  better: 'higher' | 'lower'
  /** One sentence on how it is measured. */
  how: string
}

export const METRICS: readonly MetricDef[] = [
  { key: 'tcp1Gbps', label: 'TCP, 1 stream', unit: 'Gbit/s', better: 'higher', how: 'iperf3 pod to pod, receiver throughput' },
  { key: 'tcp4Gbps', label: 'TCP, 4 streams', unit: 'Gbit/s', better: 'higher', how: 'iperf3 -P 4, receiver throughput' },
  { key: 'udp64Kpps', label: 'UDP 64 B delivered', unit: 'kpps', better: 'higher', how: 'iperf3 -u -l 64 -b 0, datagrams that arrived per second' },
  { key: 'udp64LossPct', label: 'UDP 64 B loss', unit: '%', better: 'lower', how: 'same test, lost / sent' },
  { key: 'latP50Us', label: 'latency p50 (one-way)', unit: 'us', better: 'lower', how: 'sockperf ping-pong 64 B UDP, RTT/2' },
  { key: 'latP99Us', label: 'latency p99 (one-way)', unit: 'us', better: 'lower', how: 'sockperf ping-pong 64 B UDP, RTT/2' },
  {
    key: 'cpuSecPerGB',
    label: 'CPU per GB (data plane)',
    unit: 's/GB',
    better: 'lower',
    how: 'during TCP 1 stream: tartan processes (utime+stime) + machine-wide softirq, per 10^9 bytes received',
  },
  {
    key: 'cpuAllSecPerGB',
    label: 'CPU per GB (incl. iperf3)',
    unit: 's/GB',
    better: 'lower',
    how: 'as above plus the iperf3 client and server (their own cpu_utilization), which carry in-kernel encapsulation done in process context',
  },
  { key: 'peakRssMiB', label: 'tartan peak RSS', unit: 'MiB', better: 'lower', how: 'max VmHWM of the tartan engine processes' },
]

export type Metrics = Record<MetricKey, number | null>

/** A Metrics object with every value null. */
export function emptyMetrics(): Metrics {
  const m = {} as Metrics
  for (const d of METRICS) m[d.key] = null
  return m
}

/** Median of the non-null values, or null if there are none. */
export function median(values: readonly (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const mid = v.length >> 1
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}

/** value / baseline, or null when either is missing or the baseline is 0. */
export function ratio(value: number | null, baseline: number | null): number | null {
  if (value === null || baseline === null || baseline === 0) return null
  return value / baseline
}

/** Formats a metric value with precision suited to its size. */
export function formatValue(v: number | null): string {
  if (v === null) return '-'
  const a = Math.abs(v)
  if (a >= 100) return v.toFixed(0)
  if (a >= 10) return v.toFixed(1)
  if (a >= 1) return v.toFixed(2)
  return v.toFixed(3)
}
