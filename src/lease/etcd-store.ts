/**
 * The etcd v3 LeaseStore, byte-compatible with flanneld's etcd registry (pkg/subnet/etcd/registry.go) so
 * tartan and flannel nodes can share one network:
 *   `<prefix>/config`                 the network config JSON (read only, like flannel)
 *   `<prefix>/subnets/A.B.C.D-LEN`    one lease each, value = flannel's LeaseAttrs JSON, bound to an etcd
 *                                     lease with the TTL, created in a txn requiring the key to be absent.
 * Renewal differs from flannel only in being a compare-and-swap (mod_revision) put under a fresh etcd lease
 * (flannel puts unconditionally); watchers see the same PUT either way. Watches run on a raw gRPC watch
 * stream so compaction (compact_revision) is seen and answered with a snapshot, as flannel does.
 */
import { readFileSync } from 'node:fs'
import { posix } from 'node:path'
import { ConsecutiveBreaker, circuitBreaker, handleWhen } from 'cockatiel'
import {
  Etcd3,
  type ICompare,
  type IDuplexStream,
  type IKeyValue,
  type IOptions,
  type IWatchRequest,
  type IWatchResponse,
  isRecoverableError,
} from 'etcd3'
import { type NetworkConfig, parseNetworkConfig } from '../config/network-config.js'
import { TartanError } from '../errors.js'
import { type LeaseAttrs, encodeLeaseValue, parseSubnetKey } from './lease-codec.js'
import type {
  Lease,
  LeaseEvent,
  LeaseList,
  LeaseStore,
  StoreLogger,
  StoreStats,
  StoreWatch,
  WatchCallbacks,
} from './lease-store.js'
import { WatchSet } from './watch-set.js'
import { EntryDecoder, stderrLogger } from './store-entry.js'

/** flannel's default etcd prefix (main.go: --etcd-prefix). */
export const DEFAULT_ETCD_PREFIX = '/coreos.com/network'

export interface EtcdStoreOptions {
  /** Client URLs, e.g. ['https://10.0.0.1:2379', 'https://10.0.0.2:2379']. */
  endpoints: string[]
  /** Key prefix; default '/coreos.com/network'. */
  prefix?: string
  /** PEM files for TLS (as flannel's --etcd-cafile/--etcd-certfile/--etcd-keyfile). */
  tls?: { caFile?: string; certFile?: string; keyFile?: string }
  /** etcd user authentication (as flannel's --etcd-username/--etcd-password). */
  auth?: { username: string; password: string }
  /** Deadline for each unary call (ms). Default 5000. */
  callTimeoutMs?: number
  /** Watch reconnect backoff: first delay and cap (ms). Defaults 100 and 5000 (flannel's). */
  reconnectMinMs?: number
  reconnectMaxMs?: number
  logger?: StoreLogger
}

/** The first key after every key with this prefix (etcd's "range_end" for a prefix). */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++
      return end.subarray(0, i + 1)
    }
  }
  return Buffer.from([0])
}

function ttlSeconds(ttlMs: number): number {
  // etcd leases have whole-second TTLs; round up so a lease never lives shorter than asked.
  return Math.max(1, Math.ceil(ttlMs / 1000))
}

function buildClientOptions(o: EtcdStoreOptions): IOptions {
  const callTimeoutMs = o.callTimeoutMs ?? 5000
  const options: IOptions = {
    hosts: o.endpoints,
    dialTimeout: callTimeoutMs,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    grpcOptions: {
      // Reconnect promptly after an etcd restart (gRPC's default backoff grows to 120 s).
      'grpc.initial_reconnect_backoff_ms': o.reconnectMinMs ?? 100,
      'grpc.max_reconnect_backoff_ms': o.reconnectMaxMs ?? 5000,
    },
    faultHandling: {
      // Per endpoint: after 3 consecutive failures, try the other endpoints for a second.
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
    },
  }
  const tls = o.tls
  if (tls !== undefined && (tls.caFile !== undefined || tls.certFile !== undefined || tls.keyFile !== undefined)) {
    if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
      throw new TartanError('TARTAN_ERR_INVALID_CONFIG', 'etcd TLS: give both a client certificate and its key, or neither')
    }
    const read = (what: string, f: string | undefined): Buffer | undefined => {
      if (f === undefined) return undefined
      try {
        return readFileSync(f)
      } catch (err) {
        throw new TartanError('TARTAN_ERR_INVALID_CONFIG', `etcd TLS: cannot read the ${what} ${f}: ${(err as Error).message}`, {
          cause: err,
        })
      }
    }
    // Without a CA file gRPC falls back to the system roots (as flannel's tls.Config without RootCAs).
    options.credentials = {
      rootCertificate: read('CA file', tls.caFile) as Buffer,
      privateKey: read('key file', tls.keyFile),
      certChain: read('certificate file', tls.certFile),
    }
  }
  if (o.auth !== undefined) options.auth = { username: o.auth.username, password: o.auth.password }
  return options
}

