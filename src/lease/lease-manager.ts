/**
 * LeaseManager: the lease policy, as flannel's etcd LocalManager (pkg/subnet/etcd/local_manager.go) runs it,
 * over any LeaseStore:
 *  - acquire: reuse the lease that carries our PublicIP, else the subnet recorded in subnet.env if it is
 *    still free, else a random free subnet among the first 100 from SubnetMin; retry when another node wins
 *    the race for the same subnet;
 *  - renew ahead of expiry (a configurable margin), retrying failed renewals;
 *  - watch all leases and report peers added, changed and removed (a snapshot after a gap is diffed);
 *  - if our own lease is deleted, expires or is taken over: stop, and report TARTAN_ERR_LEASE_LOST.
 */
import { EventEmitter } from 'node:events'
import { type Ipv4Prefix, formatCidr, prefixesEqual, prefixesOverlap, prefixSize } from '../config/cidr.js'
import { type NetworkConfig, subnetFitsConfig } from '../config/network-config.js'
import { TartanError } from '../errors.js'
import { type LeaseAttrs, subnetKey } from './lease-codec.js'
import { DEFAULT_LEASE_TTL_MS, type Lease, type LeaseStore, type StoreWatch, type WatchResult } from './lease-store.js'

/** flannel's --subnet-lease-renew-margin default: renew 60 minutes before expiry. */
export const DEFAULT_RENEW_MARGIN_MS = 60 * 60 * 1000
/** flannel retries a failed renewal after one minute. */
export const DEFAULT_RENEW_RETRY_MS = 60 * 1000
/** flannel's raceRetries: attempts to acquire before giving up. */
export const DEFAULT_RACE_RETRIES = 10
/** flannel picks at random among the first 100 free subnets (allocateSubnet). */
export const DEFAULT_CANDIDATES = 100

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
  /** Wall clock in ms, comparable with Lease.expiresAt. */
  now(): number
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  now: () => Date.now(),
}

export interface ManagerLogger {
  info(message: string): void
  warn(message: string): void
}

export const silentLogger: ManagerLogger = { info: () => undefined, warn: () => undefined }

export interface LeaseTimingOptions {
  /** Lease lifetime. Default 24 h (flannel). */
  ttlMs?: number
  /** Renew this long before expiry. Default min(60 min, ttl / 3); must be below the TTL. */
  renewMarginMs?: number
  /** Retry a failed renewal after this long. Default min(1 min, margin / 4). */
  retryMs?: number
  /** Acquisition attempts when other nodes win the races. Default 10. */
  raceRetries?: number
  /** How many free subnets, from SubnetMin up, to pick among at random. Default 100. */
  candidates?: number
  /** Uniform [0, 1) source for subnet choice and retry jitter. Default Math.random. */
  random?: () => number
  timers?: Timers
}

export interface LeaseManagerOptions extends LeaseTimingOptions {
  store: LeaseStore
  config: NetworkConfig
  /** What we publish (see leaseAttrsFor); attrs.publicIp identifies our lease across restarts. */
  attrs: LeaseAttrs
  /** The subnet recorded in subnet.env by a previous run, tried before a random one. */
  previousSubnet?: Ipv4Prefix | null
  logger?: ManagerLogger
}

export interface PeerBatch {
  readonly added: Lease[]
  readonly removed: Lease[]
  readonly changed: { readonly lease: Lease; readonly previous: Lease }[]
}

export interface LeaseManagerEvents {
  'lease-acquired': [lease: Lease]
  'lease-renewed': [lease: Lease]
  'lease-lost': [error: TartanError]
  'peer-added': [peer: Lease]
  'peer-removed': [peer: Lease]
  'peer-changed': [peer: Lease, previous: Lease]
  /** Every peer change of one store delivery, for applying atomically; emitted after the single events. */
  'peers-changed': [batch: PeerBatch]
  'store-unreachable': [error: TartanError]
  'store-restored': []
}

export interface LeaseManagerStats {
  acquireAttempts: number
  renewals: number
  renewFailures: number
  snapshots: number
}

type State = 'new' | 'starting' | 'running' | 'lost' | 'stopped'

const TRY_AGAIN = Symbol('try again')

function sameAttrs(a: LeaseAttrs, b: LeaseAttrs): boolean {
  return (
    a.publicIp === b.publicIp &&
    a.publicIpv6 === b.publicIpv6 &&
    a.backendType === b.backendType &&
    JSON.stringify(a.backendData) === JSON.stringify(b.backendData)
  )
}

