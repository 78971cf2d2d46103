/**
 * A fixed-size FIFO of packets in one preallocated slab (the in-memory stand-in for a kernel queue):
 * push copies a packet in, pop copies it into a batch slot. Allocation-free after construction.
 */
import type { PacketBatch } from './packet-batch.js'

export class PacketRing {
  readonly capacity: number
  readonly slotSize: number
  private readonly bytes: Uint8Array
  private readonly lengths: Uint32Array
  private readonly addrs: Uint32Array
  private readonly ports: Uint16Array
  private head = 0
  private size = 0

  constructor(capacity: number, slotSize: number) {
    this.capacity = capacity
    this.slotSize = slotSize
    this.bytes = new Uint8Array(capacity * slotSize)
    this.lengths = new Uint32Array(capacity)
    this.addrs = new Uint32Array(capacity)
    this.ports = new Uint16Array(capacity)
  }

  get length(): number {
    return this.size
  }

  /** Copies src[off, off+len) in with its remote address/port; false when full or larger than a slot. */
  push(src: Uint8Array, off: number, len: number, addr: number, port: number): boolean {
    if (this.size === this.capacity || len > this.slotSize) return false
    const slot = (this.head + this.size) % this.capacity
    this.bytes.set(src.subarray(off, off + len), slot * this.slotSize)
    this.lengths[slot] = len
    this.addrs[slot] = addr
    this.ports[slot] = port
    this.size++
    return true
  }

  /** Moves the oldest packet into slot `i` of `batch` (offset = slot base + headroom), truncating to the slot
   * like a read(2) into a short buffer; false when empty. */
  popInto(batch: PacketBatch, i: number): boolean {
    if (this.size === 0) return false
    const slot = this.head
    const room = batch.slotSize - batch.headroom
    const len = Math.min(this.lengths[slot]!, room)
    const dst = batch.slotBase(i) + batch.headroom
    const from = slot * this.slotSize
    batch.bytes.set(this.bytes.subarray(from, from + len), dst)
    batch.offsets[i] = dst
    batch.lengths[i] = len
    batch.addrs[i] = this.addrs[slot]!
    batch.ports[i] = this.ports[slot]!
    this.head = (this.head + 1) % this.capacity
    this.size--
    return true
  }
}
