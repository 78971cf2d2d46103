/**
 * A bound, non-blocking UDP socket as a DatagramBind: recvmmsg/sendmmsg of whole batches through the
 * native addon, readiness through one shared poller.
 */
import { Errno, systemError, TartanError } from '../errors.js'
import { intToIpv4, ipv4ToInt } from '../wire/ipv4-address.js'
import type { DatagramBind, OffloadInfo } from './device.js'
import { native, offloadCounters, UDP_OFFLOAD_GRO, UDP_OFFLOAD_GSO, type NativeAddon } from './native.js'
import { batchHandle } from './batch-handle.js'
import { withNetns } from './netns.js'
import { DEFAULT_HEADROOM, DEFAULT_SLOT_SIZE, PacketBatch } from './packet-batch.js'
import type { BusyPoll } from './busy-poll.js'
import { FdPoller } from './poller.js'

/** Socket buffer size asked for when none is given: room for bursts of full batches (wireguard-go uses 7 MiB). */
export const DEFAULT_UDP_BUFFER_BYTES = 4 * 1024 * 1024

/** Messages per GRO receive that the arena of createReadBatch holds, 64 KiB each (native kRecvMsgs). */
export const GRO_ARENA_MESSAGES = 64
export const GRO_ARENA_BYTES = GRO_ARENA_MESSAGES * 65536

export interface UdpBindOptions {
  /** Local IPv4 address (a.b.c.d); 0.0.0.0 receives on every address. */
  address: string
  /** Local port; 0 lets the kernel choose (see localPort). */
  port: number
  /** SO_RCVBUF/SO_SNDBUF in bytes (FORCE variants when permitted); default DEFAULT_UDP_BUFFER_BYTES. */
  bufferBytes?: number
  /** Network namespace (name from `ip netns add`, or a path) to open the socket in; default current. */
  netns?: string
  /** Use UDP segmentation (UDP_SEGMENT: many equal-sized datagrams per sendmsg) and receive coalescing
   * (UDP_GRO) where the kernel has them; GSO the device refuses falls back to plain sends for good, a group
   * too big for the path MTU goes out a datagram per message. Default true. */
  offload?: boolean
  /** Source ports to spread sends over (1..16, default 1): datagram i leaves from lane batch.lanes[i]. Lane 0
   * is the bound socket; the others are sockets on the same address with ports the kernel picks, so a
   * flow's outer source port follows a hash of the flow (VXLAN, RFC 7348 section 5) and underlay ECMP can
   * spread flows. Only the bound socket receives. */
  sourcePorts?: number
}

/** Extra source-port sockets receive nothing; a small buffer bounds what strays could queue there. */
const LANE_RCVBUF_BYTES = 64 * 1024
/** At most this many source ports (lanes fit a Uint8Array, and a handful already spreads ECMP). */
export const MAX_SOURCE_PORTS = 16

const { EACCES, EADDRINUSE, EADDRNOTAVAIL, EPERM } = Errno

interface Lane {
  fd: number
  state: object | null
}


export class UdpBind implements DatagramBind {
  readonly localAddr: number
  readonly localPort: number
  private readonly addon: NativeAddon
  private fd: number
  private readonly poller: FdPoller
  private writableHandler: (() => void) | null = null
  /** Native offload state when GSO or GRO is on, else null (plain sendmmsg/recvmmsg). */
  private readonly state: object | null
  /** Send sockets by lane; lanes[0] is this socket. */
  private readonly lanes: Lane[]

  private constructor(addon: NativeAddon, fd: number, localAddr: number, localPort: number, offloadBits: number, extra: Lane[]) {
    this.addon = addon
    this.fd = fd
    this.localAddr = localAddr
    this.localPort = localPort
    this.state = offloadState(addon, offloadBits)
    this.lanes = [{ fd, state: this.state }, ...extra]
    this.poller = new FdPoller(fd, 'TARTAN_ERR_SOCKET', `UDP socket ${fmtEndpoint(localAddr, localPort)}`)
  }

