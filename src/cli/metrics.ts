/**
 * The node's Prometheus metrics (prom-client, text format 0.0.4), read from the daemon's status at scrape
 * time: nothing is recorded on the packet path, the engine's counters are copied when Prometheus asks.
 * Names and labels are listed in docs/cli.md ("Metrics").
 */
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client'
import type { DaemonStatus } from '../daemon/daemon.js'
import type { BatchHistogram } from '../engine/counters.js'

export interface StatusSource {
  status(): DaemonStatus
}

/** How long one status snapshot serves the collectors of a scrape. */
const SNAPSHOT_TTL_MS = 200

type PeerField = 'rxPackets' | 'rxBytes' | 'txPackets' | 'txBytes' | 'txErrors'

/** A registry with every tartan metric (and Node.js process metrics) fed from `source`. */
export function createMetrics(source: StatusSource): Registry {
  const registry = new Registry()
  let snap: DaemonStatus | null = null
  let snapAt = -Infinity
  const status = (): DaemonStatus => {
    const now = performance.now()
    if (snap === null || now - snapAt > SNAPSHOT_TTL_MS) {
      snap = source.status()
      snapAt = now
    }
    return snap
  }
  const registers = [registry]

  const gauge = (name: string, help: string, value: (s: DaemonStatus) => number | null): void => {
    new Gauge({
      name, help, registers,
      collect() {
        const v = value(status())
        if (v === null) this.reset()
        else this.set(v)
      },
    })
  }
  /** A counter copied from a running total (reset, then increased to the current value). */
  const total = (name: string, help: string, value: (s: DaemonStatus) => number | undefined): void => {
    new Counter({
      name, help, registers,
      collect() {
        this.reset()
        const v = value(status())
        if (v !== undefined) this.inc(v)
      },
    })
  }

  gauge('tartan_ready', '1 once the data plane runs and subnet.env is written, else 0', (s) => (s.ready ? 1 : 0))
  new Gauge({
    name: 'tartan_node_info', help: 'Constant 1, labelled with this node\'s configuration',
    labelNames: ['backend', 'tun', 'public_ip', 'subnet', 'network'] as const, registers,
    collect() {
      const s = status()
      this.reset()
      this.set({
        backend: s.node.backend ?? '', tun: s.node.tun, public_ip: s.node.publicIp ?? '', subnet: s.lease?.subnet ?? '', network: s.node.network ?? '',
      }, 1)
    },
  })
  gauge('tartan_peers', 'Peers the data plane forwards to', (s) => s.peers.length)
  gauge('tartan_routes', 'Routes (peer subnets) in the route table', (s) => s.routes.length)
  gauge('tartan_lease_expiry_timestamp_seconds', 'When this node\'s lease expires unless renewed (Unix time)',
    (s) => (s.lease?.expiresAt == null ? null : s.lease.expiresAt / 1000))
  gauge('tartan_store_reachable', '1 while the lease store answers, else 0', (s) => (s.store.reachable ? 1 : 0))
  total('tartan_store_errors_total', 'Failed lease store operations: connection losses and failed renewals', (s) => s.store.errors)
  total('tartan_lease_renewals_total', 'Successful lease renewals', (s) => s.store.renewals)

  const peerCounter = (name: string, help: string, field: PeerField): void => {
    new Counter({
      name, help, labelNames: ['peer', 'subnet'] as const, registers,
      collect() {
        this.reset()
        for (const p of status().peers) this.inc({ peer: p.publicIp, subnet: p.subnet }, p[field])
      },
    })
  }
  peerCounter('tartan_peer_rx_packets_total', 'Packets received from a peer and delivered to local pods', 'rxPackets')
  peerCounter('tartan_peer_rx_bytes_total', 'Inner bytes received from a peer and delivered to local pods', 'rxBytes')
  peerCounter('tartan_peer_tx_packets_total', 'Packets encapsulated to a peer', 'txPackets')
  peerCounter('tartan_peer_tx_bytes_total', 'Inner bytes encapsulated to a peer', 'txBytes')
  peerCounter('tartan_peer_tx_errors_total', 'Datagrams to a peer the socket refused (e.g. no route to it)', 'txErrors')

  total('tartan_rx_packets_total', 'Packets delivered to local pods', (s) => s.counters?.rxPackets)
  total('tartan_rx_bytes_total', 'Bytes delivered to local pods', (s) => s.counters?.rxBytes)
  total('tartan_tx_packets_total', 'Packets encapsulated to peers', (s) => s.counters?.txPackets)
  total('tartan_tx_bytes_total', 'Inner bytes encapsulated to peers', (s) => s.counters?.txBytes)
  total('tartan_icmp_errors_sent_total', 'ICMP errors sent back to local pods', (s) => s.counters?.icmpSent)
  total('tartan_icmp_rate_limited_total', 'ICMP errors suppressed by the rate limit', (s) => s.counters?.icmpRateLimited)
  total('tartan_tx_blocked_total', 'Times the UDP socket was full and reading from the TUN paused', (s) => s.counters?.txBlocked)
  new Counter({
    name: 'tartan_drops_total', help: 'Packets dropped, by reason', labelNames: ['reason'] as const, registers,
    collect() {
      this.reset()
      const drops = status().counters?.drops ?? {}
      for (const [reason, n] of Object.entries(drops)) this.inc({ reason }, n)
    },
  })
  new Gauge({
    name: 'tartan_offload_active', help: '1 for each offload in use (TUN: vnet_hdr, tso, uso; UDP: gso, gro), 0 when refused or off',
    labelNames: ['device', 'feature'] as const, registers,
    collect() {
      this.reset()
      const off = status().counters?.offload
      for (const [device, info] of [['tun', off?.tun], ['udp', off?.udp]] as const) {
        for (const [feature, on] of Object.entries(info?.features ?? {})) this.set({ device, feature: snakeCase(feature) }, on ? 1 : 0)
      }
    },
  })
  total('tartan_busy_poll_spins_total', 'Times the engine kept polling after a wakeup instead of sleeping (busy polling)',
    (s) => s.counters?.busyPoll?.spins)
  total('tartan_busy_poll_seconds_total', 'Time spent busy polling, handling included', (s) => {
    const ms = s.counters?.busyPoll?.spinMs
    return ms === undefined ? undefined : ms / 1000
  })
  new Counter({
    name: 'tartan_busy_poll_backoffs_total', help: 'Times busy polling went quiet for 20 ms: after bulk traffic, or when another task wanted the core',
    labelNames: ['reason'] as const, registers,
    collect() {
      this.reset()
      const bp = status().counters?.busyPoll
      if (bp === undefined) return
      this.inc({ reason: 'bulk' }, bp.bulk)
      this.inc({ reason: 'contended' }, bp.contended)
    },
  })
  registry.registerMetric(batchHistogram(status) as unknown as Metric)
  collectDefaultMetrics({ register: registry })
  return registry
}

