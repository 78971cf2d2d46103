/**
 * The pump loops. tun -> check -> route -> TTL -> encapsulate -> udp, and udp -> decapsulate -> check -> tun,
 * one batch at a time. Everything per packet lives in typed arrays; the loops allocate nothing, throw
 * nothing and create no closures. A wakeup handles at most `budget` batches per direction, so one direction
 * cannot starve the other or the event loop (libuv polls are level-triggered: what is left wakes us again).
 */
import type { DatagramBind, PacketDevice } from '../io/device.js'
import { PacketBatch } from '../io/packet-batch.js'
import { DECAP_CONTROL, type Encapsulation } from '../encap/encapsulation.js'
import { NO_ROUTE, type RouteTable } from '../route/route-table.js'
import {
  IPV4_DST, IPV4_FLAGS_FRAGMENT, IPV4_FLAG_DF, IPV4_SRC, IPV4_TTL, Ipv4Check, Ipv4View, decrementTtl, readU16, readU32,
} from '../wire/ipv4.js'
import {
  ICMP_CODE_FRAGMENTATION_NEEDED, ICMP_CODE_NET_UNREACHABLE, ICMP_CODE_TTL_EXCEEDED, ICMP_DEST_UNREACHABLE,
  ICMP_ERROR_MAX_LENGTH, ICMP_TIME_EXCEEDED, mayReplyWithIcmpError, writeIcmpError,
} from '../wire/icmp.js'
import { flowHash } from '../wire/flow-hash.js'
import { DropReason } from './drop-reasons.js'
import {
  C_CONTROL_REPLIES, C_DROPS, C_ICMP_RATE_LIMITED, C_ICMP_SENT, C_RX_BYTES, C_RX_PACKETS, C_TUN_BATCHES, C_TUN_BATCH_PACKETS,
  C_TX_BLOCKED, C_TX_BYTES, C_TX_PACKETS, C_UDP_BATCHES, C_UDP_BATCH_PACKETS, C_WAKEUPS, COUNTER_SLOTS, batchBucket,
} from './counters.js'
import {
  PEER_COUNTERS, PEER_LAST_ERRNO, PEER_RX_BYTES, PEER_RX_PACKETS, PEER_TX_BYTES, PEER_TX_ERRORS, PEER_TX_PACKETS, type PeerTable,
} from './peer-table.js'
import type { IcmpRateLimiter } from './icmp-rate-limiter.js'

export interface ForwarderOptions {
  device: PacketDevice
  bind: DatagramBind
  encapsulation: Encapsulation
  routes: RouteTable
  peers: PeerTable
  /** The local subnet (network address and mask, host order): the only inner destinations we deliver. */
  localAddr: number
  localMask: number
  /** Source address of ICMP errors we originate (the TUN's address). */
  routerAddr: number
  /** Largest inner packet a peer can receive (underlay MTU - encapsulation overhead). */
  mtu: number
  icmpLimiter: IcmpRateLimiter
  batchSize: number
  /** Batches per direction per wakeup. */
  budget: number
  /** Called (outside the hot loop) after a wakeup that dropped packets or had sends refused; may be null. */
  onDrops: (() => void) | null
}

/** Reason codes from Ipv4View.wrap mapped to receive-side drop reasons (index = Ipv4Check). */
const RX_IPV4_DROP = [0, DropReason.Truncated, DropReason.NotIpv4, DropReason.BadIhl, DropReason.LengthMismatch, DropReason.BadChecksum]

export class Forwarder {
  readonly counters = new Float64Array(COUNTER_SLOTS)
  private readonly o: ForwarderOptions
  private readonly tunIn: PacketBatch
  private readonly udpOut: PacketBatch
  private readonly udpIn: PacketBatch
  private readonly tunOut: PacketBatch
  private readonly icmpOut: PacketBatch
  /** Replies to control frames (VXLAN ARP), sent back to peers after each UDP batch. */
  private readonly controlOut: PacketBatch
  private readonly dsts: Uint32Array
  /** Per packet of the current TUN batch: peer index from the route lookup, and 1 when malformed. */
  private readonly hops: Int32Array
  private readonly malformed: Uint8Array
  private readonly view = new Ipv4View()
  private icmpId = 0
  /** Index into udpOut of the first datagram not yet sent while the socket is full; -1 when not blocked. */
  private pendingTx = -1
  /** Set when the socket refused a datagram since the last onDrops call. */
  private txFailed = false
  private running = false
  /** Source ports the bind spreads sends over (flow hash -> lane), 1 for none. */
  private readonly spread: number
  private readonly tunReadable: () => void
  private readonly udpReadable: () => void
  private readonly udpWritable: () => void

