/**
 * A TUN device (layer 3: bare IPv4 packets) as a PacketDevice, moving whole batches through the native
 * addon. The device exists while its fd is open: the kernel removes a non-persistent TUN on close.
 */
import { writeFileSync } from 'node:fs'
import { Errno, systemError, TartanError } from '../errors.js'
import type { OffloadInfo, PacketDevice } from './device.js'
import { configureLink } from './link-config.js'
import {
  COALESCE_TCP, COALESCE_UDP, native, offloadCounters, TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN, TUN_F_USO4, TUN_F_USO6,
  type NativeAddon,
} from './native.js'
import { batchHandle } from './batch-handle.js'
import { withNetns } from './netns.js'
import type { PacketBatch } from './packet-batch.js'
import type { BusyPoll } from './busy-poll.js'
import { FdPoller } from './poller.js'

export interface TunOpenOptions {
  /** Device name (at most 15 bytes); may hold a %d pattern for the kernel to fill in. */
  name: string
  mtu: number
  /** IPv4 address (a.b.c.d) to put on the device. */
  address?: string
  /** Prefix length of `address` (0..32); 32 when omitted. */
  prefixLen?: number
  /** Network namespace (name from `ip netns add`, or a path) to create the device in; default current. */
  netns?: string
  /** Use offloads (IFF_VNET_HDR with checksum, TSO4/TSO6 and, where the kernel takes it, USO): the kernel hands
   * over up to 64 KiB at a time and takes coalesced writes. Probed at open; a refusal falls back to plain
   * frames. Default true. */
  offload?: boolean
}

/** Which offloads a TUN device got: IFF_VNET_HDR, TCP segmentation (TSO4/6), UDP segmentation (USO4/6). */
export interface TunOffloads {
  vnetHdr: boolean
  tso: boolean
  uso: boolean
}

const TSO_FLAGS = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN
const USO_FLAGS = TUN_F_USO4 | TUN_F_USO6
const NO_OFFLOADS: TunOffloads = Object.freeze({ vnetHdr: false, tso: false, uso: false })
const { EPERM, ENOENT, EACCES, EBUSY, EINVAL } = Errno


export class TunDevice implements PacketDevice {
  /** The kernel's name for the device (the %d pattern resolved). */
  readonly name: string
  readonly mtu: number
  /** The offloads in use (all false on the plain-frame fallback). */
  readonly offloads: TunOffloads
  private readonly addon: NativeAddon
  private fd: number
  private readonly poller: FdPoller
  /** Native offload state (scratch, pending super-packet, counters) when vnetHdr is on, else null. */
  private readonly state: object | null
  private readonly coalesce: number

  private constructor(addon: NativeAddon, fd: number, name: string, mtu: number, offloads: TunOffloads) {
    this.addon = addon
    this.fd = fd
    this.name = name
    this.mtu = mtu
    this.offloads = offloads
    this.state = offloads.vnetHdr ? addon.tunOffloadCreate() : null
    this.coalesce = (offloads.tso ? COALESCE_TCP : 0) | (offloads.uso ? COALESCE_UDP : 0)
    this.poller = new FdPoller(fd, 'TARTAN_ERR_TUN', `TUN device ${name}`)
  }