export class EtcdLeaseStore implements LeaseStore {
  readonly description: string
  readonly prefix: string
  private readonly client: Etcd3
  private readonly configKey: Buffer
  private readonly subnetsPrefix: string
  private readonly subnetsKey: Buffer
  private readonly subnetsEnd: Buffer
  private readonly decoder: EntryDecoder
  private readonly watches = new WatchSet()
  readonly reconnectMinMs: number
  readonly reconnectMaxMs: number
  private resets = 0
  private closed = false

  /** Creates the client (connections are made lazily, on first use); throws on invalid options. */
  constructor(options: EtcdStoreOptions) {
    if (options.endpoints.length === 0) {
      throw new TartanError('TARTAN_ERR_INVALID_CONFIG', 'etcd: no endpoints given (e.g. http://127.0.0.1:2379)')
    }
    const prefix = options.prefix ?? DEFAULT_ETCD_PREFIX
    if (!prefix.startsWith('/')) {
      throw new TartanError('TARTAN_ERR_INVALID_CONFIG', `etcd prefix ${JSON.stringify(prefix)} must start with "/"`)
    }
    // flannel builds keys with path.Join, which cleans the prefix (no trailing or doubled slashes).
    this.prefix = posix.normalize(prefix).replace(/(.)\/+$/, '$1')
    this.description = `etcd:${options.endpoints.join(',')}${this.prefix}`
    this.configKey = Buffer.from(posix.join(this.prefix, 'config'))
    this.subnetsPrefix = posix.join(this.prefix, 'subnets') + '/'
    this.subnetsKey = Buffer.from(this.subnetsPrefix)
    this.subnetsEnd = prefixEnd(this.subnetsKey)
    this.decoder = new EntryDecoder(options.logger ?? stderrLogger, this.description)
    this.reconnectMinMs = options.reconnectMinMs ?? 100
    this.reconnectMaxMs = options.reconnectMaxMs ?? 5000
    this.client = new Etcd3(buildClientOptions(options))
  }

  /** The full etcd key of a lease key, e.g. '/coreos.com/network/subnets/10.244.7.0-24'. */
  fullKey(key: string): string {
    return this.subnetsPrefix + key
  }

  async getNetworkConfig(): Promise<NetworkConfig> {
    const res = await this.call('read the network config', () => this.client.kv.range({ key: this.configKey }))
    const kv = res.kvs[0]
    if (kv === undefined) {
      throw new TartanError(
        'TARTAN_ERR_INVALID_CONFIG',
        `${this.description}: no network config at ${this.configKey.toString()}; create it with the etcd v3 API, e.g. ` +
          `etcdctl put ${this.configKey.toString()} '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'`,
      )
    }
    return parseNetworkConfig(kv.value.toString(), this.configKey.toString())
  }

  async putNetworkConfig(json: string): Promise<void> {
    parseNetworkConfig(json, 'network config')
    await this.call('write the network config', () => this.client.kv.put({ key: this.configKey, value: Buffer.from(json) }))
  }

  async list(): Promise<LeaseList> {
    const res = await this.call('list leases', () =>
      this.client.kv.range({ key: this.subnetsKey, range_end: this.subnetsEnd }),
    )
    const leases: Lease[] = []
    for (const kv of res.kvs) {
      const l = this.decodeKv(kv)
      if (l !== undefined) leases.push(l)
    }
    return { leases, revision: Number(res.header.revision) }
  }

