/**
 * The engine's peers in typed arrays, indexed by a small peer index (the value the route table maps
 * prefixes to): underlay address and port, leased subnet, VTEP MAC, and per-peer counters. An open-addressing
 * hash from underlay address to peer index answers "which peer sent this datagram?" without allocating.
 */
import { TartanError } from '../errors.js'
import { type Ipv4Prefix, formatCidr, intToIpv4, prefixMask } from '../wire/ipv4-address.js'

/** Per-peer counter slots (PEER_COUNTERS per peer in `counters`). */
export const PEER_RX_PACKETS = 0
export const PEER_RX_BYTES = 1
export const PEER_TX_PACKETS = 2
export const PEER_TX_BYTES = 3
/** Datagrams to this peer the socket refused (sendmmsg status errno). */
export const PEER_TX_ERRORS = 4
/** The errno of the last refused datagram (e.g. 101 ENETUNREACH, 113 EHOSTUNREACH). */
export const PEER_LAST_ERRNO = 5
/** Bookkeeping for the engine's rate-limited 'peer-unreachable' event (outside the hot loop): the
 * PEER_TX_ERRORS value last reported, and when (performance.now() ms; 0 = never). */
export const PEER_REPORTED_ERRORS = 6
export const PEER_REPORTED_AT = 7
export const PEER_COUNTERS = 8

export interface PeerEntry {
  publicIp: number
  port: number
  subnet: Ipv4Prefix
  /** 6-byte VTEP MAC (VXLAN peers) or undefined. */
  vtepMac?: Uint8Array
}

export interface PeerInfo {
  index: number
  publicIp: string
  port: number
  subnet: string
  vtepMac?: string
  rxPackets: number
  rxBytes: number
  txPackets: number
  txBytes: number
  /** Datagrams to this peer the socket refused (counted in txPackets too). */
  txErrors: number
}

const EMPTY = -1

export class PeerTable {
  capacity: number
  /** Underlay IPv4 (host order) of peer i. */
  ip: Uint32Array
  port: Uint16Array
  /** Leased subnet of peer i as network address and mask (host order). */
  subnetAddr: Uint32Array
  subnetMask: Uint32Array
  subnetLen: Uint8Array
  active: Uint8Array
  /** VTEP MAC of peer i at i*6. */
  mac: Uint8Array
  counters: Float64Array
  private hashKeys: Uint32Array
  private hashVals: Int32Array
  private hashMask: number
  private free: number[] = []
  private highWater = 0
  private liveCount = 0

  constructor(capacity = 64) {
    this.capacity = capacity
    this.ip = new Uint32Array(capacity)
    this.port = new Uint16Array(capacity)
    this.subnetAddr = new Uint32Array(capacity)
    this.subnetMask = new Uint32Array(capacity)
    this.subnetLen = new Uint8Array(capacity)
    this.active = new Uint8Array(capacity)
    this.mac = new Uint8Array(capacity * 6)
    this.counters = new Float64Array(capacity * PEER_COUNTERS)
    const slots = nextPow2(capacity * 2)
    this.hashKeys = new Uint32Array(slots)
    this.hashVals = new Int32Array(slots).fill(EMPTY)
    this.hashMask = slots - 1
  }

  /** Number of live peers. */
  get size(): number {
    return this.liveCount
  }

  /** The index of the live peer whose underlay address is ip, or -1. Allocation-free. */
  indexOfAddress(ip: number): number {
    let h = hash32(ip) & this.hashMask
    for (;;) {
      const v = this.hashVals[h]!
      if (v === EMPTY) return -1
      if (v >= 0 && this.hashKeys[h] === ip) return v
      h = (h + 1) & this.hashMask
    }
  }

  /** The index of the live peer that leased exactly `subnet`, or -1. */
  indexOfSubnet(subnet: Ipv4Prefix): number {
    for (let i = 0; i < this.highWater; i++) {
      if (this.active[i] && this.subnetAddr[i] === subnet.addr && this.subnetLen[i] === subnet.len) return i
    }
    return -1
  }