export class LeaseManager extends EventEmitter<LeaseManagerEvents> {
  readonly config: NetworkConfig
  readonly attrs: LeaseAttrs
  private readonly store: LeaseStore
  private readonly previousSubnet: Ipv4Prefix | null
  private readonly ttlMs: number
  private readonly marginMs: number
  private readonly retryMs: number
  private readonly raceRetries: number
  private readonly candidates: number
  private readonly random: () => number
  private readonly timers: Timers
  private readonly log: ManagerLogger

  private state: State = 'new'
  private own: Lease | null = null
  private lostError: TartanError | null = null
  private readonly peerMap = new Map<string, Lease>()
  private watchHandle: StoreWatch | null = null
  private renewTimer: unknown = undefined
  private renewing = false
  private storeReachable = true
  private readonly counters: LeaseManagerStats = { acquireAttempts: 0, renewals: 0, renewFailures: 0, snapshots: 0 }

  /** Validates the options; nothing touches the store until start(). */
  constructor(options: LeaseManagerOptions) {
    super()
    this.store = options.store
    this.config = options.config
    this.attrs = options.attrs
    this.previousSubnet = options.previousSubnet ?? null
    this.ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS
    this.marginMs = options.renewMarginMs ?? Math.min(DEFAULT_RENEW_MARGIN_MS, Math.floor(this.ttlMs / 3))
    this.retryMs = options.retryMs ?? Math.max(1, Math.min(DEFAULT_RENEW_RETRY_MS, Math.floor(this.marginMs / 4)))
    this.raceRetries = options.raceRetries ?? DEFAULT_RACE_RETRIES
    this.candidates = options.candidates ?? DEFAULT_CANDIDATES
    this.random = options.random ?? Math.random
    this.timers = options.timers ?? realTimers
    this.log = options.logger ?? silentLogger
    if (!(this.ttlMs >= 1000)) {
      throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `lease TTL ${this.ttlMs} ms is too short; use at least 1000 ms`)
    }
    if (!(this.marginMs > 0 && this.marginMs < this.ttlMs)) {
      throw new TartanError(
        'TARTAN_ERR_INVALID_ARGUMENT',
        `lease renew margin ${this.marginMs} ms must be above 0 and below the TTL (${this.ttlMs} ms)`,
      )
    }
  }

  /** Our lease, or null before start() succeeds and after it is lost or released. */
  get lease(): Lease | null {
    return this.own
  }

  /** Every other node's lease, by key, as last seen (all backend types). */
  get peers(): ReadonlyMap<string, Lease> {
    return this.peerMap
  }

  /** Whether the last store operation or watch status succeeded. */
  get reachable(): boolean {
    return this.storeReachable
  }

  stats(): LeaseManagerStats {
    return { ...this.counters }
  }

  /**
   * Acquires our lease, loads the current peers (emitting them as added), and starts renewing and watching.
   * Rejects with TARTAN_ERR_STORE, TARTAN_ERR_NO_FREE_SUBNET or TARTAN_ERR_INVALID_CONFIG.
   */
  async start(): Promise<Lease> {
    if (this.state !== 'new') throw new TartanError('TARTAN_ERR_STATE', 'LeaseManager.start() can be called once')
    this.state = 'starting'
    try {
      const lease = await this.acquire()
      if (this.state !== 'starting') return lease
      this.own = lease
      this.state = 'running'
      this.log.info(`leased ${formatCidr(lease.subnet)} for ${this.attrs.publicIp}`)
      this.emit('lease-acquired', lease)
      const list = await this.store.list()
      if (this.state !== 'running') return lease
      this.apply({ kind: 'snapshot', leases: list.leases, revision: list.revision }, false)
      if (this.lostError !== null) throw this.lostError
      if (this.state !== 'running') return lease
      this.watchHandle = this.store.watch(list.revision + 1, {
        onResult: (r) => this.apply(r, true),
        onStatus: (s, err) => (s === 'unreachable' ? this.unreachable(err!) : this.restored()),
      })
      this.scheduleRenew()
      return lease
    } catch (err) {
      if (this.state === 'starting' || this.state === 'running') await this.halt('stopped')
      throw err
    }
  }

  /**
   * Stops renewing and watching. With `release`, deletes our lease from the store so the subnet is free at
   * once (otherwise it stays ours until it expires, and a restart with the same PublicIP gets it back).
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    const own = this.own
    const wasActive = this.state === 'running' || this.state === 'starting'
    await this.halt('stopped')
    if (options.release === true && wasActive && own !== null) {
      let deleted = await this.store.delete(own.key, own.revision)
      if (!deleted) {
        const cur = await this.store.get(own.key)
        if (cur !== null && cur.attrs.publicIp === this.attrs.publicIp) deleted = await this.store.delete(own.key, cur.revision)
      }
      this.own = null
    }
  }

  // ---- acquisition ----

  private async acquire(): Promise<Lease> {
    for (let attempt = 0; attempt < this.raceRetries; attempt++) {
      if (this.state !== 'starting') throw new TartanError('TARTAN_ERR_STATE', 'LeaseManager stopped while acquiring a lease')
      this.counters.acquireAttempts++
      const got = await this.tryAcquire()
      if (got !== TRY_AGAIN) return got
      // Another node won the race; spread the retries out so the same nodes do not collide again.
      await new Promise<void>((resolve) => this.timers.setTimeout(resolve, Math.floor(this.random() * 20 * (attempt + 1))))
    }
    throw new TartanError(
      'TARTAN_ERR_NO_FREE_SUBNET',
      `gave up acquiring a subnet after ${this.raceRetries} attempts: other nodes kept taking the subnets picked; ` +
        'retry, or raise raceRetries if many nodes start at once',
    )
  }

  private async tryAcquire(): Promise<Lease | typeof TRY_AGAIN> {
    let { leases } = await this.store.list()
    const cfg = this.config
    // 1. The lease that already carries our PublicIP (a restart of this node).
    const mine = leases.find((l) => l.attrs.publicIp === this.attrs.publicIp)
    if (mine !== undefined) {
      if (subnetFitsConfig(cfg, mine.subnet) && mine.key === subnetKey(mine.subnet)) {
        this.log.info(`found lease ${formatCidr(mine.subnet)} for ${this.attrs.publicIp}, reusing it`)
        const l = await this.store.update(mine.key, this.attrs, this.ttlMs, mine.revision)
        return l ?? TRY_AGAIN
      }
      this.log.warn(`lease ${mine.key} for ${this.attrs.publicIp} does not fit the network config; deleting it`)
      if (!(await this.store.delete(mine.key, mine.revision))) return TRY_AGAIN
      leases = leases.filter((l) => l !== mine)
    }
    // 2. The subnet this node had before (subnet.env), if nobody holds it now.
    let pick: Ipv4Prefix | undefined
    const prev = this.previousSubnet
    if (prev !== null) {
      if (!subnetFitsConfig(cfg, prev)) {
        this.log.warn(`previous subnet ${formatCidr(prev)} does not fit the network config; ignoring it`)
      } else if (!leases.some((l) => prefixesOverlap(l.subnet, prev))) {
        this.log.info(`previous subnet ${formatCidr(prev)} is free, reusing it`)
        pick = prev
      }
    }
    // 3. A random free subnet among the first `candidates` from SubnetMin.
    pick ??= this.pickFree(leases)
    const l = await this.store.create(subnetKey(pick), this.attrs, this.ttlMs)
    return l ?? TRY_AGAIN
  }

  private pickFree(leases: Lease[]): Ipv4Prefix {
    const cfg = this.config
    const step = prefixSize(cfg.subnetLen)
    const free: number[] = []
    for (let ip = cfg.subnetMin; ip <= cfg.subnetMax && free.length < this.candidates; ip += step) {
      const sn = { addr: ip, len: cfg.subnetLen }
      if (!leases.some((l) => prefixesOverlap(l.subnet, sn))) free.push(ip)
    }
    if (free.length === 0) {
      throw new TartanError(
        'TARTAN_ERR_NO_FREE_SUBNET',
        `no free /${cfg.subnetLen} left in ${formatCidr(cfg.network)} between SubnetMin and SubnetMax ` +
          `(${leases.length} leases); enlarge the network or remove stale leases`,
      )
    }
    return { addr: free[Math.floor(this.random() * free.length)]!, len: cfg.subnetLen }
  }

  // ---- renewal ----

  private scheduleRenew(delayMs?: number): void {
    if (this.state !== 'running' || this.own === null) return
    this.timers.clearTimeout(this.renewTimer)
    const expiresAt = this.own.expiresAt ?? this.timers.now() + this.ttlMs
    const ms = delayMs ?? Math.max(0, expiresAt - this.marginMs - this.timers.now())
    this.renewTimer = this.timers.setTimeout(() => void this.renew(), ms)
  }

  private async renew(): Promise<void> {
    if (this.state !== 'running' || this.own === null || this.renewing) return
    this.renewing = true
    const own = this.own
    try {
      let l = await this.store.update(own.key, this.attrs, this.ttlMs, own.revision)
      if (l === null && this.state === 'running') {
        // Our revision is stale (a renewal whose reply was lost, or a watch we have not seen yet): look.
        const cur = await this.store.get(own.key)
        if (this.state !== 'running') return
        if (cur === null) return this.lose('was deleted or expired in the store')
        if (cur.attrs.publicIp !== this.attrs.publicIp) return this.lose(`was taken over by ${cur.attrs.publicIp}`)
        l = await this.store.update(own.key, this.attrs, this.ttlMs, cur.revision)
      }
      if (this.state !== 'running') return
      this.restored()
      if (l === null) {
        this.counters.renewFailures++
        this.scheduleRenew(this.retryMs)
        return
      }
      this.own = l
      this.counters.renewals++
      this.emit('lease-renewed', l)
      this.scheduleRenew()
    } catch (err) {
      if (this.state !== 'running') return
      this.counters.renewFailures++
      this.unreachable(err as TartanError)
      this.log.warn(`renewing ${formatCidr(own.subnet)} failed (retrying in ${this.retryMs} ms): ${(err as Error).message}`)
      this.scheduleRenew(this.retryMs)
    } finally {
      this.renewing = false
    }
  }

  // ---- watching ----

  /** Applies one store delivery (initial list, watch events or snapshot) to our view, emitting changes. */
  private apply(result: WatchResult, fromWatch: boolean): void {
    if (this.state !== 'running' || this.own === null) return
    if (fromWatch) this.restored()
    const added: Lease[] = []
    const removed: Lease[] = []
    const changed: { lease: Lease; previous: Lease }[] = []
    const ownKey = this.own.key
    const put = (l: Lease): void => {
      const prev = this.peerMap.get(l.key)
      this.peerMap.set(l.key, l)
      if (prev === undefined) added.push(l)
      else if (!sameAttrs(prev.attrs, l.attrs)) changed.push({ lease: l, previous: prev })
    }
    const del = (key: string): void => {
      const prev = this.peerMap.get(key)
      if (prev !== undefined) {
        this.peerMap.delete(key)
        removed.push(prev)
      }
    }
    if (result.kind === 'snapshot') {
      if (fromWatch) this.counters.snapshots++
      const ownNow = result.leases.find((l) => l.key === ownKey)
      if (!this.checkOwn(ownNow)) return
      const seen = new Set<string>()
      for (const l of result.leases) {
        if (l.key === ownKey) continue
        seen.add(l.key)
        put(l)
      }
      for (const key of [...this.peerMap.keys()]) if (!seen.has(key)) del(key)
    } else {
      for (const e of result.events) {
        const key = e.type === 'put' ? e.lease.key : e.key
        if (key === ownKey) {
          if (!this.checkOwn(e.type === 'put' ? e.lease : undefined)) return
        } else if (e.type === 'put') put(e.lease)
        else del(key)
      }
    }
    for (const l of added) this.emit('peer-added', l)
    for (const c of changed) this.emit('peer-changed', c.lease, c.previous)
    for (const l of removed) this.emit('peer-removed', l)
    if (added.length + changed.length + removed.length > 0) this.emit('peers-changed', { added, removed, changed })
  }

  /** Checks what the store says about our own key; loses the lease when it is gone or not ours. */
  private checkOwn(current: Lease | undefined): boolean {
    const own = this.own!
    if (current === undefined) {
      this.lose('was deleted or expired in the store')
      return false
    }
    if (current.attrs.publicIp !== this.attrs.publicIp) {
      this.lose(`was taken over by ${current.attrs.publicIp}`)
      return false
    }
    if (current.revision > own.revision && prefixesEqual(current.subnet, own.subnet)) {
      const expiresAt = current.expiresAt ?? own.expiresAt
      this.own = expiresAt === undefined ? current : { ...current, expiresAt }
    }
    return true
  }

  private lose(reason: string): void {
    if (this.state !== 'running') return
    const own = this.own!
    const err = new TartanError(
      'TARTAN_ERR_LEASE_LOST',
      `lease on ${formatCidr(own.subnet)} (${this.store.description}) ${reason}; this node stopped forwarding. ` +
        'Restart tartan to acquire a lease again; if this repeats, check that renewals reach the store in time ' +
        'and that no other node uses the same public IP.',
    )
    this.log.warn(err.message)
    this.lostError = err
    void this.halt('lost')
    this.own = null
    this.emit('lease-lost', err)
  }

  private async halt(state: 'lost' | 'stopped'): Promise<void> {
    this.state = state
    this.timers.clearTimeout(this.renewTimer)
    this.renewTimer = undefined
    const w = this.watchHandle
    this.watchHandle = null
    if (w !== null) await w.close()
  }

  private unreachable(err: TartanError): void {
    if (!this.storeReachable) return
    this.storeReachable = false
    this.log.warn(`lease store unreachable: ${err.message}`)
    this.emit('store-unreachable', err)
  }

  private restored(): void {
    if (this.storeReachable) return
    this.storeReachable = true
    this.log.info('lease store reachable again')
    this.emit('store-restored')
  }
}