  async get(key: string): Promise<Lease | null> {
    const res = await this.call('read a lease', () => this.client.kv.range({ key: Buffer.from(this.fullKey(key)) }))
    const kv = res.kvs[0]
    if (kv === undefined) return null
    let expiresAt: number | undefined
    if (kv.lease !== '0') {
      const start = Date.now()
      const ttl = await this.call('read a lease TTL', () => this.client.leaseClient.leaseTimeToLive({ ID: kv.lease }))
      if (Number(ttl.TTL) >= 0) expiresAt = start + Number(ttl.TTL) * 1000
    }
    return this.decodeKv(kv, expiresAt) ?? null
  }

  async create(key: string, attrs: LeaseAttrs, ttlMs: number): Promise<Lease | null> {
    const full = Buffer.from(this.fullKey(key))
    return this.putUnder(key, attrs, ttlMs, 'create a lease', {
      key: full,
      target: 'Version',
      result: 'Equal',
      version: 0,
    })
  }

  async update(key: string, attrs: LeaseAttrs, ttlMs: number, expectedRevision: number): Promise<Lease | null> {
    const full = Buffer.from(this.fullKey(key))
    return this.putUnder(key, attrs, ttlMs, 'renew a lease', {
      key: full,
      target: 'Mod',
      result: 'Equal',
      mod_revision: expectedRevision,
    })
  }

  /**
   * Grants a fresh etcd lease and puts the value under it if `compare` holds, in one transaction. Both
   * branches read the key first, so that a transaction the client retried after a lost reply (its first
   * attempt applied, the retry's compare then failing) is recognised by the key already carrying our new
   * etcd lease, and counted as the success it was.
   */
  private async putUnder(key: string, attrs: LeaseAttrs, ttlMs: number, what: string, compare: ICompare): Promise<Lease | null> {
    const subnet = checkKey(key)
    const full = Buffer.from(this.fullKey(key))
    const value = Buffer.from(encodeLeaseValue(attrs))
    const start = Date.now()
    const grant = await this.call('grant an etcd lease', () =>
      this.client.leaseClient.leaseGrant({ TTL: ttlSeconds(ttlMs), ID: 0 }),
    )
    // On a failure (unknown outcome) the grant is left alone: revoking it could delete a key the
    // transaction did write; unused, it simply expires.
    const res = await this.call(what, () =>
      this.client.kv.txn({
        compare: [compare],
        success: [{ request_range: { key: full } }, { request_put: { key: full, value, lease: grant.ID } }],
        failure: [{ request_range: { key: full } }],
      }),
    )
    const before = res.responses[0]?.response_range?.kvs[0]
    const expiresAt = start + Number(grant.TTL) * 1000
    if (!res.succeeded) {
      if (before !== undefined && before.lease === grant.ID) {
        return { key, subnet, attrs, revision: Number(before.mod_revision), expiresAt } // our retried write
      }
      this.revoke(grant.ID)
      return null
    }
    // The key now hangs on the new etcd lease; the one it replaces would otherwise linger until its TTL.
    if (before !== undefined && before.lease !== '0' && before.lease !== grant.ID) this.revokeIfUnused(before.lease)
    return { key, subnet, attrs, revision: Number(res.header.revision), expiresAt }
  }

  async delete(key: string, expectedRevision?: number): Promise<boolean> {
    const full = Buffer.from(this.fullKey(key))
    const res = await this.call('delete a lease', () =>
      this.client.kv.txn({
        compare: expectedRevision === undefined ? [] : [{ key: full, target: 'Mod', result: 'Equal', mod_revision: expectedRevision }],
        success: [{ request_delete_range: { key: full, prev_kv: true } }],
        failure: [],
      }),
    )
    const del = res.succeeded ? res.responses[0]?.response_delete_range : undefined
    if (del === undefined || del.deleted === '0') return false
    const lease = del.prev_kvs[0]?.lease
    if (lease !== undefined && lease !== '0') this.revokeIfUnused(lease)
    return true
  }

