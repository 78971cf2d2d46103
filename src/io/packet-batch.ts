/**
 * A PacketBatch is the unit of I/O: one slab (an ArrayBuffer allocated once) cut into fixed-size slots,
 * plus typed arrays that describe up to `capacity` packets. The native addon reads into and writes from
 * the slab directly, so packet bytes are never copied between JS and C++.
 *
 * Slot i starts at i * slotSize. Receive calls place packet i at slotBase(i) + headroom, leaving
 * `headroom` bytes in front for encapsulation headers to be written in place.
 *
 * Several batches may share one slab (see `PacketBatch.over`): an output batch lists packets that live
 * in an input batch's slots, which is how forwarding stays zero-copy.
 */
export const DEFAULT_BATCH_SIZE = 64
/** Room in front of every packet: VXLAN (8) + inner Ethernet (14) need 22; 64 keeps slots cache aligned. */
export const DEFAULT_HEADROOM = 64
/** 2048 bytes hold a 1500-byte underlay frame's payload plus headroom. */
export const DEFAULT_SLOT_SIZE = 2048

export class PacketBatch {
  readonly buffer: ArrayBuffer
  readonly bytes: Uint8Array
  readonly capacity: number
  readonly slotSize: number
  readonly headroom: number
  /** Byte offset of packet i within the slab. */
  readonly offsets: Uint32Array
  /** Length in bytes of packet i. */
  readonly lengths: Uint32Array
  /** IPv4 address (host byte order) of packet i's remote end: source on receive, destination on send. */
  readonly addrs: Uint32Array
  /** UDP port of packet i's remote end. */
  readonly ports: Uint16Array
  /** After a send or write: 0 when packet i went out, else the errno that refused it. */
  readonly status: Int32Array
  /** On send: which of the bind's source ports (lanes) packet i leaves from (see UdpBind sourcePorts). */
  readonly lanes: Uint8Array
  /** Number of valid entries. */
  count = 0
  /** Opaque handle owned by the native addon (set by the I/O layer on first use). */
  nativeHandle: unknown = undefined

  constructor(capacity = DEFAULT_BATCH_SIZE, slotSize = DEFAULT_SLOT_SIZE, headroom = DEFAULT_HEADROOM, buffer?: ArrayBuffer) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1024) throw new RangeError(`batch capacity must be 1..1024, got ${capacity}`)
    if (!Number.isInteger(slotSize) || slotSize < 256 || slotSize > 65536 + 4096) throw new RangeError(`slot size must be 256..69632, got ${slotSize}`)
    if (!Number.isInteger(headroom) || headroom < 0 || headroom >= slotSize) throw new RangeError(`headroom must be 0..slotSize-1, got ${headroom}`)
    this.capacity = capacity
    this.slotSize = slotSize
    this.headroom = headroom
    this.buffer = buffer ?? new ArrayBuffer(capacity * slotSize)
    this.bytes = new Uint8Array(this.buffer)
    this.offsets = new Uint32Array(capacity)
    this.lengths = new Uint32Array(capacity)
    this.addrs = new Uint32Array(capacity)
    this.ports = new Uint16Array(capacity)
    this.status = new Int32Array(capacity)
    this.lanes = new Uint8Array(capacity)
    for (let i = 0; i < capacity; i++) this.offsets[i] = i * slotSize + headroom
  }

  /** Returns a new batch of the given capacity that describes packets living in `source`'s slab. */
  static over(source: PacketBatch, capacity = source.capacity): PacketBatch {
    return new PacketBatch(capacity, source.slotSize, source.headroom, source.buffer)
  }

  /** Byte offset where slot i begins (its headroom included). */
  slotBase(i: number): number {
    return i * this.slotSize
  }

  /** Appends a packet description; returns false (and appends nothing) when the batch is full. */
  push(offset: number, length: number, addr: number, port: number): boolean {
    const n = this.count
    if (n >= this.capacity) return false
    this.offsets[n] = offset
    this.lengths[n] = length
    this.addrs[n] = addr
    this.ports[n] = port
    this.count = n + 1
    return true
  }

  /** Resets receive slots to their default offsets (slot base + headroom) and empties the batch. */
  resetSlots(): void {
    for (let i = 0; i < this.capacity; i++) this.offsets[i] = i * this.slotSize + this.headroom
    this.count = 0
  }
}
