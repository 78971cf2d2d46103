/**
 * Daemon: one complete tartan node, store-driven, as `tartan run` runs it and as agents embed it when they
 * want flanneld's behaviour in-process. Start-up follows flanneld's order:
 *
 *   network config (bootstrapped into an empty store if asked, else waited for) -> lease -> TUN -> data plane
 *   -> masquerade (--ip-masq) -> subnet.env -> ready
 *
 * and a failure at any step undoes the steps before it (no TUN, no nftables table, no subnet.env is left; the
 * lease is kept, as a restart reuses it). stop() undoes everything except the lease, unless asked to release
 * it. A lost lease stops the node (routes withdrawn, TUN removed) and is reported, as flanneld exits.
 */
import { EventEmitter } from 'node:events'
import { copyFileSync, renameSync, unlinkSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { formatCidr } from '../config/cidr.js'
import type { NetworkConfig } from '../config/network-config.js'
import { deriveVtepMac } from '../encap/vtep-mac.js'
import { Engine, type PeerUnreachable } from '../engine/engine.js'
import type { EngineCounters } from '../engine/counters.js'
import type { PeerInfo } from '../engine/peer-table.js'
import { TartanError } from '../errors.js'
import type { Lease, LeaseStore } from '../lease/lease-store.js'
import { Node } from '../node/node.js'
import type { PeerSpec } from '../node/peer-sink.js'
import { DEFAULT_SUBNET_FILE } from '../node/subnet-env.js'
import { formatMac } from '../wire/ethernet.js'
import { ipv4ToInt } from '../wire/ipv4-address.js'
import { DeferredPeerSink } from './deferred-sink.js'
import { installMasquerade, masqueradeTable, removeMasquerade } from './masquerade.js'
import { describeStore, openStore, type StoreSpec } from './store.js'
import { resolveUnderlay, type Underlay } from './underlay.js'

/** How often a node waiting for its network config looks again (flanneld: every second). */
const CONFIG_POLL_MS = 1000

/** Encapsulation overhead per backend (outer IPv4 20 + UDP 8; VXLAN adds 8 + inner Ethernet 14), as flannel. */
const OVERHEAD = { udp: 28, vxlan: 50 } as const

/** Free-text diagnostics from the layers below (lease policy, store decoding); events carry the rest. */
export interface DaemonLog {
  debug(message: string): void
  warn(message: string): void
}

export interface DaemonOptions {
  /** An open LeaseStore (the caller closes it), or how to open one (the daemon closes it). */
  store: LeaseStore | StoreSpec
  /** Network config JSON to write into the store when it holds none yet (flannel's net-conf.json). */
  network?: string
  /** The backend this node must run ('udp' | 'vxlan'); start fails when the store's config names another. */
  backend?: 'udp' | 'vxlan'
  /** Interface names or IPv4 addresses for inter-host traffic, tried in order (flanneld --iface). */
  iface?: string[]
  /** Regular expressions matched against addresses, then interface names, after `iface` (flanneld --iface-regex). */
  ifaceRegex?: string[]
  /** Use the interface the routing table sends this IPv4 address through, last (flanneld --iface-can-reach). */
  ifaceCanReach?: string
  /** The address peers send to, if not the interface's (flanneld --public-ip). */
  publicIp?: string
  /** Use this underlay instead of looking one up (embedders that know their addresses). */
  underlay?: Underlay
  /** Network namespace (name or path) to create the TUN device and UDP socket in; default: the current one.
   * Needs `underlay` (interfaces are looked up in the current namespace only) and no ipMasq. */
  netns?: string
  /** TUN device name; default 'tartan0'. */
  tunName?: string
  /** Where to write subnet.env; default /run/flannel/subnet.env; null: no file. */
  subnetFile?: string | null
  /** Install nftables masquerade for overlay traffic leaving the overlay (flanneld --ip-masq). */
  ipMasq?: boolean
  /** TUN offloads and UDP GSO/GRO, probed with a fallback (default true; see Engine option `offload`). */
  offload?: boolean
  /** Busy polling after traffic, in microseconds (see Engine option `busyPollUs`; default the engine's). */
  busyPollUs?: number
  /** Renew the lease this long before it expires (flanneld --subnet-lease-renew-margin); default 60 min. */
  renewMarginMs?: number
  /** Lease lifetime; default 24 h (flannel's). */
  leaseTtlMs?: number
  log?: DaemonLog
}

export interface DaemonEvents {
  /** The store holds no network config (and none was given): the daemon waits for one. Says how to add it. */
  'waiting-for-config': [message: string]
  'lease-acquired': [lease: Lease]
  'lease-renewed': [lease: Lease]
  /** The lease was deleted, expired or taken over: the node has stopped forwarding and is shutting down. */
  'lease-lost': [error: TartanError]
  'peer-added': [peer: Lease]
  'peer-removed': [peer: Lease]
  'store-unreachable': [error: TartanError]
  'store-restored': []
  /** The data plane refused a peer the store announced (e.g. two leases with one address). */
  'peer-rejected': [peer: PeerSpec | string, error: Error]
  'peer-unreachable': [peer: PeerUnreachable]
  drops: [drops: Record<string, number>]
  /** The data plane runs and subnet.env is written. */
  ready: []
  stopped: []
}

/** Everything `tartan status` shows, as JSON (GET /status). */
export interface DaemonStatus {
  ready: boolean
  node: {
    publicIp: string | null
    bindAddress: string | null
    iface: string | null
    tun: string
    mtu: number | null
    backend: string | null
    port: number | null
    vni: number | null
    vtepMac: string | null
    network: string | null
  }
  lease: { key: string; subnet: string; expiresAt: number | null } | null
  store: { description: string; reachable: boolean; errors: number; renewals: number }
  peers: PeerInfo[]
  routes: string[]
  counters: EngineCounters | null
}

type Step = () => Promise<void> | void

export class Daemon extends EventEmitter<DaemonEvents> {
  private readonly opts: DaemonOptions
  private readonly log: DaemonLog
  private readonly tunName: string
  private readonly subnetFile: string | null
  private storeHandle: LeaseStore | null = null
  private cfg: NetworkConfig | null = null
  private under: Underlay | null = null
  private mtuValue: number | null = null
  private vtep: string | null = null
  private nodeHandle: Node | null = null
  private engineHandle: Engine | null = null
  private readonly sink: DeferredPeerSink
  /** Undo steps for what start() built, run in reverse by teardown(). */
  private readonly undo: Step[] = []
  private state: 'new' | 'starting' | 'ready' | 'stopping' | 'stopped' = 'new'
  private startPromise: Promise<void> | null = null
  private stopPromise: Promise<void> | null = null
  private storeErrorCount = 0

  /** Checks nothing and touches nothing: start() does the work. */
  constructor(options: DaemonOptions) {
    super()
    this.opts = options
    this.log = options.log ?? { debug: () => undefined, warn: () => undefined }
    this.tunName = options.tunName ?? 'tartan0'
    this.subnetFile = options.subnetFile === undefined ? DEFAULT_SUBNET_FILE : options.subnetFile
    this.sink = new DeferredPeerSink((peer, err) => this.emit('peer-rejected', peer, err))
  }

  /** Whether the data plane runs and subnet.env is written. */
  get ready(): boolean {
    return this.state === 'ready'
  }

  get engine(): Engine | null {
    return this.engineHandle
  }

  get node(): Node | null {
    return this.nodeHandle
  }

  get config(): NetworkConfig | null {
    return this.cfg
  }

  get underlay(): Underlay | null {
    return this.under
  }

  get lease(): Lease | null {
    return this.nodeHandle?.lease ?? null
  }

  /** Runs the start-up sequence; rejects (after undoing every step) with a TartanError. Call once. */
  start(): Promise<void> {
    if (this.state !== 'new') return Promise.reject(new TartanError('TARTAN_ERR_STATE', 'Daemon.start() can be called once'))
    this.state = 'starting'
    this.startPromise = this.run().catch(async (err: unknown) => {
      await this.teardown()
      this.state = 'stopped'
      throw err
    })
    return this.startPromise
  }

  /** Stops forwarding, removes the TUN and masquerade table, and (with `release`) frees the lease. Idempotent. */
  stop(options: { release?: boolean } = {}): Promise<void> {
    if (this.stopPromise === null) this.stopPromise = this.doStop(options)
    return this.stopPromise
  }

  /** A snapshot of the node for `tartan status` and GET /status. */
  status(): DaemonStatus {
    const e = this.engineHandle
    const lease = this.lease
    const mgr = this.nodeHandle?.manager ?? null
    const stats = mgr?.stats()
    const b = this.cfg?.backend
    return {
      ready: this.ready,
      node: {
        publicIp: this.under?.publicIp ?? null,
        bindAddress: this.under?.bindAddress ?? null,
        iface: this.under?.iface ?? null,
        tun: e?.device.name ?? this.tunName,
        mtu: this.mtuValue,
        backend: b?.type ?? null,
        port: b?.port ?? null,
        vni: b?.type === 'vxlan' ? b.vni : null,
        vtepMac: this.vtep,
        network: this.cfg === null ? null : formatCidr(this.cfg.network),
      },
      lease: lease === null ? null : { key: lease.key, subnet: formatCidr(lease.subnet), expiresAt: lease.expiresAt ?? null },
      store: {
        description: this.storeHandle?.description ?? (isSpec(this.opts.store) ? describeStore(this.opts.store) : this.opts.store.description),
        reachable: mgr?.reachable ?? false,
        errors: this.storeErrors,
        renewals: stats?.renewals ?? 0,
      },
      peers: e?.peers() ?? [],
      routes: this.sink.peers().map((p) => p.subnet),
      counters: e?.counters() ?? null,
    }
  }

  /** Failed store operations this node saw: connection losses plus failed renewals. */
  get storeErrors(): number {
    return this.storeErrorCount + (this.nodeHandle?.manager?.stats().renewFailures ?? 0)
  }

  private async run(): Promise<void> {
    const o = this.opts
    if (o.netns !== undefined && (o.underlay === undefined || o.ipMasq === true)) {
      throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', 'Daemon: with netns, give the underlay explicitly and leave ipMasq off')
    }
    // 1. The store and its network config.
    let store: LeaseStore
    if (isSpec(o.store)) {
      store = await openStore(o.store, { warn: (m) => this.log.warn(m) })
      this.undo.push(() => store.close())
    } else {
      store = o.store
    }
    this.storeHandle = store
    this.checkStopping()
    const config = await this.networkConfig(store)
    this.cfg = config
    this.checkStopping()

    // 2. The underlay and what follows from it: MTU, VTEP MAC.
    const under = o.underlay ?? resolveUnderlay({ iface: o.iface, ifaceRegex: o.ifaceRegex, ifaceCanReach: o.ifaceCanReach, publicIp: o.publicIp })
    this.under = under
    const b = config.backend
    const mtu = b.type === 'vxlan' && b.mtu !== undefined ? b.mtu : under.mtu - OVERHEAD[b.type]
    this.mtuValue = mtu
    // Derived from the public address and the network, so it is known before the lease and stable across
    // restarts (peers' neighbour and FDB entries stay valid).
    const vtepMac = b.type === 'vxlan' ? formatMac(deriveVtepMac(ipv4ToInt(under.publicIp, 'public IP'), config.network)) : undefined
    this.vtep = vtepMac ?? null

    // 3. The lease. The Node reads the previous subnet from, and writes the new subnet.env to, a staging copy
    // that replaces the real file (atomically) only once the data plane runs.
    const staging = this.subnetFile === null ? null : stagingPath(this.subnetFile)
    if (staging !== null) {
      this.undo.push(() => unlinkQuiet(staging))
      try {
        copyFileSync(this.subnetFile!, staging)
      } catch {
        // No previous subnet.env (or unreadable: the Node then starts without a previous subnet).
      }
    }
    const node = new Node({
      store,
      sink: this.sink,
      publicIp: under.publicIp,
      vtepMac,
      config,
      subnetFile: staging,
      mtu,
      ipMasq: o.ipMasq ?? false,
      lease: { renewMarginMs: o.renewMarginMs, ttlMs: o.leaseTtlMs },
      logger: { info: (m) => this.log.debug(m), warn: (m) => this.log.warn(m) },
    })
    this.nodeHandle = node
    this.forwardNodeEvents(node)
    this.undo.push(() => node.stop({ release: this.releaseOnStop }))
    const lease = await node.start()
    this.checkStopping()

    // 4. The TUN device and the data plane.
    const engine = await Engine.create({
      tunName: this.tunName,
      network: formatCidr(config.network),
      subnet: formatCidr(lease.subnet),
      encapsulation: b.type === 'udp' ? 'flannel-udp' : 'vxlan',
      underlayMtu: mtu + OVERHEAD[b.type],
      underlayAddress: under.bindAddress,
      port: b.port,
      vni: b.type === 'vxlan' ? b.vni : undefined,
      vtepMac,
      netns: o.netns,
      offload: o.offload,
      busyPollUs: o.busyPollUs,
    })
    this.engineHandle = engine
    this.undo.push(async () => {
      this.sink.detach()
      await engine.stop()
    })
    engine.on('peer-unreachable', (p) => this.emit('peer-unreachable', p))
    engine.on('drops', (d) => this.emit('drops', d))
    this.sink.attach(engine)
    engine.start()
    this.checkStopping()

    // 5. Masquerade.
    if (o.ipMasq === true) {
      const table = masqueradeTable(engine.device.name)
      this.undo.push(async () => {
        if (!(await removeMasquerade(table))) this.log.warn(`could not delete nftables table ip ${table}; delete it with: nft delete table ip ${table}`)
      })
      await installMasquerade(table, config.network)
      this.checkStopping()
    }

    // 6. subnet.env, then ready.
    if (staging !== null) {
      try {
        renameSync(staging, this.subnetFile!)
      } catch (err) {
        throw new TartanError('TARTAN_ERR_SUBNET_FILE', `cannot write ${this.subnetFile}: ${(err as Error).message}`, { cause: err })
      }
    }
    this.state = 'ready'
    this.emit('ready')
  }

  /**
   * Reads the network config. A store without one gets options.network when given; otherwise the daemon
   * waits for one (polling every second), as flanneld does, until it appears or stop() is called. A store
   * that cannot be reached is an error.
   */
  private async networkConfig(store: LeaseStore): Promise<NetworkConfig> {
    const o = this.opts
    let config: NetworkConfig | undefined
    let announced = false
    while (config === undefined) {
      try {
        config = await store.getNetworkConfig()
        if (o.network !== undefined) this.log.debug(`${store.description} already holds a network config; --network is not used`)
      } catch (err) {
        if (!isMissingConfig(err)) throw err
        if (o.network !== undefined) {
          await store.putNetworkConfig(o.network)
          this.log.debug(`wrote the network config into ${store.description}`)
          continue
        }
        if (!announced) {
          announced = true
          this.emit('waiting-for-config', (err as Error).message)
        }
        await new Promise((r) => setTimeout(r, CONFIG_POLL_MS))
        this.checkStopping()
      }
    }
    if (o.backend !== undefined && config.backend.type !== o.backend) {
      throw new TartanError(
        'TARTAN_ERR_INVALID_CONFIG',
        `the network config in ${store.description} uses backend ${config.backend.type}, but this node was asked to run ${o.backend}; ` +
          'drop --backend or change the stored config',
      )
    }
    return config
  }

  private forwardNodeEvents(node: Node): void {
    node.on('lease-acquired', (l) => this.emit('lease-acquired', l))
    node.on('lease-renewed', (l) => this.emit('lease-renewed', l))
    node.on('peer-added', (l) => this.emit('peer-added', l))
    node.on('peer-removed', (l) => this.emit('peer-removed', l))
    node.on('store-unreachable', (e) => {
      this.storeErrorCount++
      this.emit('store-unreachable', e)
    })
    node.on('store-restored', () => this.emit('store-restored'))
    node.on('lease-lost', (e) => {
      this.emit('lease-lost', e)
      void this.stop()
    })
  }

  private releaseOnStop = false

  private async doStop(options: { release?: boolean }): Promise<void> {
    this.releaseOnStop = options.release === true
    if (this.state === 'new') {
      this.state = 'stopped'
      this.emit('stopped')
      return
    }
    if (this.state === 'starting') {
      this.state = 'stopping'
      // A Node still acquiring its lease gives up when stopped; start() then unwinds through teardown().
      await this.nodeHandle?.stop().catch(() => undefined)
      await this.startPromise?.catch(() => undefined)
    } else {
      this.state = 'stopping'
      await this.teardown()
    }
    this.state = 'stopped'
    this.emit('stopped')
  }

  /** Runs the undo steps in reverse; each failure is logged, none stops the rest. */
  private async teardown(): Promise<void> {
    while (this.undo.length > 0) {
      const step = this.undo.pop()!
      try {
        await step()
      } catch (err) {
        this.log.warn(`cleanup step failed: ${(err as Error).message}`)
      }
    }
  }

  private checkStopping(): void {
    if (this.state !== 'starting') throw new TartanError('TARTAN_ERR_STATE', 'stopped during start-up')
  }
}

/** Both stores report a missing config as TARTAN_ERR_INVALID_CONFIG saying "no network config". */
function isMissingConfig(err: unknown): boolean {
  return err instanceof TartanError && err.code === 'TARTAN_ERR_INVALID_CONFIG' && /no network config/.test(err.message)
}

function isSpec(s: LeaseStore | StoreSpec): s is StoreSpec {
  return typeof (s as StoreSpec).kind === 'string' && typeof (s as LeaseStore).list !== 'function'
}

/** The staging file next to subnet.env (same directory, so the final rename is atomic). */
function stagingPath(subnetFile: string): string {
  return join(dirname(subnetFile), `.${basename(subnetFile)}.tartan-${process.pid}.staging`)
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path)
  } catch {
    // already renamed into place, or never written
  }
}