  watch(fromRevision: number, callbacks: WatchCallbacks): StoreWatch {
    if (this.closed) throw new TartanError('TARTAN_ERR_STATE', `${this.description}: watch on a closed store`)
    return this.watches.open(new EtcdWatch(this, fromRevision, callbacks))
  }

  /** Compacts etcd's history up to `revision` (for tests and maintenance; etcd usually auto-compacts). */
  async compact(revision: number): Promise<void> {
    await this.call('compact history', () => this.client.kv.compact({ revision, physical: true }))
  }

  stats(): StoreStats {
    return { garbageSkipped: this.decoder.garbageSkipped, watchResets: this.resets }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.watches.stopAll()
    this.client.close()
  }

  // ---- internals shared with EtcdWatch ----

  /** @internal Opens a raw gRPC watch stream. */
  openWatchStream(): Promise<IDuplexStream<IWatchRequest, IWatchResponse>> {
    return this.call('open a watch', () => this.client.watchClient.watch())
  }

  /** @internal The create request for a watch over all leases from `fromRevision`. */
  watchRequest(fromRevision: number): IWatchRequest {
    return {
      create_request: {
        key: this.subnetsKey,
        range_end: this.subnetsEnd,
        start_revision: fromRevision,
        progress_notify: true,
      },
    }
  }

  /** @internal Decodes watch events; garbage is skipped and counted. */
  decodeEvents(res: IWatchResponse): LeaseEvent[] {
    const out: LeaseEvent[] = []
    for (const ev of res.events) {
      const fullKey = ev.kv.key.toString()
      const rev = Number(ev.kv.mod_revision)
      if (!fullKey.startsWith(this.subnetsPrefix)) continue
      const key = fullKey.slice(this.subnetsPrefix.length)
      if (ev.type === 'Delete') {
        const k = parseSubnetKey(key)
        if (k.ok) out.push({ type: 'delete', key, subnet: k.value.subnet, revision: rev })
        else this.decoder.skip(key, rev, k.reason)
      } else {
        const l = this.decodeKv(ev.kv)
        if (l !== undefined) out.push({ type: 'put', lease: l })
      }
    }
    return out
  }

  /** @internal Counts a watch fallback to a snapshot. */
  noteReset(): void {
    this.resets++
  }

  private decodeKv(kv: IKeyValue, expiresAt?: number): Lease | undefined {
    const fullKey = kv.key.toString()
    const key = fullKey.startsWith(this.subnetsPrefix) ? fullKey.slice(this.subnetsPrefix.length) : fullKey
    return this.decoder.decode(key, kv.value.toString(), Number(kv.mod_revision), expiresAt)
  }

  /** Revokes an etcd lease that no key is attached to any more (never one another key still uses). */
  private revokeIfUnused(id: string): void {
    this.client.leaseClient
      .leaseTimeToLive({ ID: id, keys: true })
      .then((r) => {
        if (r.keys.length === 0) this.revoke(id)
      })
      .catch(() => undefined) // best effort: it expires anyway
  }

  private revoke(id: string): void {
    this.client.leaseClient.leaseRevoke({ ID: id }).catch(() => undefined) // best effort: it expires anyway
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new TartanError('TARTAN_ERR_STATE', `${this.description}: cannot ${what}: the store is closed`)
    try {
      return await fn()
    } catch (err) {
      if (err instanceof TartanError) throw err
      const message = (err as Error).message
      throw new TartanError('TARTAN_ERR_STORE', `${this.description}: cannot ${what}: ${briefGrpcError(message)}; ${etcdErrorAdvice(message)}`, {
        cause: err,
      })
    }
  }
}

/** gRPC's text without its empty "Resolution note" and OpenSSL's source-file coordinates. */
export function briefGrpcError(message: string): string {
  return message
    .replace(/\.?\s*Resolution note:\s*;?\s*$/, '')
    .replace(/[0-9A-F]+:error:[0-9A-F]+:SSL routines:[^:]*:([^:]+):\S+:\d+:(SSL alert number \d+)/, 'TLS: $1 ($2)')
    .replace(/\s*\n\s*/g, ' ')
}

