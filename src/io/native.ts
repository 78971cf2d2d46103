/**
 * The contract between TypeScript and the C++ addon (native/). The addon moves bytes and talks to the
 * kernel; it never decides anything. Every function returns a non-negative result or a negative errno:
 * the addon never throws, so callers map failures to TartanErrors with a hint (see src/errors.ts).
 *
 * Addresses cross the boundary as IPv4 in host byte order (10.244.1.2 -> 0x0af40102).
 */
import { createRequire } from 'node:module'
import { TartanError } from '../errors.js'

/** Readiness interest bits for pollStart/pollUpdate and the events passed to the callback. */
export const POLL_READABLE = 1
export const POLL_WRITABLE = 2

/** TUNSETOFFLOAD bits (include/uapi/linux/if_tun.h): what the device may hand us unsegmented or unchecksummed. */
export const TUN_F_CSUM = 0x01
export const TUN_F_TSO4 = 0x02
export const TUN_F_TSO6 = 0x04
export const TUN_F_TSO_ECN = 0x08
/** UDP segmentation offload on TUN devices: Linux 6.2 and later. */
export const TUN_F_USO4 = 0x20
export const TUN_F_USO6 = 0x40

/** tunWriteOffload coalesce bits: merge TCP runs (needs TSO4 accepted), UDP runs (needs USO4 accepted). */
export const COALESCE_TCP = 1
export const COALESCE_UDP = 2

/** udpOffloadEnable result bits. */
export const UDP_OFFLOAD_GSO = 1
export const UDP_OFFLOAD_GRO = 2

/** Counters of an offload state (offloadStats); the UDP state also says whether GSO/GRO are on now. */
export type OffloadStats = Record<string, number | boolean>

/** The counters of an offloadStats answer (its numbers; the booleans are the features in use). */
export function offloadCounters(stats: OffloadStats): Record<string, number> {
  const counters: Record<string, number> = {}
  for (const [k, v] of Object.entries(stats)) if (typeof v === 'number') counters[k] = v
  return counters
}