/** vnetHdr -> vnet_hdr: Prometheus label values in the style of its names. */
function snakeCase(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
}

/** tartan_batch_size{direction="tun"|"udp"}: packets per batch read, from the engine's power-of-two buckets. */
function batchHistogram(status: () => DaemonStatus): object {
  const name = 'tartan_batch_size'
  const help = 'Packets per batch read from the TUN device (direction="tun") or the UDP socket (direction="udp")'
  return {
    name, help, type: 'histogram', aggregator: 'sum',
    async get() {
      const c = status().counters
      const values: { metricName: string; labels: Record<string, string>; value: number }[] = []
      const add = (direction: string, h: BatchHistogram | undefined): void => {
        let cumulative = 0
        const counts = h?.counts ?? []
        // Bucket k holds batches of [2^k, 2^(k+1)) packets: le = 2^(k+1) - 1; the last bucket is open-ended.
        for (let k = 0; k < counts.length - 1; k++) {
          cumulative += counts[k]!
          values.push({ metricName: `${name}_bucket`, labels: { direction, le: String(2 ** (k + 1) - 1) }, value: cumulative })
        }
        cumulative += counts[counts.length - 1] ?? 0
        values.push({ metricName: `${name}_bucket`, labels: { direction, le: '+Inf' }, value: cumulative })
        values.push({ metricName: `${name}_sum`, labels: { direction }, value: h?.packets ?? 0 })
        values.push({ metricName: `${name}_count`, labels: { direction }, value: cumulative })
      }
      add('tun', c?.tunBatches)
      add('udp', c?.udpBatches)
      return { name, help, type: 'histogram', aggregator: 'sum', values }
    },
  }
}