/** What to check, from the failure's text: TLS trust in either direction, else reachability. */
export function etcdErrorAdvice(message: string): string {
  // TLS alerts 42 (bad_certificate) and 116 (certificate_required, TLS 1.3): etcd refused our client certificate.
  if (/bad certificate|certificate required|alert number (42|116)\b/i.test(message)) {
    return 'etcd refused the client certificate: give --etcd-certfile and --etcd-keyfile signed by a CA that etcd trusts (its --trusted-ca-file)'
  }
  if (/unable to verify|self[- ]signed certificate|unable to get local issuer|certificate has expired|Hostname\/IP does not match/i.test(message)) {
    return "cannot verify etcd's server certificate: give --etcd-cafile with the CA that signed it (and an endpoint address the certificate names)"
  }
  return 'check that etcd is running and reachable (and that the endpoint scheme, http or https, matches its listener)'
}

function checkKey(key: string) {
  const k = parseSubnetKey(key)
  if (!k.ok) throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', k.reason)
  return k.value.subnet
}

/**
 * One watch over all leases on a raw gRPC stream: resumes from the last delivered revision after a broken
 * stream (with exponential backoff), and answers compaction with a fresh snapshot.
 */
class EtcdWatch {
  private stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private failing = false
  private backoffMs: number

  constructor(
    private readonly store: EtcdLeaseStore,
    private from: number,
    private readonly cb: WatchCallbacks,
  ) {
    this.backoffMs = store.reconnectMinMs
  }

  start(): void {
    void this.connect()
  }

  stop(): void {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.drop()
  }

  private async connect(): Promise<void> {
    if (this.stopped) return
    let stream: IDuplexStream<IWatchRequest, IWatchResponse>
    try {
      stream = await this.store.openWatchStream()
    } catch (err) {
      return this.broken(err)
    }
    if (this.stopped) {
      stream.cancel()
      return
    }
    this.stream = stream
    stream.on('data', (res) => {
      if (stream === this.stream) this.onResponse(res)
    })
    stream.on('error', (err) => {
      if (stream === this.stream) this.broken(err)
    })
    stream.on('end', () => {
      if (stream === this.stream) this.broken(new Error('the watch stream ended'))
    })
    stream.write(this.store.watchRequest(this.from))
  }

  private onResponse(res: IWatchResponse): void {
    if (this.stopped) return
    if (res.canceled) {
      if (Number(res.compact_revision) > 0) return void this.resync()
      return this.broken(new Error(`etcd canceled the watch: ${res.cancel_reason || 'no reason given'}`))
    }
    if (res.created) {
      // Connected. Do not advance `from` here: the catch-up events are still to come.
      this.backoffMs = this.store.reconnectMinMs
      if (this.failing) {
        this.failing = false
        this.cb.onStatus?.('restored')
      }
      return
    }
    const revision = Number(res.header.revision)
    const events = this.store.decodeEvents(res)
    if (revision > 0) this.from = revision + 1
    if (events.length > 0) this.cb.onResult({ kind: 'events', events, revision })
  }

  /** History from `from` is compacted away: deliver the current leases as a snapshot and follow on from there. */
  private async resync(): Promise<void> {
    this.drop()
    try {
      const list = await this.store.list()
      if (this.stopped) return
      this.store.noteReset()
      this.from = list.revision + 1
      this.cb.onResult({ kind: 'snapshot', leases: list.leases, revision: list.revision })
      await this.connect()
    } catch (err) {
      this.broken(err)
    }
  }

  private broken(err: unknown): void {
    this.drop()
    if (this.stopped) return
    if (!this.failing) {
      this.failing = true
      const e =
        err instanceof TartanError
          ? err
          : new TartanError('TARTAN_ERR_STORE', `${this.store.description}: lease watch lost: ${(err as Error).message}; reconnecting`, {
              cause: err,
            })
      this.cb.onStatus?.('unreachable', e)
    }
    const delay = this.backoffMs
    this.backoffMs = Math.min(this.backoffMs * 2, this.store.reconnectMaxMs)
    this.timer = setTimeout(() => void this.connect(), delay)
  }

  private drop(): void {
    const s = this.stream
    this.stream = undefined
    if (s !== undefined) {
      try {
        s.cancel()
      } catch {
        // already gone
      }
    }
  }
}