  /**
   * Opens (creating if needed) TUN device `name` in `netns`, sets its MTU, address and up. On failure the fd
   * is closed (which removes a device this call created) and TARTAN_ERR_TUN is thrown with a hint.
   */
  static open(opts: TunOpenOptions): TunDevice {
    const { name, mtu, address, prefixLen, netns } = opts
    if (typeof name !== 'string' || Buffer.byteLength(name) > 15 || /[\s/:\0]/.test(name)) {
      throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `TUN name must be at most 15 bytes without whitespace, '/' or ':', got ${JSON.stringify(name)}`)
    }
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
      throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `TUN MTU must be an integer 68..65535, got ${mtu}`)
    }
    if (prefixLen !== undefined && (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 32)) {
      throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `TUN prefix length must be an integer 0..32, got ${prefixLen}`)
    }
    const addon = native()
    return withNetns(netns, () => {
      const { fd, offloads } = openWithOffloads(addon, name, opts.offload !== false)
      try {
        const actual = addon.tunName(fd)
        if (typeof actual === 'number') throw systemError('TARTAN_ERR_TUN', `reading the name of TUN device ${name}`, -actual, 'The TUN driver did not answer TUNGETIFF.')
        disableIpv6(actual)
        configureLink(actual, { mtu, address, prefixLen, up: true })
        return new TunDevice(addon, fd, actual, mtu, offloads)
      } catch (err) {
        addon.close(fd)
        if (err instanceof TartanError && err.code === 'TARTAN_ERR_TUN') throw err
        const errno = err instanceof TartanError ? err.errno : undefined
        const why = err instanceof Error ? err.message : String(err)
        throw new TartanError('TARTAN_ERR_TUN', `configuring TUN device ${name} failed: ${why}`, { cause: err, errno })
      }
    })
  }

  /** Reads up to batch.capacity packets into the batch's slots; sets and returns batch.count (or -errno). */
  read(batch: PacketBatch): number {
    if (this.fd < 0) {
      batch.count = 0
      return 0
    }
    const handle = batchHandle(this.addon, batch)
    const n = this.state === null
      ? this.addon.tunRead(this.fd, handle, batch.capacity)
      : this.addon.tunReadOffload(this.fd, handle, batch.capacity, this.state)
    batch.count = n > 0 ? n : 0
    return n
  }

  /** Writes packets [0, batch.count), per-packet errnos in batch.status; returns the number handled. */
  write(batch: PacketBatch): number {
    if (this.fd < 0) return 0
    const handle = batchHandle(this.addon, batch)
    if (this.state === null) return this.addon.tunWrite(this.fd, handle, batch.count)
    return this.addon.tunWriteOffload(this.fd, handle, batch.count, this.state, this.coalesce)
  }

  /** Which offloads are on and the native counters (frames read, super-packets split, merged writes...). */
  offloadInfo(): OffloadInfo {
    const o = this.offloads
    const counters = this.state === null ? {} : offloadCounters(this.addon.offloadStats(this.state))
    return { active: o.vnetHdr, features: { vnetHdr: o.vnetHdr, tso: o.tso, uso: o.uso }, counters }
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

  /** Stops watching and closes the fd (the kernel then removes a non-persistent device). Idempotent. */
  close(): void {
    if (this.fd < 0) return
    this.poller.close()
    this.addon.close(this.fd)
    this.fd = -1
  }
}

/**
 * Opens the TUN fd. With offloads wanted: IFF_VNET_HDR, then TUNSETOFFLOAD with checksum + TSO4/6 + TSO_ECN +
 * USO4/6, then without USO (kernels before 6.2), then checksum + TSO4/6 alone (wireguard-go's set); if the
 * device takes none of them (or IFF_VNET_HDR), the fd is closed (a device it created goes with it) and a
 * plain one opened, as wireguard-go falls back. Exported for tests (with a stand-in for the three calls).
 */
export function openWithOffloads(addon: Pick<NativeAddon, 'tunOpen' | 'tunSetOffload' | 'close'>, name: string, offload: boolean): { fd: number; offloads: TunOffloads } {
  if (offload) {
    const fd = addon.tunOpen(name, true)
    if (fd >= 0) {
      if (addon.tunSetOffload(fd, TSO_FLAGS | USO_FLAGS) === 0) return { fd, offloads: { vnetHdr: true, tso: true, uso: true } }
      if (addon.tunSetOffload(fd, TSO_FLAGS) === 0) return { fd, offloads: { vnetHdr: true, tso: true, uso: false } }
      if (addon.tunSetOffload(fd, TSO_FLAGS & ~TUN_F_TSO_ECN) === 0) return { fd, offloads: { vnetHdr: true, tso: true, uso: false } }
      addon.close(fd)
    }
  }
  const fd = addon.tunOpen(name)
  if (fd < 0) throw openError(name, -fd)
  return { fd, offloads: NO_OFFLOADS }
}

/** tartan carries IPv4 only: switch IPv6 off on the device before it comes up, so the kernel sends it no
 * router solicitations or MLD reports to drop. Best effort (IPv6 may be disabled system-wide). The sysctl
 * file resolves in the calling thread's network namespace. */
function disableIpv6(name: string): void {
  try {
    writeFileSync(`/proc/sys/net/ipv6/conf/${name}/disable_ipv6`, '1')
  } catch {
    // no IPv6 in this kernel or namespace: nothing to disable
  }
}

function openError(name: string, errno: number): TartanError {
  let hint: string
  switch (errno) {
    case EPERM:
    case EACCES:
      hint = 'Run as root (CAP_NET_ADMIN).'
      break
    case ENOENT:
      hint = '/dev/net/tun is missing: load the tun module: modprobe tun.'
      break
    case EBUSY:
      hint = `A device named ${name} is in use: pick another name or stop the process that holds it.`
      break
    case EINVAL:
      hint = `A link named ${name} exists and is not a TUN device, or the name is invalid.`
      break
    default:
      hint = 'See the errno for details.'
  }
  return systemError('TARTAN_ERR_TUN', `opening TUN device ${name}`, errno, hint)
}