  constructor(o: ForwarderOptions) {
    this.o = o
    const n = o.batchSize
    this.tunIn = new PacketBatch(n)
    this.udpOut = PacketBatch.over(this.tunIn)
    // A bind may supply its own receive batch (UdpBind with GRO: an arena after the slots for zero-copy splits).
    this.udpIn = o.bind.createReadBatch?.(n) ?? new PacketBatch(n)
    this.tunOut = PacketBatch.over(this.udpIn)
    this.icmpOut = new PacketBatch(n, Math.max(1024, ICMP_ERROR_MAX_LENGTH + 64), 0)
    this.controlOut = new PacketBatch(n, 256, 0)
    this.dsts = new Uint32Array(n)
    this.hops = new Int32Array(n)
    this.malformed = new Uint8Array(n)
    this.spread = o.bind.sourcePorts ?? 1
    this.tunReadable = () => this.pumpTun()
    this.udpReadable = () => this.pumpUdp()
    this.udpWritable = () => this.resumeTx()
  }

  /** Starts watching both sides. */
  start(): void {
    if (this.running) return
    this.running = true
    this.o.device.onReadable(this.tunReadable)
    this.o.bind.onReadable(this.udpReadable)
  }

  /** Stops watching; buffered packets are abandoned. */
  stop(): void {
    this.running = false
    this.o.device.onReadable(null)
    this.o.bind.onReadable(null)
    this.o.bind.onWritable(null)
  }

  /** Handles a TUN wakeup: up to `budget` batches from local pods to peers. */
  pumpTun(): void {
    const c = this.counters
    c[C_WAKEUPS]!++
    const budget = this.o.budget
    let dropped = false
    for (let round = 0; round < budget && this.pendingTx < 0 && this.running; round++) {
      const n = this.o.device.read(this.tunIn)
      if (n <= 0) break
      c[C_TUN_BATCHES + batchBucket(n)]!++
      c[C_TUN_BATCH_PACKETS]! += n
      if (this.routeTunBatch(n)) dropped = true
      if (this.icmpOut.count > 0) this.flushIcmp()
      if (this.udpOut.count > 0) this.sendUdpOut(0)
      if (n < this.tunIn.capacity) break
    }
    if ((dropped || this.txFailed) && this.o.onDrops) {
      this.txFailed = false
      this.o.onDrops()
    }
  }

  /** Handles a UDP wakeup: up to `budget` batches from peers to local pods. */
  pumpUdp(): void {
    const c = this.counters
    c[C_WAKEUPS]!++
    const budget = this.o.budget
    let dropped = false
    for (let round = 0; round < budget && this.running; round++) {
      const n = this.o.bind.read(this.udpIn)
      if (n <= 0) break
      c[C_UDP_BATCHES + batchBucket(n)]!++
      c[C_UDP_BATCH_PACKETS]! += n
      if (this.checkUdpBatch(n)) dropped = true
      if (this.tunOut.count > 0) this.writeTunOut()
      if (this.controlOut.count > 0) this.sendControlOut()
      if (n < this.udpIn.capacity) break
    }
    if (dropped && this.o.onDrops) this.o.onDrops()
  }