export interface NativeAddon {
  /** Opens /dev/net/tun as IFF_TUN|IFF_NO_PI, O_NONBLOCK|O_CLOEXEC (plus IFF_VNET_HDR when vnetHdr: every frame
   * then starts with a 10-byte virtio-net header); name may hold a %d pattern. fd or -errno. */
  tunOpen(name: string, vnetHdr?: boolean): number
  /** TUNSETOFFLOAD with TUN_F_* bits on a TUN opened with vnetHdr. 0 or -errno (-EINVAL: a bit is refused). */
  tunSetOffload(fd: number, flags: number): number
  /** Scratch and counters for one TUN device opened with vnetHdr (allocated once; pass to the offload calls). */
  tunOffloadCreate(): object
  /** tunRead for a vnetHdr TUN: super-packets (TSO/USO, up to 64 KiB) are split into packets of at most the
   * segment size in consecutive slots, every header and checksum fixed as the kernel's GSO would; frames that
   * need a checksum get it; a rest that does not fit waits in `state` for the next call. Count or -errno. */
  tunReadOffload(fd: number, batch: object, max: number, state: object): number
  /** tunWrite for a vnetHdr TUN: runs of one TCP (coalesce & COALESCE_TCP) or UDP (& COALESCE_UDP) flow that may
   * merge are written as one super-packet with a GSO virtio header, the rest one by one with a zero header.
   * status[i] is that of the write that carried packet i. Returns count (packets behind an EAGAIN get EAGAIN). */
  tunWriteOffload(fd: number, batch: object, count: number, state: object, coalesce: number): number
  /** The kernel's name for the TUN device behind fd, or -errno. */
  tunName(fd: number): string | number
  /** Interface index of a link by name, or -errno (-ENODEV when absent). */
  linkIndex(name: string): number
  /** Sets a link's MTU (rtnetlink). 0 or -errno. */
  linkSetMtu(name: string, mtu: number): number
  /** Sets a link administratively up or down (rtnetlink). 0 or -errno. */
  linkSetUp(name: string, up: boolean): number
  /** Deletes a link (rtnetlink RTM_DELLINK). 0 or -errno. */
  linkDelete(name: string): number
  /** Adds an IPv4 address with prefix length to a link (RTM_NEWADDR). 0 or -errno (-EEXIST when present). */
  addrAdd(name: string, addr: number, prefixLen: number): number
  /** Adds an IPv4 route dst/prefixLen out of link `name`, via `gateway` (0 = directly connected). 0 or -errno. */
  routeAdd(name: string, dst: number, prefixLen: number, gateway: number): number
  /** Deletes the route routeAdd created. 0 or -errno. */
  routeDel(name: string, dst: number, prefixLen: number, gateway: number): number
  /** Opens a non-blocking UDP socket bound to addr:port with SO_RCVBUF/SO_SNDBUF of bufBytes (FORCE when
   * permitted). fd or -errno. */
  udpOpen(addr: number, port: number, bufBytes: number): number
  /** The local port a UDP fd is bound to, or -errno. */
  udpLocalPort(fd: number): number
  /** Registers a batch's slab and typed arrays once; the handle is passed to the batch I/O calls. The addon
   * keeps references so the memory stays alive while the handle does. */
  batchRegister(
    buffer: ArrayBuffer, slotSize: number, headroom: number,
    offsets: Uint32Array, lengths: Uint32Array, addrs: Uint32Array, ports: Uint16Array, status: Int32Array,
  ): object
  /** Reads up to max frames from a TUN fd, frame i into slot i at i*slotSize+headroom (offsets[i], lengths[i]
   * set), stopping at EAGAIN. Returns the count (0 when nothing was ready) or -errno. */
  tunRead(fd: number, batch: object, max: number): number
  /** Writes packets [0, count) (offsets/lengths) to a TUN fd, one write each; status[i] = 0 or errno.
   * Returns the number handled (fewer than count only on EAGAIN) or -errno. */
  tunWrite(fd: number, batch: object, count: number): number
  /** recvmmsg up to max datagrams into slots like tunRead, with source addr/port into addrs/ports. Returns the
   * count (0 when nothing was ready) or -errno. */
  udpRecv(fd: number, batch: object, max: number): number
  /** sendmmsg packets [start, count) to addrs[i]:ports[i], iovecs pointing into the slab (zero copy). A
   * message refused with a hard error gets status[i] = errno and is skipped. Returns the index of the first
   * message not handled: count when all were handled, less when the socket would block (EAGAIN/ENOBUFS). */
  udpSend(fd: number, batch: object, start: number, count: number): number
  /** Probes UDP_SEGMENT and, when gro, turns UDP_GRO on for a UDP fd: UDP_OFFLOAD_* bits, or -errno. */
  udpOffloadEnable(fd: number, gro: boolean): number
  /** The state for one UDP socket's offloads (what udpOffloadEnable found on); allocated once. */
  udpOffloadCreate(gso: boolean, gro: boolean): object
  /** udpSend grouping consecutive datagrams to one destination with equal sizes (the last may be shorter) into
   * one message with UDP_SEGMENT. Same contract as udpSend. GSO refused with EIO/EOPNOTSUPP (or EINVAL before any
   * GSO send went through) turns it off for good (offloadStats(state).gso); EMSGSIZE (segment above the path
   * MTU) resends that group a datagram per message. */
  udpSendOffload(fd: number, batch: object, start: number, count: number, state: object): number
  /** udpRecv splitting UDP_GRO messages into one entry per datagram (offsets need not follow slot order);
   * datagrams that do not fit wait in `state` for the next call. Same contract as udpRecv. */
  udpRecvOffload(fd: number, batch: object, max: number, state: object): number
  /** Counters of a TUN or UDP offload state. */
  offloadStats(state: object): OffloadStats
  /** Test only: the tunReadOffload path over `frame` (virtio header + packet, as one read returns it) instead
   * of a read; frame null continues a pending super-packet. Count, or -EINVAL for a frame under 10 bytes. */
  offloadSegment(state: object, frame: Uint8Array | null, batch: object, max: number): number
  /** Test only: the tunWriteOffload path over packets [0, count), appending each write to `out` as
   * [u32 LE length][virtio header + packet]. Number of writes, or -ENOSPC when out is too small. */
  offloadCoalesce(state: object, batch: object, count: number, coalesce: number, out: Uint8Array): number
  /** Polls fds (at most 8) for readability without blocking, yielding the CPU between polls, until one is
   * ready or budgetUs passes: bitmask of ready fds (bit i = fds[i]), 0 after the budget, -EBUSY when more than
   * contendedGapUs passed between two polls (another task ran on the core; 0: never), or -errno. */
  spinPoll(fds: Int32Array, budgetUs: number, contendedGapUs: number): number
  /** Starts watching fd with libuv (uv_poll) for the interest bits; cb(events) runs once per wakeup. Returns
   * the poll handle, or -errno when fd cannot be watched (-EBADF; -EEXIST when another poll watches it). Keep
   * the handle: one that is garbage-collected without pollClose closes its poll. */
  pollStart(fd: number, events: number, cb: (events: number) => void): object | number
  /** Changes a poll's interest bits (0 pauses it). 0 or -errno. */
  pollUpdate(poll: object, events: number): number
  /** Stops and releases a poll; its callback is never called again. */
  pollClose(poll: object): void
  /** Moves the calling (main) thread into the network namespace at path (e.g. /var/run/netns/x) with
   * setns(CLONE_NEWNET). Returns an fd for the namespace it was in (pass to netnsRestore), or -errno. Sockets,
   * TUN devices and netlink sockets opened meanwhile stay in the namespace they were opened in. */
  netnsSwitch(path: string): number
  /** Returns the thread to the namespace whose fd netnsSwitch returned, and closes that fd. 0 or -errno. */
  netnsRestore(fd: number): number
  /** Closes a file descriptor. 0 or -errno; -EBUSY (fd left open) while a poll still watches it: pollClose first. */
  close(fd: number): number
}

let cached: NativeAddon | undefined
let loadError: unknown

/** Returns the addon, loading it on first use; throws TARTAN_ERR_NATIVE_UNAVAILABLE if it was not built. */
export function native(): NativeAddon {
  if (cached) return cached
  if (loadError === undefined) {
    try {
      const require = createRequire(import.meta.url)
      cached = require('../../build/Release/tartan_native.node') as NativeAddon
      return cached
    } catch (err) {
      loadError = err
    }
  }
  throw new TartanError('TARTAN_ERR_NATIVE_UNAVAILABLE',
    'the native addon (build/Release/tartan_native.node) could not be loaded. Run `npm install` (it builds the addon with node-gyp; needs python3, make and g++).',
    { cause: loadError })
}

/** True when the addon loads on this machine. */
export function nativeAvailable(): boolean {
  try { native(); return true } catch { return false }
}
