/**
 * The embedded LeaseStore: one SQLite file (better-sqlite3) shared by every tartan node process on a host,
 * so a single-host network needs no server. It mirrors etcd's model so LeaseManager cannot tell them apart:
 * a store-wide revision bumped by every write, leases with an expiry timestamp (expired ones are deleted by
 * whichever process next touches the store, producing delete events), an event log to watch from a
 * revision, and compaction of that log.
 *
 * Safety across processes: WAL journal, a busy timeout, and every write in a BEGIN IMMEDIATE transaction
 * (the write lock is taken up front, so two writers never deadlock upgrading a read lock).
 *
 * Schema (version 1):
 *   state(id = 1, revision, compacted, config)   revision: last write; compacted: history below it is gone
 *   leases(key PRIMARY KEY, value, revision, expires_at)      key as in etcd below <prefix>/subnets/
 *   events(revision PRIMARY KEY, key, type 'put'|'delete', value, expires_at)
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
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
  WatchResult,
} from './lease-store.js'
import { WatchSet } from './watch-set.js'
import { EntryDecoder, stderrLogger } from './store-entry.js'

/** Where `tartan run` keeps the embedded store unless told otherwise. */
export const DEFAULT_SQLITE_PATH = '/var/lib/tartan/leases.db'

export interface SqliteStoreOptions {
  /** The database file; created (with its directory) when missing. */
  path: string
  /** How often a watch polls the file for new revisions (ms). Default 100. */
  pollIntervalMs?: number
  /** How many revisions of history to keep for watchers that fall behind. Default 10000. */
  historyRevisions?: number
  /** How long to wait for another process's write lock before failing (ms). Default 5000. */
  busyTimeoutMs?: number
  /** Wall clock in ms (shared by all processes on the host: expiry is by timestamp). Default Date.now. */
  now?: () => number
  logger?: StoreLogger
}

