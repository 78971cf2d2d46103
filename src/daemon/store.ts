/**
 * Opening a lease store from a description (what `tartan run --store` and the Daemon take): the embedded
 * SQLite file or etcd v3. The store modules are loaded on demand, so embedding the engine alone never
 * loads SQLite or gRPC.
 */
import type { LeaseStore, StoreLogger } from '../lease/lease-store.js'

/** Where `tartan run` keeps the embedded store unless told otherwise (src/lease/sqlite-store.ts). */
export const DEFAULT_STORE_PATH = '/var/lib/tartan/leases.db'

export type StoreSpec =
  | { kind: 'sqlite'; path: string }
  | {
      kind: 'etcd'
      endpoints: string[]
      prefix?: string
      tls?: { caFile?: string; certFile?: string; keyFile?: string }
      auth?: { username: string; password: string }
      /** Deadline of each etcd call in ms (default 5000). */
      callTimeoutMs?: number
    }

/** Opens the store described by `spec`; throws TARTAN_ERR_STORE when a SQLite file cannot be opened. */
export async function openStore(spec: StoreSpec, logger?: StoreLogger): Promise<LeaseStore> {
  if (spec.kind === 'sqlite') {
    const { SqliteLeaseStore } = await import('../lease/sqlite-store.js')
    return new SqliteLeaseStore({ path: spec.path, logger })
  }
  const { EtcdLeaseStore } = await import('../lease/etcd-store.js')
  return new EtcdLeaseStore({
    endpoints: spec.endpoints,
    prefix: spec.prefix,
    tls: spec.tls,
    auth: spec.auth,
    callTimeoutMs: spec.callTimeoutMs,
    logger,
  })
}

/** A one-line description of a store spec for logs and errors, e.g. 'sqlite:/var/lib/tartan/leases.db'. */
export function describeStore(spec: StoreSpec): string {
  return spec.kind === 'sqlite' ? `sqlite:${spec.path}` : `etcd:${spec.endpoints.join(',')}${spec.prefix ?? ''}`
}