  /** Number of source ports sends are spread over. */
  get sourcePorts(): number {
    return this.lanes.length
  }

  /** Opens a UDP socket bound to address:port in `netns`; throws TARTAN_ERR_SOCKET with a hint on failure. */
  static open(opts: UdpBindOptions): UdpBind {
    const addr = ipv4ToInt(opts.address, 'UDP bind address')
    const { port, netns } = opts
    const bufferBytes = opts.bufferBytes ?? DEFAULT_UDP_BUFFER_BYTES
    const sourcePorts = opts.sourcePorts ?? 1
    if (!Number.isInteger(sourcePorts) || sourcePorts < 1 || sourcePorts > MAX_SOURCE_PORTS) {
      throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `sourcePorts must be an integer 1..${MAX_SOURCE_PORTS}, got ${sourcePorts}`)
    }
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `UDP port must be an integer 0..65535, got ${port}`)
    }
    if (!Number.isInteger(bufferBytes) || bufferBytes < 0 || bufferBytes > 0x3fffffff) {
      throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `UDP buffer size must be an integer 0..${0x3fffffff} bytes, got ${bufferBytes}`)
    }
    const addon = native()
    return withNetns(netns, () => {
      const fd = addon.udpOpen(addr, port, bufferBytes)
      if (fd < 0) throw openError(addr, port, -fd)
      const local = addon.udpLocalPort(fd)
      if (local < 0) {
        addon.close(fd)
        throw systemError('TARTAN_ERR_SOCKET', `reading the local port of UDP socket ${fmtEndpoint(addr, port)}`, -local, 'See the errno for details.')
      }
      // Offloads are a speed-up only: a kernel without them (or an fd that refuses) means plain batches.
      const bits = opts.offload === false ? 0 : Math.max(0, addon.udpOffloadEnable(fd, true))
      const extra: Lane[] = []
      for (let i = 1; i < sourcePorts; i++) {
        const lfd = addon.udpOpen(addr, 0, LANE_RCVBUF_BYTES)
        if (lfd < 0) {
          for (const l of extra) addon.close(l.fd)
          addon.close(fd)
          throw openError(addr, 0, -lfd)
        }
        // GSO only: lane sockets never receive, so they need no GRO.
        const lbits = opts.offload === false ? 0 : Math.max(0, addon.udpOffloadEnable(lfd, true)) & UDP_OFFLOAD_GSO
        extra.push({ fd: lfd, state: offloadState(addon, lbits) })
      }
      return new UdpBind(addon, fd, addr, local, bits, extra)
    })
  }

  /** Receives up to batch.capacity datagrams; sets and returns batch.count (0 when none is ready, or -errno). */
  read(batch: PacketBatch): number {
    if (this.fd < 0) {
      batch.count = 0
      return 0
    }
    const handle = batchHandle(this.addon, batch)
    const n = this.state === null
      ? this.addon.udpRecv(this.fd, handle, batch.capacity)
      : this.addon.udpRecvOffload(this.fd, handle, batch.capacity, this.state)
    batch.count = n > 0 ? n : 0
    return n
  }

  /** Sends datagrams [start, batch.count); returns the index of the first not handled (batch.count when all were). */
  send(batch: PacketBatch, start: number): number {
    if (this.fd < 0) return start
    const handle = batchHandle(this.addon, batch)
    const lanes = this.lanes
    if (lanes.length === 1) return this.sendRun(lanes[0]!, handle, start, batch.count)
    // One native call per run of consecutive datagrams on the same lane (bulk flows make long runs).
    const laneOf = batch.lanes
    const end = batch.count
    let i = start
    while (i < end) {
      const lane = laneOf[i]! < lanes.length ? laneOf[i]! : 0
      let j = i + 1
      while (j < end && laneOf[j] === laneOf[i]) j++
      const next = this.sendRun(lanes[lane]!, handle, i, j)
      if (next < j) return next
      i = j
    }
    return end
  }

  /** Sends [start, end) of a registered batch through one lane's socket. */
  private sendRun(lane: Lane, handle: object, start: number, end: number): number {
    if (lane.state === null) return this.addon.udpSend(lane.fd, handle, start, end)
    return this.addon.udpSendOffload(lane.fd, handle, start, end, lane.state)
  }

  /** With GRO on: a batch whose buffer has, after its slots, an arena of GRO_ARENA_MESSAGES x 64 KiB that
   * udpRecvOffload receives coalesced datagrams into, entries pointing at each datagram (no copy). */
  createReadBatch(capacity: number): PacketBatch {
    if (this.state === null || this.addon.offloadStats(this.state).gro !== true) return new PacketBatch(capacity)
    const slots = capacity * DEFAULT_SLOT_SIZE
    return new PacketBatch(capacity, DEFAULT_SLOT_SIZE, DEFAULT_HEADROOM, new ArrayBuffer(slots + GRO_ARENA_BYTES))
  }

  /** Whether GSO (UDP_SEGMENT) and GRO are on now, and the native counters. */
  offloadInfo(): OffloadInfo {
    const s = this.state === null ? {} : this.addon.offloadStats(this.state)
    const gso = s.gso === true
    const gro = s.gro === true
    return { active: gso || gro, features: { gso, gro }, counters: offloadCounters(s) }
  }

  /** Joins (null: leaves) a busy-poll group shared with the engine's other fd (see busy-poll.ts). */
  joinBusyPoll(group: BusyPoll | null): void {
    if (this.fd < 0) return
    this.poller.joinBusyPoll(group)
  }

  /** Calls `handler` once per readiness wakeup while set; null stops watching. */
  onReadable(handler: (() => void) | null): void {
    if (this.fd < 0) return
    this.poller.setReadable(handler)
  }

  /** Calls `handler` once, on the next wakeup where the socket is writable; null cancels. */
  onWritable(handler: (() => void) | null): void {
    if (this.fd < 0) return
    this.writableHandler = handler
    this.poller.setWritable(handler === null ? null : this.fireWritable)
  }

  /** Stops watching and closes the socket. Idempotent. */
  close(): void {
    if (this.fd < 0) return
    this.writableHandler = null
    this.poller.close()
    for (const lane of this.lanes) this.addon.close(lane.fd)
    this.fd = -1
  }

  // Disarms writable interest before calling the handler, which may arm it again.
  private readonly fireWritable = (): void => {
    const h = this.writableHandler
    this.writableHandler = null
    this.poller.setWritable(null)
    if (h !== null) h()
  }
}

/** Native offload state for the enabled bits (GSO, GRO), or null when neither is on. */
function offloadState(addon: NativeAddon, bits: number): object | null {
  if (bits === 0) return null
  return addon.udpOffloadCreate((bits & UDP_OFFLOAD_GSO) !== 0, (bits & UDP_OFFLOAD_GRO) !== 0)
}

function fmtEndpoint(addr: number, port: number): string {
  return `${intToIpv4(addr)}:${port}`
}

function openError(addr: number, port: number, errno: number): TartanError {
  const where = fmtEndpoint(addr, port)
  let hint: string
  switch (errno) {
    case EADDRINUSE:
      hint = `Another socket is bound to ${where} (another tartan or flanneld?): stop it or choose another port.`
      break
    case EADDRNOTAVAIL:
      hint = 'The address is not assigned to an interface in this network namespace: use one that is, or 0.0.0.0.'
      break
    case EACCES:
    case EPERM:
      hint = 'Ports below 1024 need root (CAP_NET_BIND_SERVICE).'
      break
    default:
      hint = 'See the errno for details.'
  }
  return systemError('TARTAN_ERR_SOCKET', `binding UDP socket ${where}`, errno, hint)
}
