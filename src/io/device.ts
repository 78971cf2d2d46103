/**
 * The two I/O contracts the engine pumps between. A PacketDevice carries bare IPv4 packets to and from the
 * local pods (a TUN device, or the in-memory pair); a DatagramBind carries UDP payloads to and from peers
 * (a UDP socket, or the in-memory pair). Both move whole batches: one call per batch, never per packet.
 */
import type { BusyPoll } from './busy-poll.js'
import type { PacketBatch } from './packet-batch.js'

/** What offloads a device or bind uses, and their counters (native offloadStats), for diagnostics. */
export interface OffloadInfo {
  /** True when any offload is active. */
  active: boolean
  /** Which offloads are on (TUN: vnetHdr, tso, uso; UDP: gso, gro). */
  features: Record<string, boolean>
  counters: Record<string, number>
}

export interface PacketDevice {
  readonly name: string
  /** Reads up to batch.capacity packets into the batch's slots (offset = slot base + headroom); sets and
   * returns batch.count. 0 means nothing is ready; negative is -errno of a hard error. */
  read(batch: PacketBatch): number
  /** Writes packets [0, batch.count); per-packet errors go to batch.status. Returns the number handled. */
  write(batch: PacketBatch): number
  /** Calls `handler` once per readiness wakeup (never per packet) while set; null stops watching. */
  onReadable(handler: (() => void) | null): void
  /** Releases the device; further calls are no-ops returning 0. */
  close(): void
  /** Offload diagnostics (optional: in-memory devices have none). */
  offloadInfo?(): OffloadInfo
  /** Joins a busy-poll group (optional: fd-backed devices only). */
  joinBusyPoll?(group: BusyPoll | null): void
}

export interface DatagramBind {
  /** Local IPv4 address (host byte order) and port the bind receives on. */
  readonly localAddr: number
  readonly localPort: number
  /** How many source ports send() spreads datagrams over by batch.lanes[i] (1 when it has one socket). */
  readonly sourcePorts?: number
  /** Receives up to batch.capacity datagrams; payload i at offsets[i]/lengths[i], sender in addrs/ports.
   * Sets and returns batch.count; 0 when nothing is ready; negative -errno. */
  read(batch: PacketBatch): number
  /** Sends datagrams [start, batch.count) to addrs[i]:ports[i]. Returns the index of the first datagram not
   * handled (batch.count when all were); less means the socket would block: wait for onWritable. */
  send(batch: PacketBatch, start: number): number
  onReadable(handler: (() => void) | null): void
  /** Calls `handler` once when the socket can take more after a short send; null cancels. */
  onWritable(handler: (() => void) | null): void
  close(): void
  /** Offload diagnostics (optional: in-memory binds have none). */
  offloadInfo?(): OffloadInfo
  /** A receive batch suited to this bind (optional; else any PacketBatch): UdpBind with GRO adds an arena
   * after the slots that coalesced datagrams land in, so their entries point into it without a copy. */
  createReadBatch?(capacity: number): PacketBatch
  /** Joins a busy-poll group (optional: fd-backed binds only). */
  joinBusyPoll?(group: BusyPoll | null): void
}
