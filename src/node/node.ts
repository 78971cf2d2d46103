/**
 * Node: one tartan host's control plane. It ties a LeaseManager to a PeerSink (the engine) so that routes
 * follow leases: every peer lease of our backend becomes a route to that peer, changes are applied
 * atomically per store delivery, and a lost lease withdraws every route (this node stops forwarding). It
 * also publishes subnet.env for the container runtime and reads it back on restart to keep its subnet.
 */
import { EventEmitter } from 'node:events'
import { formatCidr, prefixContains, prefixesOverlap } from '../config/cidr.js'
import type { NetworkConfig } from '../config/network-config.js'
import { TartanError } from '../errors.js'
import { decodeVxlanBackendData, leaseAttrsFor, leaseMatchesBackend } from '../lease/lease-codec.js'
import {
  LeaseManager,
  type LeaseManagerEvents,
  type LeaseTimingOptions,
  type ManagerLogger,
  type PeerBatch,
  silentLogger,
} from '../lease/lease-manager.js'
import type { Lease, LeaseStore } from '../lease/lease-store.js'
import type { PeerSink, PeerSpec } from './peer-sink.js'
import { readPreviousSubnet, writeSubnetEnv } from './subnet-env.js'

export interface NodeOptions {
  store: LeaseStore
  sink: PeerSink
  /** This host's underlay address, published as the lease's PublicIP. */
  publicIp: string
  /** vxlan only: this node's VTEP MAC, published in BackendData. */
  vtepMac?: string
  /** The network config; read from the store when omitted. */
  config?: NetworkConfig
  /** Where to write subnet.env (and read the previous subnet from); null/omitted: no file. */
  subnetFile?: string | null
  /** FLANNEL_MTU (see overlayMtu); required with subnetFile. */
  mtu?: number
  /** FLANNEL_IPMASQ. Default false. */
  ipMasq?: boolean
  /** Lease timing (TTL, renew margin, retries, timers) for the LeaseManager. */
  lease?: LeaseTimingOptions
  logger?: ManagerLogger
}

export interface NodeEvents extends LeaseManagerEvents {
  /** The route view changed: exactly what was passed to the sink. */
  'routes-updated': [changes: { add: PeerSpec[]; remove: string[] }]
}

/** Why peer leases were not turned into routes (counted per lease version seen). */
export interface IgnoredPeers {
  /** BackendType other than ours (e.g. a flannel host-gw node). */
  otherBackend: number
  /** Subnet not inside our Network. */
  outsideNetwork: number
  /** Subnet overlapping our own lease. */
  overlapsOwn: number
  /** vxlan BackendData without a usable VtepMAC. */
  badBackendData: number
}

const FORWARDED: (keyof LeaseManagerEvents)[] = [
  'lease-acquired',
  'lease-renewed',
  'lease-lost',
  'peer-added',
  'peer-removed',
  'peer-changed',
  'peers-changed',
  'store-unreachable',
  'store-restored',
]

export class Node extends EventEmitter<NodeEvents> {
  private readonly opts: NodeOptions
  private readonly log: ManagerLogger
  private mgr: LeaseManager | null = null
  private cfg: NetworkConfig | null = null
  private readonly routed = new Map<string, PeerSpec>()
  private readonly ignoredCounts: IgnoredPeers = { otherBackend: 0, outsideNetwork: 0, overlapsOwn: 0, badBackendData: 0 }
  private started = false

  /** Checks the options; nothing happens until start(). */
  constructor(options: NodeOptions) {
    super()
    if (options.subnetFile != null && options.mtu === undefined) {
      throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', 'Node: an mtu is needed to write subnet.env (FLANNEL_MTU)')
    }
    this.opts = options
    this.log = options.logger ?? silentLogger
  }

  get config(): NetworkConfig | null {
    return this.cfg
  }

  get lease(): Lease | null {
    return this.mgr?.lease ?? null
  }

  get manager(): LeaseManager | null {
    return this.mgr
  }

  /** The peers currently handed to the sink, by subnet. */
  routes(): PeerSpec[] {
    return [...this.routed.values()]
  }

  ignored(): IgnoredPeers {
    return { ...this.ignoredCounts }
  }