  /** Routes tunIn[0, n) into udpOut (and ICMP errors into icmpOut); returns whether anything was dropped. */
  private routeTunBatch(n: number): boolean {
    const b = this.tunIn
    const bytes = b.bytes
    const offs = b.offsets
    const lens = b.lengths
    const dsts = this.dsts
    const hops = this.hops
    const view = this.view
    const c = this.counters
    const malformed = this.malformed
    // Pass 1: validate headers and collect destinations for one bulk route lookup.
    for (let i = 0; i < n; i++) {
      if (view.wrap(bytes, offs[i]!, lens[i]!, false) !== Ipv4Check.Ok) {
        malformed[i] = 1
        dsts[i] = 0
      } else {
        malformed[i] = 0
        dsts[i] = readU32(bytes, offs[i]! + IPV4_DST)
      }
    }
    this.o.routes.lookupBatch(dsts, n, hops)
    const out = this.udpOut
    out.count = 0
    const peers = this.o.peers
    const pIp = peers.ip
    const pPort = peers.port
    const pc = peers.counters
    const enc = this.o.encapsulation
    const spread = this.spread
    const mtu = this.o.mtu
    const localAddr = this.o.localAddr
    const localMask = this.o.localMask
    let dropped = false
    for (let i = 0; i < n; i++) {
      const off = offs[i]!
      const len = lens[i]!
      if (malformed[i] === 1) {
        c[C_DROPS + DropReason.TunMalformed]!++
        dropped = true
        continue
      }
      const peer = hops[i]!
      if (peer === NO_ROUTE) {
        if (((dsts[i]! & localMask) >>> 0) === localAddr) {
          c[C_DROPS + DropReason.TunLocalDestination]!++
        } else {
          c[C_DROPS + DropReason.TunNoRoute]!++
          this.icmpError(bytes, off, len, ICMP_DEST_UNREACHABLE, ICMP_CODE_NET_UNREACHABLE, 0)
        }
        dropped = true
        continue
      }
      if (bytes[off + IPV4_TTL]! <= 1) {
        c[C_DROPS + DropReason.TunTtlExpired]!++
        this.icmpError(bytes, off, len, ICMP_TIME_EXCEEDED, ICMP_CODE_TTL_EXCEEDED, 0)
        dropped = true
        continue
      }
      if (len > mtu) {
        c[C_DROPS + DropReason.TunTooBig]!++
        // RFC 1191: fragmentation needed, next-hop MTU in the low 16 bits of the rest-of-header.
        if ((readU16(bytes, off + IPV4_FLAGS_FRAGMENT) & IPV4_FLAG_DF) !== 0) {
          this.icmpError(bytes, off, len, ICMP_DEST_UNREACHABLE, ICMP_CODE_FRAGMENTATION_NEEDED, mtu)
        }
        dropped = true
        continue
      }
      decrementTtl(bytes, off)
      const start = enc.encapsulate(bytes, off, len, peers, peer)
      const wire = len + (off - start)
      out.push(start, wire, pIp[peer]!, pPort[peer]!)
      if (spread > 1) out.lanes[out.count - 1] = flowHash(bytes, off, len) % spread
      const pcb = peer * PEER_COUNTERS
      pc[pcb + PEER_TX_PACKETS]!++
      pc[pcb + PEER_TX_BYTES]! += len
      c[C_TX_PACKETS]!++
      c[C_TX_BYTES]! += len
    }
    return dropped
  }

  /** Checks udpIn[0, n) and queues deliverable inner packets in tunOut; returns whether anything was dropped. */
  private checkUdpBatch(n: number): boolean {
    const b = this.udpIn
    const bytes = b.bytes
    const offs = b.offsets
    const lens = b.lengths
    const addrs = b.addrs
    const view = this.view
    const c = this.counters
    const peers = this.o.peers
    const sAddr = peers.subnetAddr
    const sMask = peers.subnetMask
    const pc = peers.counters
    const enc = this.o.encapsulation
    const localAddr = this.o.localAddr
    const localMask = this.o.localMask
    const out = this.tunOut
    out.count = 0
    let dropped = false
    for (let i = 0; i < n; i++) {
      const peer = peers.indexOfAddress(addrs[i]!)
      if (peer < 0) {
        c[C_DROPS + DropReason.UnknownPeer]!++
        dropped = true
        continue
      }
      let off = offs[i]!
      let len = lens[i]!
      const inner = enc.decapsulate(bytes, off, len)
      if (inner === DECAP_CONTROL) {
        if (!this.answerControl(bytes, off, len, peer)) dropped = true
        continue
      }
      if (inner < 0) {
        c[C_DROPS + (-1 - inner)]!++
        dropped = true
        continue
      }
      off += inner
      len -= inner
      const check = view.wrap(bytes, off, len, true)
      if (check !== Ipv4Check.Ok) {
        c[C_DROPS + RX_IPV4_DROP[check]!]!++
        dropped = true
        continue
      }
      if (((readU32(bytes, off + IPV4_SRC) & sMask[peer]!) >>> 0) !== sAddr[peer]) {
        c[C_DROPS + DropReason.SpoofedSource]!++
        dropped = true
        continue
      }
      if (((readU32(bytes, off + IPV4_DST) & localMask) >>> 0) !== localAddr) {
        c[C_DROPS + DropReason.NotLocalDestination]!++
        dropped = true
        continue
      }
      if (bytes[off + IPV4_TTL] === 0) {
        c[C_DROPS + DropReason.TtlZero]!++
        dropped = true
        continue
      }
      out.push(off, len, 0, 0)
      const pcb = peer * PEER_COUNTERS
      pc[pcb + PEER_RX_PACKETS]!++
      pc[pcb + PEER_RX_BYTES]! += len
    }
    return dropped
  }