  /** Adds a peer and returns its index; throws TARTAN_ERR_PEER_EXISTS if its address or subnet is taken. */
  add(peer: PeerEntry): number {
    if (this.indexOfAddress(peer.publicIp) >= 0) {
      throw new TartanError('TARTAN_ERR_PEER_EXISTS', `a peer with underlay address ${intToIpv4(peer.publicIp)} already exists; remove it first or update it`)
    }
    if (this.indexOfSubnet(peer.subnet) >= 0) {
      throw new TartanError('TARTAN_ERR_PEER_EXISTS', `a peer already owns subnet ${formatCidr(peer.subnet)}; remove it first`)
    }
    if (this.liveCount * 2 + 2 > this.hashMask + 1 || (this.free.length === 0 && this.highWater >= this.capacity)) this.grow()
    const i = this.free.length > 0 ? this.free.pop()! : this.highWater++
    this.ip[i] = peer.publicIp
    this.port[i] = peer.port
    this.subnetAddr[i] = peer.subnet.addr
    this.subnetMask[i] = prefixMask(peer.subnet.len)
    this.subnetLen[i] = peer.subnet.len
    this.mac.fill(0, i * 6, i * 6 + 6)
    if (peer.vtepMac) this.mac.set(peer.vtepMac.subarray(0, 6), i * 6)
    this.counters.fill(0, i * PEER_COUNTERS, (i + 1) * PEER_COUNTERS)
    this.active[i] = 1
    this.liveCount++
    this.hashInsert(peer.publicIp, i)
    return i
  }

  /** Removes peer i (its index may be reused by a later add). */
  remove(i: number): void {
    if (i < 0 || i >= this.highWater || !this.active[i]) return
    this.active[i] = 0
    this.liveCount--
    this.rebuildHash()
    this.free.push(i)
  }

  /** A readable snapshot of peer i. */
  info(i: number): PeerInfo {
    const c = i * PEER_COUNTERS
    const mac = this.mac.subarray(i * 6, i * 6 + 6)
    const info: PeerInfo = {
      index: i,
      publicIp: intToIpv4(this.ip[i]!),
      port: this.port[i]!,
      subnet: formatCidr({ addr: this.subnetAddr[i]!, len: this.subnetLen[i]! }),
      rxPackets: this.counters[c + PEER_RX_PACKETS]!,
      rxBytes: this.counters[c + PEER_RX_BYTES]!,
      txPackets: this.counters[c + PEER_TX_PACKETS]!,
      txBytes: this.counters[c + PEER_TX_BYTES]!,
      txErrors: this.counters[c + PEER_TX_ERRORS]!,
    }
    if (mac.some((b) => b !== 0)) info.vtepMac = [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':')
    return info
  }

  /** Indexes of live peers in ascending order. */
  liveIndexes(): number[] {
    const out: number[] = []
    for (let i = 0; i < this.highWater; i++) if (this.active[i]) out.push(i)
    return out
  }

  private hashInsert(ip: number, index: number): void {
    let h = hash32(ip) & this.hashMask
    while (this.hashVals[h]! >= 0) h = (h + 1) & this.hashMask
    this.hashKeys[h] = ip
    this.hashVals[h] = index
  }

  private rebuildHash(): void {
    this.hashVals.fill(EMPTY)
    for (let i = 0; i < this.highWater; i++) if (this.active[i]) this.hashInsert(this.ip[i]!, i)
  }

  private grow(): void {
    const cap = this.capacity * 2
    const copy = <T extends Uint32Array | Uint16Array | Uint8Array | Float64Array>(a: T, n: number): T => {
      const b = new (a.constructor as new (n: number) => T)(n)
      b.set(a)
      return b
    }
    this.ip = copy(this.ip, cap)
    this.port = copy(this.port, cap)
    this.subnetAddr = copy(this.subnetAddr, cap)
    this.subnetMask = copy(this.subnetMask, cap)
    this.subnetLen = copy(this.subnetLen, cap)
    this.active = copy(this.active, cap)
    this.mac = copy(this.mac, cap * 6)
    this.counters = copy(this.counters, cap * PEER_COUNTERS)
    this.capacity = cap
    const slots = nextPow2(cap * 2)
    this.hashKeys = new Uint32Array(slots)
    this.hashVals = new Int32Array(slots).fill(EMPTY)
    this.hashMask = slots - 1
    this.rebuildHash()
  }
}

function nextPow2(n: number): number {
  let p = 16
  while (p < n) p *= 2
  return p
}

/** Multiplicative hash (Knuth) of a 32-bit key. */
function hash32(x: number): number {
  return Math.imul(x, 0x9e3779b1) >>> 16
}