  /**
   * Reads the config (unless given), acquires a lease, routes to the current peers, writes subnet.env and
   * keeps all of it current. Rejects with the LeaseManager's errors or TARTAN_ERR_SUBNET_FILE.
   */
  async start(): Promise<Lease> {
    if (this.started) throw new TartanError('TARTAN_ERR_STATE', 'Node.start() can be called once')
    this.started = true
    const o = this.opts
    const config = o.config ?? (await o.store.getNetworkConfig())
    this.cfg = config
    const attrs = leaseAttrsFor(config, o.publicIp, o.vtepMac)
    let previousSubnet = null
    if (o.subnetFile != null) {
      const prev = readPreviousSubnet(o.subnetFile)
      if (prev.warning !== undefined) this.log.warn(prev.warning)
      previousSubnet = prev.subnet
    }
    const mgr = new LeaseManager({ ...o.lease, store: o.store, config, attrs, previousSubnet, logger: this.log })
    this.mgr = mgr
    for (const name of FORWARDED) {
      mgr.on(name, (...args: unknown[]) => (this.emit as (n: string, ...a: unknown[]) => boolean)(name, ...args))
    }
    // Prepended: the routes are withdrawn before any listener hears about the loss.
    mgr.prependListener('lease-lost', () => this.withdrawAll())
    mgr.on('peers-changed', (batch) => this.applyBatch(batch))
    let lease: Lease
    try {
      lease = await mgr.start()
    } catch (err) {
      this.withdrawAll()
      throw err
    }
    if (o.subnetFile != null) {
      try {
        writeSubnetEnv(o.subnetFile, { network: config.network, subnet: lease.subnet, mtu: o.mtu!, ipMasq: o.ipMasq ?? false })
      } catch (err) {
        await mgr.stop()
        this.withdrawAll()
        throw err
      }
    }
    return lease
  }

  /** Stops renewing and watching and withdraws every route; with `release`, frees our subnet at once. */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    await this.mgr?.stop(options)
    this.withdrawAll()
  }

  private applyBatch(batch: PeerBatch): void {
    const add: PeerSpec[] = []
    const remove: string[] = []
    const drop = (l: Lease): void => {
      const spec = this.routed.get(l.key)
      if (spec !== undefined) {
        this.routed.delete(l.key)
        remove.push(spec.subnet)
      }
    }
    const take = (l: Lease): void => {
      const spec = this.peerSpec(l)
      if (spec !== undefined) {
        this.routed.set(l.key, spec)
        add.push(spec)
      }
    }
    for (const l of batch.removed) drop(l)
    for (const c of batch.changed) {
      drop(c.previous)
      take(c.lease)
    }
    for (const l of batch.added) take(l)
    this.push({ add, remove })
  }

  /** The route for a peer lease, or undefined (counted) when it must not be routed. */
  private peerSpec(l: Lease): PeerSpec | undefined {
    const cfg = this.cfg!
    if (!leaseMatchesBackend(l.attrs, cfg.backend.type)) {
      this.ignoredCounts.otherBackend++
      this.log.info(`ignoring ${l.key}: backend ${JSON.stringify(l.attrs.backendType)} is not ${cfg.backend.type}`)
      return undefined
    }
    if (!prefixContains(cfg.network, l.subnet.addr) || l.subnet.len < cfg.network.len) {
      this.ignoredCounts.outsideNetwork++
      this.log.warn(`ignoring lease ${l.key} of ${l.attrs.publicIp}: outside the network ${formatCidr(cfg.network)}`)
      return undefined
    }
    const own = this.mgr?.lease
    if (own != null && prefixesOverlap(own.subnet, l.subnet)) {
      this.ignoredCounts.overlapsOwn++
      this.log.warn(`ignoring lease ${l.key} of ${l.attrs.publicIp}: it overlaps our own ${formatCidr(own.subnet)}`)
      return undefined
    }
    const spec: PeerSpec = { publicIp: l.attrs.publicIp, port: cfg.backend.port, subnet: formatCidr(l.subnet) }
    if (cfg.backend.type === 'vxlan') {
      const d = decodeVxlanBackendData(l.attrs.backendData)
      if (!d.ok) {
        this.ignoredCounts.badBackendData++
        this.log.warn(`ignoring lease ${l.key} of ${l.attrs.publicIp}: ${d.reason}`)
        return undefined
      }
      spec.vtepMac = d.value.vtepMac
    }
    return spec
  }

  private withdrawAll(): void {
    if (this.routed.size === 0) return
    const remove = [...this.routed.values()].map((s) => s.subnet)
    this.routed.clear()
    this.push({ add: [], remove })
  }

  private push(changes: { add: PeerSpec[]; remove: string[] }): void {
    if (changes.add.length === 0 && changes.remove.length === 0) return
    this.opts.sink.updatePeers(changes)
    this.emit('routes-updated', changes)
  }
}