  /** Queues the answer to a control frame from `peer`; returns false (counted as a drop) when there is none. */
  private answerControl(bytes: Uint8Array, off: number, len: number, peer: number): boolean {
    const q = this.controlOut
    if (q.count >= q.capacity) return true
    const at = q.slotBase(q.count)
    const n = this.o.encapsulation.answerControl(bytes, off, len, q.bytes, at)
    if (n < 0) {
      this.counters[C_DROPS + (-1 - n)]!++
      return false
    }
    q.push(at, n, this.o.peers.ip[peer]!, this.o.peers.port[peer]!)
    return true
  }

  /** Sends queued control replies; best effort (a full socket drops them, counted as tx errors). */
  private sendControlOut(): void {
    const q = this.controlOut
    const next = this.o.bind.send(q, 0)
    for (let i = 0; i < q.count; i++) {
      if (i < next && q.status[i] === 0) this.counters[C_CONTROL_REPLIES]!++
      else this.counters[C_DROPS + DropReason.TxError]!++
    }
    q.count = 0
  }

  /** Writes tunOut to the TUN device, counting delivered packets and write failures. */
  private writeTunOut(): void {
    const out = this.tunOut
    const c = this.counters
    const handled = this.o.device.write(out)
    const st = out.status
    const lens = out.lengths
    for (let i = 0; i < out.count; i++) {
      if (i < handled && st[i] === 0) {
        c[C_RX_PACKETS]!++
        c[C_RX_BYTES]! += lens[i]!
      } else {
        c[C_DROPS + DropReason.RxError]!++
      }
    }
    out.count = 0
  }

  /** Sends udpOut from `start`; if the socket fills up, pauses TUN reads until it drains. */
  private sendUdpOut(start: number): void {
    const out = this.udpOut
    const next = this.o.bind.send(out, start)
    this.countTxErrors(start, next)
    if (next < out.count) {
      this.pendingTx = next
      this.counters[C_TX_BLOCKED]!++
      this.o.device.onReadable(null)
      this.o.bind.onWritable(this.udpWritable)
    } else {
      out.count = 0
    }
  }

  /** Counts refused datagrams in [from, to): a TxError drop, and per peer the count and the errno. */
  private countTxErrors(from: number, to: number): void {
    const st = this.udpOut.status
    const addrs = this.udpOut.addrs
    for (let i = from; i < to; i++) {
      const errno = st[i]!
      if (errno === 0) continue
      this.counters[C_DROPS + DropReason.TxError]!++
      this.txFailed = true
      const peers = this.o.peers
      const peer = peers.indexOfAddress(addrs[i]!)
      if (peer >= 0) {
        const pcb = peer * PEER_COUNTERS
        peers.counters[pcb + PEER_TX_ERRORS]!++
        peers.counters[pcb + PEER_LAST_ERRNO] = errno
      }
    }
  }

  /** Called when the socket drains: sends the rest of the blocked batch, then resumes TUN reads. */
  private resumeTx(): void {
    if (this.pendingTx < 0 || !this.running) return
    const start = this.pendingTx
    this.pendingTx = -1
    this.sendUdpOut(start)
    if (this.pendingTx < 0) {
      this.o.device.onReadable(this.tunReadable)
      this.pumpTun()
    }
  }

  /** Queues an ICMP error about the packet at bytes[off, off+len) if allowed and not rate limited. */
  private icmpError(bytes: Uint8Array, off: number, len: number, type: number, code: number, rest: number): void {
    if (!mayReplyWithIcmpError(bytes, off, len)) return
    const q = this.icmpOut
    if (q.count >= q.capacity) return
    if (!this.o.icmpLimiter.take()) {
      this.counters[C_ICMP_RATE_LIMITED]!++
      return
    }
    const at = q.slotBase(q.count)
    const wrote = writeIcmpError(q.bytes, at, this.o.routerAddr, this.icmpId++, type, code, rest, bytes, off, len)
    q.push(at, wrote, 0, 0)
  }

  private flushIcmp(): void {
    const q = this.icmpOut
    const handled = this.o.device.write(q)
    for (let i = 0; i < q.count; i++) {
      if (i < handled && q.status[i] === 0) this.counters[C_ICMP_SENT]!++
    }
    q.count = 0
  }
}
