/**
 * In-memory implementations of PacketDevice and DatagramBind, so the whole engine runs in tests without
 * root and the core's packet rate can be measured without system calls. They behave like the kernel's:
 * bounded queues that drop (or, for binds, block) when full, and readiness delivered once per event-loop
 * turn while packets wait, like a level-triggered poll.
 */
import type { DatagramBind, PacketDevice } from './device.js'
import { DEFAULT_SLOT_SIZE, type PacketBatch } from './packet-batch.js'
import { PacketRing } from './packet-ring.js'

/** Schedules `fn` once per event-loop turn while `pending()` holds and the handler is set. */
class Readiness {
  private handler: (() => void) | null = null
  private scheduled = false
  constructor(private readonly pending: () => boolean) {}

  set(handler: (() => void) | null): void {
    this.handler = handler
    this.kick()
  }

  kick(): void {
    if (this.scheduled || !this.handler || !this.pending()) return
    this.scheduled = true
    setImmediate(this.fire)
  }

  private readonly fire = (): void => {
    this.scheduled = false
    const h = this.handler
    if (!h || !this.pending()) return
    h()
    this.kick()
  }
}

/** A TUN stand-in: `inject` is a local pod sending; packets the engine writes are kept for `take`. */
export class MemoryDevice implements PacketDevice {
  readonly name: string
  /** Packets the engine wrote (copies), oldest first, unless `discardWrites`. */
  readonly written: Uint8Array[] = []
  /** Set for benchmarks: count writes without keeping them. */
  discardWrites = false
  writtenPackets = 0
  private readonly inbound: PacketRing
  private readonly ready: Readiness
  private closed = false

  constructor(name = 'mem0', queue = 4096, slotSize = DEFAULT_SLOT_SIZE) {
    this.name = name
    this.inbound = new PacketRing(queue, slotSize)
    this.ready = new Readiness(() => !this.closed && this.inbound.length > 0)
  }

  /** Queues a packet as if a local pod sent it; false when the queue is full (the packet is lost). */
  inject(packet: Uint8Array, off = 0, len = packet.length - off): boolean {
    if (this.closed) return false
    const ok = this.inbound.push(packet, off, len, 0, 0)
    this.ready.kick()
    return ok
  }

  /** Packets waiting to be read. */
  get queued(): number {
    return this.inbound.length
  }

  /** Returns and forgets the packets written so far. */
  take(): Uint8Array[] {
    return this.written.splice(0, this.written.length)
  }

  read(batch: PacketBatch): number {
    let n = 0
    while (n < batch.capacity && this.inbound.popInto(batch, n)) n++
    batch.count = n
    return n
  }

  write(batch: PacketBatch): number {
    for (let i = 0; i < batch.count; i++) {
      batch.status[i] = 0
      this.writtenPackets++
      if (!this.discardWrites) {
        const off = batch.offsets[i]!
        this.written.push(batch.bytes.slice(off, off + batch.lengths[i]!))
      }
    }
    return batch.count
  }

  onReadable(handler: (() => void) | null): void {
    this.ready.set(handler)
  }

  close(): void {
    this.closed = true
    this.ready.set(null)
  }
}

/** The underlay stand-in: binds attached to one network exchange datagrams by address. */
export class MemoryNetwork {
  readonly binds: MemoryBind[] = []
  /** When true a full receive queue makes send() stop (EAGAIN-like) instead of dropping. */
  blockWhenFull = false
  /** Datagrams dropped because no bind had the destination address or its queue was full. */
  dropped = 0

  /** Attaches a bind at addr:port (host-order IPv4). */
  bind(addr: number, port: number, queue = 4096): MemoryBind {
    const b = new MemoryBind(this, addr, port, queue)
    this.binds.push(b)
    return b
  }

  /** The bind listening at addr, if any (a scan: networks here hold a handful of binds). */
  find(addr: number): MemoryBind | undefined {
    for (let i = 0; i < this.binds.length; i++) if (this.binds[i]!.localAddr === addr) return this.binds[i]
    return undefined
  }

  /** Wakes every bind waiting to send (a receiver drained). */
  drained(): void {
    for (let i = 0; i < this.binds.length; i++) this.binds[i]!.wakeWriter()
  }
}

export class MemoryBind implements DatagramBind {
  readonly localAddr: number
  readonly localPort: number
  private readonly inbound: PacketRing
  private readonly ready: Readiness
  private writable: (() => void) | null = null
  private closed = false

  constructor(private readonly network: MemoryNetwork, addr: number, port: number, queue: number) {
    this.localAddr = addr
    this.localPort = port
    this.inbound = new PacketRing(queue, 65536)
    this.ready = new Readiness(() => !this.closed && this.inbound.length > 0)
  }

  /** Delivers a datagram to this bind as if sent from addr:port (used by tests to inject). */
  deliver(payload: Uint8Array, off: number, len: number, addr: number, port: number): boolean {
    if (this.closed) return false
    const ok = this.inbound.push(payload, off, len, addr, port)
    this.ready.kick()
    return ok
  }

  get queued(): number {
    return this.inbound.length
  }

  read(batch: PacketBatch): number {
    let n = 0
    while (n < batch.capacity && this.inbound.popInto(batch, n)) n++
    batch.count = n
    if (n > 0) this.network.drained()
    return n
  }

  send(batch: PacketBatch, start: number): number {
    for (let i = start; i < batch.count; i++) {
      const dst = this.network.find(batch.addrs[i]!)
      batch.status[i] = 0
      if (!dst || dst.localPort !== batch.ports[i]) {
        this.network.dropped++
        continue
      }
      if (!dst.deliver(batch.bytes, batch.offsets[i]!, batch.lengths[i]!, this.localAddr, this.localPort)) {
        if (this.network.blockWhenFull) return i
        this.network.dropped++
      }
    }
    return batch.count
  }

  onReadable(handler: (() => void) | null): void {
    this.ready.set(handler)
  }

  onWritable(handler: (() => void) | null): void {
    this.writable = handler
  }

  /** Runs the writable handler once (the network calls this when a receiver drains). */
  wakeWriter(): void {
    const h = this.writable
    if (!h) return
    this.writable = null
    setImmediate(h)
  }

  close(): void {
    this.closed = true
    this.ready.set(null)
    this.writable = null
  }
}
