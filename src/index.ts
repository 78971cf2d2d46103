/**
 * tartan's public API (`import { Engine, Daemon } from 'tartan'`); docs/api.md describes it.
 *  - Engine: the data plane alone. An agent creates it (TUN name, local subnet, encapsulation, underlay
 *    address), adds and removes peers itself, reads counters and listens for events.
 *  - Daemon: a whole store-driven node, flanneld's behaviour in-process (what `tartan run` runs).
 */
export {
  Engine, parseMac,
  type EngineCoreOptions, type EngineEvents, type EngineOptions, type PeerSpec, type PeerUnreachable,
} from './engine/engine.js'
export type { BatchHistogram, EngineCounters } from './engine/counters.js'
export type { PeerInfo } from './engine/peer-table.js'
export { DROP_REASON_NAMES } from './engine/drop-reasons.js'
export { Daemon, type DaemonEvents, type DaemonLog, type DaemonOptions, type DaemonStatus } from './daemon/daemon.js'
export { DEFAULT_STORE_PATH, openStore, type StoreSpec } from './daemon/store.js'
export { resolveUnderlay, type Underlay, type UnderlayOptions } from './daemon/underlay.js'
export { Node, type NodeEvents, type NodeOptions } from './node/node.js'
export type { PeerSink } from './node/peer-sink.js'
export type { Lease, LeaseStore } from './lease/lease-store.js'
export { parseNetworkConfig, type NetworkConfig } from './config/network-config.js'
export { MemoryBind, MemoryDevice, MemoryNetwork } from './io/memory.js'
export { TartanError, type TartanErrorCode } from './errors.js'