interface LeaseRow {
  key: string
  value: string
  revision: number
  expires_at: number | null
}
interface EventRow {
  revision: number
  key: string
  type: 'put' | 'delete'
  value: string | null
  expires_at: number | null
}
interface StateRow {
  revision: number
  compacted: number
  config: string | null
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  schema_version INTEGER NOT NULL,
  revision INTEGER NOT NULL,
  compacted INTEGER NOT NULL,
  config TEXT
);
INSERT OR IGNORE INTO state (id, schema_version, revision, compacted, config) VALUES (1, 1, 0, 0, NULL);
CREATE TABLE IF NOT EXISTS leases (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  revision INTEGER NOT NULL,
  expires_at INTEGER
);
CREATE INDEX IF NOT EXISTS leases_expires_at ON leases (expires_at);
CREATE TABLE IF NOT EXISTS events (
  revision INTEGER PRIMARY KEY,
  key TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('put', 'delete')),
  value TEXT,
  expires_at INTEGER
);
`

export class SqliteLeaseStore implements LeaseStore {
  readonly description: string
  private readonly db: Database.Database
  private readonly now: () => number
  private readonly pollIntervalMs: number
  private readonly historyRevisions: number
  private readonly decoder: EntryDecoder
  private readonly watches = new WatchSet()
  private resets = 0
  private closed = false

  private readonly stmt: {
    state: Database.Statement<[], StateRow>
    bump: Database.Statement<[]>
    anyExpired: Database.Statement<[number], { key: string }>
    expired: Database.Statement<[number], { key: string }>
    getLease: Database.Statement<[string], LeaseRow>
    allLeases: Database.Statement<[], LeaseRow>
    upsertLease: Database.Statement<[string, string, number, number | null]>
    deleteLease: Database.Statement<[string]>
    addEvent: Database.Statement<[number, string, string, string | null, number | null]>
    eventsFrom: Database.Statement<[number, number], EventRow>
    trimEvents: Database.Statement<[number]>
    setCompacted: Database.Statement<[number]>
    setConfig: Database.Statement<[string]>
  }

  /** Opens (creating if needed) the store at `options.path`; throws TARTAN_ERR_STORE when it cannot. */
  constructor(options: SqliteStoreOptions) {
    this.description = `sqlite:${options.path}`
    this.now = options.now ?? Date.now
    this.pollIntervalMs = options.pollIntervalMs ?? 100
    this.historyRevisions = options.historyRevisions ?? 10_000
    this.decoder = new EntryDecoder(options.logger ?? stderrLogger, this.description)
    try {
      mkdirSync(dirname(options.path), { recursive: true })
      this.db = new Database(options.path, { timeout: options.busyTimeoutMs ?? 5000 })
      this.db.pragma('journal_mode = WAL')
      this.db.pragma('synchronous = NORMAL') // WAL + NORMAL: durable across process crashes, fast commits
      this.db.transaction(() => this.db.exec(SCHEMA)).immediate()
    } catch (err) {
      throw this.storeError(`cannot open the lease database`, err)
    }
    const db = this.db
    this.stmt = {
      state: db.prepare('SELECT revision, compacted, config FROM state WHERE id = 1'),
      bump: db.prepare('UPDATE state SET revision = revision + 1 WHERE id = 1'),
      anyExpired: db.prepare('SELECT key FROM leases WHERE expires_at <= ? LIMIT 1'),
      expired: db.prepare('SELECT key FROM leases WHERE expires_at <= ? ORDER BY key'),
      getLease: db.prepare('SELECT key, value, revision, expires_at FROM leases WHERE key = ?'),
      allLeases: db.prepare('SELECT key, value, revision, expires_at FROM leases ORDER BY key'),
      upsertLease: db.prepare(
        'INSERT INTO leases (key, value, revision, expires_at) VALUES (?, ?, ?, ?) ' +
          'ON CONFLICT (key) DO UPDATE SET value = excluded.value, revision = excluded.revision, expires_at = excluded.expires_at',
      ),
      deleteLease: db.prepare('DELETE FROM leases WHERE key = ?'),
      addEvent: db.prepare('INSERT INTO events (revision, key, type, value, expires_at) VALUES (?, ?, ?, ?, ?)'),
      eventsFrom: db.prepare(
        'SELECT revision, key, type, value, expires_at FROM events WHERE revision >= ? ORDER BY revision LIMIT ?',
      ),
      trimEvents: db.prepare('DELETE FROM events WHERE revision < ?'),
      setCompacted: db.prepare('UPDATE state SET compacted = MAX(compacted, ?) WHERE id = 1'),
      setConfig: db.prepare('UPDATE state SET config = ? WHERE id = 1'),
    }
  }

  async getNetworkConfig(): Promise<NetworkConfig> {
    const st = this.run('read the network config', () => this.stmt.state.get()!)
    if (st.config === null) {
      throw new TartanError(
        'TARTAN_ERR_INVALID_CONFIG',
        `${this.description}: no network config stored yet; provide one (e.g. '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}')`,
      )
    }
    return parseNetworkConfig(st.config, `${this.description} config`)
  }

  async putNetworkConfig(json: string): Promise<void> {
    parseNetworkConfig(json, 'network config')
    this.run('write the network config', () => this.stmt.setConfig.run(json))
  }

  async list(): Promise<LeaseList> {
    return this.run('list leases', () =>
      this.read(() => {
        const revision = this.stmt.state.get()!.revision
        const leases: Lease[] = []
        for (const row of this.stmt.allLeases.all()) {
          const l = this.decoder.decode(row.key, row.value, row.revision, row.expires_at ?? undefined)
          if (l !== undefined) leases.push(l)
        }
        return { leases, revision }
      }),
    )
  }

  async get(key: string): Promise<Lease | null> {
    return this.run('read a lease', () =>
      this.read(() => {
        const row = this.stmt.getLease.get(key)
        return row === undefined ? null : (this.decoder.decode(row.key, row.value, row.revision, row.expires_at ?? undefined) ?? null)
      }),
    )
  }

  async create(key: string, attrs: LeaseAttrs, ttlMs: number): Promise<Lease | null> {
    checkKey(key)
    const value = encodeLeaseValue(attrs)
    return this.run('create a lease', () =>
      this.write(() => {
        if (this.stmt.getLease.get(key) !== undefined) return null
        return this.put(key, value, attrs, ttlMs)
      }),
    )
  }

  async update(key: string, attrs: LeaseAttrs, ttlMs: number, expectedRevision: number): Promise<Lease | null> {
    checkKey(key)
    const value = encodeLeaseValue(attrs)
    return this.run('renew a lease', () =>
      this.write(() => {
        const row = this.stmt.getLease.get(key)
        if (row === undefined || row.revision !== expectedRevision) return null
        return this.put(key, value, attrs, ttlMs)
      }),
    )
  }

  async delete(key: string, expectedRevision?: number): Promise<boolean> {
    return this.run('delete a lease', () =>
      this.write(() => {
        const row = this.stmt.getLease.get(key)
        if (row === undefined || (expectedRevision !== undefined && row.revision !== expectedRevision)) return false
        this.remove(key)
        return true
      }),
    )
  }

  watch(fromRevision: number, callbacks: WatchCallbacks): StoreWatch {
    if (this.closed) throw new TartanError('TARTAN_ERR_STATE', `${this.description}: watch on a closed store`)
    return this.watches.open(new SqliteWatch(this, fromRevision, callbacks, this.pollIntervalMs))
  }

  /** Discards history below `revision` (as etcd's compact): watchers from before it get a snapshot. */
  async compact(revision: number): Promise<void> {
    this.run('compact history', () =>
      this.db
        .transaction(() => {
          this.stmt.trimEvents.run(revision)
          this.stmt.setCompacted.run(revision)
        })
        .immediate(),
    )
  }

  stats(): StoreStats {
    return { garbageSkipped: this.decoder.garbageSkipped, watchResets: this.resets }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.watches.stopAll()
    this.db.close()
  }

  /** One poll for a watch: sweeps expiry, then the events from `from` on, or a snapshot if they are gone. */
  pollFrom(from: number): WatchResult | undefined {
    this.sweepIfDue()
    return this.db.transaction((): WatchResult | undefined => {
      const st = this.stmt.state.get()!
      if (from < st.compacted || from > st.revision + 1) {
        // History is gone (compacted), or the file is not the one we were following (revision went back).
        this.resets++
        const leases: Lease[] = []
        for (const row of this.stmt.allLeases.all()) {
          const l = this.decoder.decode(row.key, row.value, row.revision, row.expires_at ?? undefined)
          if (l !== undefined) leases.push(l)
        }
        return { kind: 'snapshot', leases, revision: st.revision }
      }
      const rows = this.stmt.eventsFrom.all(from, 1000)
      if (rows.length === 0) return undefined
      const events: LeaseEvent[] = []
      for (const r of rows) {
        if (r.type === 'delete') {
          const k = parseSubnetKey(r.key)
          if (k.ok) events.push({ type: 'delete', key: r.key, subnet: k.value.subnet, revision: r.revision })
          else this.decoder.skip(r.key, r.revision, k.reason)
        } else {
          const l = this.decoder.decode(r.key, r.value ?? '', r.revision, r.expires_at ?? undefined)
          if (l !== undefined) events.push({ type: 'put', lease: l })
        }
      }
      return { kind: 'events', events, revision: rows[rows.length - 1]!.revision }
    })()
  }

  /** Runs `fn` in a write transaction after deleting expired leases (so reads never see them). */
  private write<T>(fn: () => T): T {
    return this.db
      .transaction(() => {
        this.sweep()
        return fn()
      })
      .immediate()
  }

  /** Runs `fn` in a read transaction (one consistent snapshot) after deleting expired leases, if any. */
  private read<T>(fn: () => T): T {
    this.sweepIfDue()
    return this.db.transaction(fn)()
  }

  private sweepIfDue(): void {
    if (this.stmt.anyExpired.get(this.now()) !== undefined) this.write(() => undefined)
  }

  /** Deletes expired leases, one delete event each; call inside a write transaction. */
  private sweep(): void {
    for (const { key } of this.stmt.expired.all(this.now())) this.remove(key)
  }

  private nextRevision(): number {
    this.stmt.bump.run()
    const rev = this.stmt.state.get()!.revision
    if (rev % 1000 === 0 && rev > this.historyRevisions) {
      const keepFrom = rev - this.historyRevisions
      this.stmt.trimEvents.run(keepFrom)
      this.stmt.setCompacted.run(keepFrom)
    }
    return rev
  }

  private put(key: string, value: string, attrs: LeaseAttrs, ttlMs: number): Lease {
    const rev = this.nextRevision()
    const expiresAt = this.now() + ttlMs
    this.stmt.upsertLease.run(key, value, rev, expiresAt)
    this.stmt.addEvent.run(rev, key, 'put', value, expiresAt)
    const k = parseSubnetKey(key)
    if (!k.ok) throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', k.reason)
    return { key, subnet: k.value.subnet, attrs, revision: rev, expiresAt }
  }

  private remove(key: string): void {
    const rev = this.nextRevision()
    this.stmt.deleteLease.run(key)
    this.stmt.addEvent.run(rev, key, 'delete', null, null)
  }

  /** Runs a database operation, turning SQLite failures into TARTAN_ERR_STORE. */
  run<T>(what: string, fn: () => T): T {
    if (this.closed) throw new TartanError('TARTAN_ERR_STATE', `${this.description}: cannot ${what}: the store is closed`)
    try {
      return fn()
    } catch (err) {
      if (err instanceof TartanError) throw err
      throw this.storeError(`cannot ${what}`, err)
    }
  }

  private storeError(what: string, err: unknown): TartanError {
    const code = (err as { code?: string }).code
    const hint =
      code === 'SQLITE_BUSY'
        ? 'another process held the database locked too long; check for a hung tartan process'
        : 'check that the file and its directory are writable and the disk is not full'
    return new TartanError('TARTAN_ERR_STORE', `${this.description}: ${what}: ${(err as Error).message}; ${hint}`, {
      cause: err,
    })
  }
}

function checkKey(key: string): void {
  const k = parseSubnetKey(key)
  if (!k.ok) throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', k.reason)
}

/** A polling watch over the events table. */
class SqliteWatch {
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private failing = false

  constructor(
    private readonly store: SqliteLeaseStore,
    private from: number,
    private readonly cb: WatchCallbacks,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.schedule(0)
  }

  stop(): void {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
  }

  private schedule(ms: number): void {
    if (!this.stopped) this.timer = setTimeout(() => this.poll(), ms)
  }

  private poll(): void {
    if (this.stopped) return
    let result: WatchResult | undefined
    try {
      result = this.store.run('watch leases', () => this.store.pollFrom(this.from))
    } catch (err) {
      if (!this.failing) {
        this.failing = true
        this.cb.onStatus?.('unreachable', err as TartanError)
      }
      this.schedule(Math.max(this.intervalMs, 500))
      return
    }
    if (this.failing) {
      this.failing = false
      this.cb.onStatus?.('restored')
    }
    if (result !== undefined) {
      this.from = result.revision + 1
      this.cb.onResult(result)
      // More may be pending (events come in pages of 1000): poll again at once.
      if (result.kind === 'events') return this.schedule(0)
    }
    this.schedule(this.intervalMs)
  }
}
