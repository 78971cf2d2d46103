/**
 * LeaseStore: the narrow storage contract under LeaseManager (flannel's Registry). It stores subnet leases
 * under flannel's key schema, versioned by a store-wide revision, and the network config. Policy (which
 * subnet to take, when to renew, what a lost lease means) lives in LeaseManager, not here.
 *
 * Every method that talks to the store rejects with a TartanError 'TARTAN_ERR_STORE' when the store cannot
 * be reached or fails; a value that does not decode is skipped and counted (stats().garbageSkipped), never
 * thrown.
 */
import type { Ipv4Prefix } from '../config/cidr.js'
import type { NetworkConfig } from '../config/network-config.js'
import type { TartanError } from '../errors.js'
import type { LeaseAttrs } from './lease-codec.js'

/** flannel's lease lifetime (pkg/subnet/etcd/local_manager.go: subnetTTL = 24 * time.Hour). */
export const DEFAULT_LEASE_TTL_MS = 24 * 60 * 60 * 1000

export interface Lease {
  /** The key below `<prefix>/subnets/`, exactly as stored (e.g. '10.244.7.0-24'). */
  readonly key: string
  readonly subnet: Ipv4Prefix
  readonly attrs: LeaseAttrs
  /** The store revision of the last write to this lease (etcd mod_revision): the compare-and-swap token. */
  readonly revision: number
  /** When the lease expires (ms since the epoch, local clock), if the operation that returned it knows. */
  readonly expiresAt?: number
}

export interface LeaseList {
  readonly leases: Lease[]
  /** The store revision the list is consistent with; watch from revision + 1 to follow it. */
  readonly revision: number
}

export type LeaseEvent =
  | { readonly type: 'put'; readonly lease: Lease }
  | { readonly type: 'delete'; readonly key: string; readonly subnet: Ipv4Prefix; readonly revision: number }

/**
 * One delivery of a watch: either the events since the last delivery, or, when history is no longer
 * available (compaction, a gap), the complete current set of leases to diff against.
 */
export type WatchResult =
  | { readonly kind: 'events'; readonly events: LeaseEvent[]; readonly revision: number }
  | { readonly kind: 'snapshot'; readonly leases: Lease[]; readonly revision: number }

export interface WatchCallbacks {
  /** Called in revision order; never concurrently. */
  onResult(result: WatchResult): void
  /** The watch lost its connection to the store (it keeps retrying) or got it back. */
  onStatus?(status: 'unreachable' | 'restored', error?: TartanError): void
}

export interface StoreWatch {
  /** Stops the watch; no callback runs after the returned promise resolves. */
  close(): Promise<void>
}

export interface StoreStats {
  /** Entries under the subnets prefix whose key or value did not decode (skipped with a warning). */
  readonly garbageSkipped: number
  /** Times a watch fell back to a snapshot. */
  readonly watchResets: number
}

export interface StoreLogger {
  warn(message: string): void
}

export interface LeaseStore {
  /** A human-readable description for logs (e.g. 'sqlite:/var/lib/tartan/leases.db'). */
  readonly description: string

  /** Reads and validates the network config; TARTAN_ERR_INVALID_CONFIG when it is missing or invalid. */
  getNetworkConfig(): Promise<NetworkConfig>

  /** Writes the network config JSON text (validated first); an administrative operation. */
  putNetworkConfig(json: string): Promise<void>

  /** Lists every (unexpired, decodable) lease with the revision the list is consistent with. */
  list(): Promise<LeaseList>

  /** Reads one lease by key, with its expiry; null when absent. */
  get(key: string): Promise<Lease | null>

  /** Creates the lease `key` if and only if it is absent; null when it already exists. */
  create(key: string, attrs: LeaseAttrs, ttlMs: number): Promise<Lease | null>

  /**
   * Rewrites the lease `key` with fresh attrs and a fresh TTL if and only if its revision is still
   * `expectedRevision` (renewal); null when it changed or no longer exists.
   */
  update(key: string, attrs: LeaseAttrs, ttlMs: number, expectedRevision: number): Promise<Lease | null>

  /** Deletes the lease `key` (only at `expectedRevision` when given); whether it deleted something. */
  delete(key: string, expectedRevision?: number): Promise<boolean>

  /**
   * Follows every change to the leases from `fromRevision` (inclusive) on. Reconnects on its own after
   * store failures, resuming where it left off, or delivering a snapshot when that history is gone.
   */
  watch(fromRevision: number, callbacks: WatchCallbacks): StoreWatch

  stats(): StoreStats

  /** Releases connections and timers; outstanding watches are closed. */
  close(): Promise<void>
}

/** The subnet of a lease event, for either kind of event. */
export function eventSubnet(e: LeaseEvent): Ipv4Prefix {
  return e.type === 'put' ? e.lease.subnet : e.subnet
}
