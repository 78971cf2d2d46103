/**
 * The Engine: one node's data plane. It owns a packet device (TUN) and a datagram bind (UDP), a peer table
 * and a route table, and forwards between them (see forwarder.ts). Agents embed it and manage peers
 * themselves; the lease-driven Node (src/node) drives it from the store.
 */
import { EventEmitter } from 'node:events'
import { TartanError, errnoName } from '../errors.js'
import type { DatagramBind, PacketDevice } from '../io/device.js'
import { DEFAULT_BATCH_SIZE } from '../io/packet-batch.js'
import { getEncapsulation } from '../encap/registry.js'
import type { Encapsulation, EncapsulationKind } from '../encap/encapsulation.js'
import { deriveVtepMac } from '../encap/vtep-mac.js'
import { VXLAN_DEFAULT_VNI, VXLAN_MAX_VNI } from '../wire/vxlan.js'
import { formatMac } from '../wire/ethernet.js'
import { RouteTable, type RouteChange } from '../route/route-table.js'
import {
  type Ipv4Prefix, formatCidr, intToIpv4, ipv4ToInt, parseCidr, prefixContains, prefixMask,
} from '../wire/ipv4-address.js'
import type { BusyPoll } from '../io/busy-poll.js'
import { Forwarder } from './forwarder.js'
import { IcmpRateLimiter } from './icmp-rate-limiter.js'
import {
  PEER_COUNTERS, PEER_LAST_ERRNO, PEER_REPORTED_AT, PEER_REPORTED_ERRORS, PEER_TX_ERRORS, PeerTable, type PeerInfo,
} from './peer-table.js'
import { snapshotCounters, type EngineCounters } from './counters.js'
import { DROP_REASON_COUNT, DROP_REASON_NAMES } from './drop-reasons.js'
import { C_DROPS, C_RX_BYTES, C_TX_BYTES } from './counters.js'

/** A peer as agents and the lease layer describe it. */
export interface PeerSpec {
  /** The peer's underlay (public) IPv4 address. */
  publicIp: string
  /** The peer's UDP port; defaults to the encapsulation's port. */
  port?: number
  /** The subnet the peer leased, e.g. '10.244.2.0/24'. */
  subnet: string
  /** The peer's VTEP MAC (VXLAN), e.g. 'aa:bb:cc:dd:ee:ff'. */
  vtepMac?: string
}

export interface EngineCoreOptions {
  /** The cluster network, e.g. '10.244.0.0/16' (used for the TUN address and sanity checks). */
  network: string
  /** This node's subnet, e.g. '10.244.1.0/24': the only inner destinations delivered from peers. */
  subnet: string
  /** Encapsulation name: 'flannel-udp' (default) or another registered one. */
  encapsulation?: string
  /** Underlay MTU; the overlay MTU is this minus the encapsulation overhead. Default 1500. */
  underlayMtu?: number
  /** Packets per batch (default 64; 256 when the device or bind uses offloads, so a batch holds several
   * 64 KiB super-packets' worth of segments). */
  batchSize?: number
  /** Batches per direction per wakeup before yielding to the event loop (default 8). */
  budget?: number
  /** VXLAN network identifier (default 1, flannel's). */
  vni?: number
  /** Our VTEP MAC (VXLAN); default derived from the underlay address and subnet, so it is stable across
   * restarts of the same node (see encap/vtep-mac.ts). */
  vtepMac?: string
}

export interface EngineOptions extends EngineCoreOptions {
  /** TUN device name (default 'tartan0'). */
  tunName?: string
  /** Underlay address to bind the UDP socket to. */
  underlayAddress: string
  /** UDP port to listen on (default: the encapsulation's, 8285 for flannel-udp). */
  port?: number
  /** Network namespace (path such as /var/run/netns/x) to create the TUN and socket in; default: current. */
  netns?: string
  /** Socket buffer size in bytes (default 4 MiB). */
  socketBufferBytes?: number
  /** After handling traffic, keep polling the TUN and UDP fds for this many microseconds before sleeping in
   * epoll (yielding the CPU between polls; at most 2 ms in a row), which saves a process wakeup per hop of
   * latency. It only spins on a core no other task wants (see io/busy-poll.ts), so bulk traffic with the
   * applications on the same cores loses nothing. 0 turns it off. Default DEFAULT_BUSY_POLL_US (50). */
  busyPollUs?: number
  /** TUN offloads (IFF_VNET_HDR, TSO/USO) and UDP GSO/GRO, probed at start with a fallback to plain frames and
   * datagrams; false turns them off. Default true. */
  offload?: boolean
}

/** The socket refused datagrams to a peer (no route to its underlay address, for example). */
export interface PeerUnreachable {
  publicIp: string
  subnet: string
  /** The last errno sendmmsg reported for this peer, e.g. 101 (ENETUNREACH) or 113 (EHOSTUNREACH). */
  errno: number
  /** The errno's name and meaning, e.g. 'ENETUNREACH (network unreachable)'. */
  error: string
  /** Datagrams refused since the previous event for this peer. */
  failed: number
  /** Datagrams refused since the peer was added. */
  txErrors: number
}

/** How often the 'drops' and 'peer-unreachable' checks may run, and how often one peer may be reported. */
const DROPS_EVENT_INTERVAL_MS = 100
const UNREACHABLE_EVENT_INTERVAL_MS = 1000

/** Default batch with offloads: a 64 KiB super-packet is ~45 segments at MTU 1500, so 256 hold five. */
export const OFFLOAD_BATCH_SIZE = 256
/** Default busyPollUs: a little more than one tartan hop's round trip (a request out through both engines and
 * its answer back, ~30-45 us one way on the benchmark machines), so a request/response flow's answer is
 * caught by the spin. Measured in bench/RESULTS.md (issue 8). */
export const DEFAULT_BUSY_POLL_US = 50

export interface EngineEvents {
  /** Drops happened during a wakeup; `drops` is the running total per reason (sampled at most every 100 ms). */
  drops: [drops: Record<string, number>]
  /** Sends to a peer failed; at most one event per peer per second, checked at most every 100 ms. */
  'peer-unreachable': [peer: PeerUnreachable]
  stopped: []
}

export class Engine extends EventEmitter<EngineEvents> {
  readonly network: Ipv4Prefix
  readonly subnet: Ipv4Prefix
  readonly encapsulation: EncapsulationKind
  /** Our VTEP MAC, aa:bb:cc:dd:ee:ff (published in VXLAN leases as BackendData.VtepMAC). */
  readonly vtepMac: string
  readonly vni: number
  private readonly encapsulator: Encapsulation
  /** Largest inner packet that fits the underlay: underlayMtu - encapsulation overhead. */
  readonly mtu: number
  readonly device: PacketDevice
  readonly bind: DatagramBind
  private readonly peerTable = new PeerTable()
  private readonly routes = new RouteTable()
  private readonly forwarder: Forwarder
  private busyPoll: BusyPoll | null = null
  private state: 'idle' | 'running' | 'stopped' = 'idle'
  private lastDropEmit = -Infinity
  private lastUnreachableCheck = -Infinity

  /** Builds an engine over an existing device and bind (in-memory pairs, tests, custom I/O). */
  constructor(device: PacketDevice, bind: DatagramBind, options: EngineCoreOptions) {
    super()
    this.network = parseCidr(options.network, 'network')
    this.subnet = parseCidr(options.subnet, 'subnet')
    if (!prefixContains(this.network, this.subnet.addr) || this.subnet.len < this.network.len) {
      throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `subnet ${options.subnet} is not inside network ${options.network}`)
    }
    this.encapsulation = getEncapsulation(options.encapsulation ?? 'flannel-udp')
    const underlayMtu = options.underlayMtu ?? 1500
    if (!Number.isInteger(underlayMtu) || underlayMtu < 576 || underlayMtu > 65535) {
      throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `underlay MTU ${underlayMtu} is out of range (576..65535)`)
    }
    this.mtu = underlayMtu - this.encapsulation.overhead
    this.vni = options.vni ?? VXLAN_DEFAULT_VNI
    if (!Number.isInteger(this.vni) || this.vni < 0 || this.vni > VXLAN_MAX_VNI) {
      throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `VNI ${options.vni} is out of range (0..16777215)`)
    }
    const mac = options.vtepMac !== undefined ? parseMac(options.vtepMac) : deriveVtepMac(bind.localAddr, this.subnet)
    this.vtepMac = formatMac(mac)
    this.encapsulator = this.encapsulation.create({ vni: this.vni, vtepMac: mac, tunnelAddr: this.subnet.addr })
    this.device = device
    this.bind = bind
    const offloading = device.offloadInfo?.().active === true || bind.offloadInfo?.().active === true
    const batchSize = options.batchSize ?? (offloading ? OFFLOAD_BATCH_SIZE : DEFAULT_BATCH_SIZE)
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1024) {
      throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `batch size ${batchSize} is out of range (1..1024)`)
    }
    this.forwarder = new Forwarder({
      device, bind,
      encapsulation: this.encapsulator,
      routes: this.routes,
      peers: this.peerTable,
      localAddr: this.subnet.addr,
      localMask: prefixMask(this.subnet.len),
      routerAddr: this.subnet.addr,
      mtu: this.mtu,
      icmpLimiter: new IcmpRateLimiter(),
      batchSize,
      budget: options.budget ?? 8,
      onDrops: () => this.afterDrops(),
    })
  }

  /** Opens the TUN device and UDP socket (in options.netns if given) and returns a stopped engine.
   * The TUN gets the subnet's network address with the cluster prefix length, as flannel's udp backend
   * configures flannel0 (e.g. 10.244.1.0/16), and MTU underlayMtu - overhead. */
  static async create(options: EngineOptions): Promise<Engine> {
    const { TunDevice } = await import('../io/tun-device.js')
    const { UdpBind } = await import('../io/udp-bind.js')
    const network = parseCidr(options.network, 'network')
    const subnet = parseCidr(options.subnet, 'subnet')
    const encapsulation = getEncapsulation(options.encapsulation ?? 'flannel-udp')
    ipv4ToInt(options.underlayAddress, 'underlay address')
    const underlayMtu = options.underlayMtu ?? 1500
    const device = TunDevice.open({
      name: options.tunName ?? 'tartan0',
      mtu: underlayMtu - encapsulation.overhead,
      address: intToIpv4(subnet.addr),
      prefixLen: network.len,
      netns: options.netns,
      offload: options.offload,
    })
    let bind: DatagramBind
    try {
      bind = UdpBind.open({
        address: options.underlayAddress,
        port: options.port ?? encapsulation.defaultPort,
        bufferBytes: options.socketBufferBytes ?? 4 * 1024 * 1024,
        netns: options.netns,
        offload: options.offload,
        sourcePorts: encapsulation.sourcePorts,
      })
    } catch (err) {
      device.close()
      throw err
    }
    try {
      const engine = new Engine(device, bind, options)
      const us = options.busyPollUs ?? DEFAULT_BUSY_POLL_US
      if (!Number.isInteger(us) || us < 0 || us > 1_000_000) {
        throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `busyPollUs ${us} is out of range (0..1000000)`)
      }
      if (us > 0) {
        const { BusyPoll } = await import('../io/busy-poll.js')
        const c = engine.forwarder.counters
        const group = new BusyPoll(us, { work: () => c[C_TX_BYTES]! + c[C_RX_BYTES]! })
        device.joinBusyPoll?.(group)
        bind.joinBusyPoll?.(group)
        engine.busyPoll = group
      }
      return engine
    } catch (err) {
      device.close()
      bind.close()
      throw err
    }
  }

  /** Starts forwarding. */
  start(): void {
    if (this.state === 'stopped') throw new TartanError('TARTAN_ERR_STATE', 'this engine was stopped; create a new one')
    if (this.state === 'running') return
    this.state = 'running'
    this.forwarder.start()
  }

  /** Stops forwarding and releases the device and socket (the kernel removes the TUN). Idempotent. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return
    this.state = 'stopped'
    this.forwarder.stop()
    this.device.close()
    this.bind.close()
    this.emit('stopped')
  }

  get running(): boolean {
    return this.state === 'running'
  }

  /** Adds a peer and a route to its subnet; throws TARTAN_ERR_PEER_EXISTS or TARTAN_ERR_INVALID_ARGUMENT. */
  addPeer(spec: PeerSpec): void {
    this.updatePeers({ add: [spec], remove: [] })
  }

  /** Removes the peer that owns `subnet` and its route; returns whether there was one. */
  removePeer(subnet: string): boolean {
    const p = parseCidr(subnet, 'subnet')
    if (this.peerTable.indexOfSubnet(p) < 0) return false
    this.updatePeers({ add: [], remove: [subnet] })
    return true
  }

  /** Applies removals then additions as one change: the data plane sees all of it or none. Validates every
   * spec before changing anything. */
  updatePeers(changes: { add: PeerSpec[]; remove: string[] }): void {
    const removeIdx: number[] = []
    const removed = new Set<number>()
    for (const s of changes.remove) {
      const i = this.peerTable.indexOfSubnet(parseCidr(s, 'peer subnet'))
      if (i >= 0 && !removed.has(i)) {
        removeIdx.push(i)
        removed.add(i)
      }
    }
    const adds = changes.add.map((spec) => this.validatePeer(spec))
    // Detect conflicts among the additions and with peers that stay.
    const seenIp = new Set<number>()
    const seenNet = new Set<string>()
    for (const a of adds) {
      const key = formatCidr(a.subnet)
      const ipOwner = this.peerTable.indexOfAddress(a.publicIp)
      const netOwner = this.peerTable.indexOfSubnet(a.subnet)
      if (seenIp.has(a.publicIp) || (ipOwner >= 0 && !removed.has(ipOwner))) {
        throw new TartanError('TARTAN_ERR_PEER_EXISTS', `a peer with underlay address ${intToIpv4(a.publicIp)} already exists; remove it first`)
      }
      if (seenNet.has(key) || (netOwner >= 0 && !removed.has(netOwner))) {
        throw new TartanError('TARTAN_ERR_PEER_EXISTS', `a peer already owns subnet ${key}; remove it first`)
      }
      seenIp.add(a.publicIp)
      seenNet.add(key)
    }
    const routeChanges: RouteChange[] = []
    for (const i of removeIdx) {
      routeChanges.push({ op: 'remove', prefix: this.peerTable.subnetAddr[i]!, len: this.peerTable.subnetLen[i]! })
      this.peerTable.remove(i)
    }
    for (const a of adds) {
      const i = this.peerTable.add(a)
      routeChanges.push({ op: 'add', prefix: a.subnet.addr, len: a.subnet.len, value: i })
    }
    this.routes.apply(routeChanges)
  }

  /** The live peers with their counters. */
  peers(): PeerInfo[] {
    return this.peerTable.liveIndexes().map((i) => this.peerTable.info(i))
  }

  /** A snapshot of the engine's counters, with the device's and bind's offload state when they have one. */
  counters(): EngineCounters {
    const c = snapshotCounters(this.forwarder.counters)
    const tun = this.device.offloadInfo?.()
    const udp = this.bind.offloadInfo?.()
    if (tun !== undefined || udp !== undefined) c.offload = { tun, udp }
    if (this.busyPoll !== null) c.busyPoll = this.busyPoll.stats()
    return c
  }

  /** Number of routes in the route table. */
  get routeCount(): number {
    return this.routes.size
  }

  /** For benchmarks and tests: handle one TUN and one UDP wakeup now. */
  pumpOnce(): void {
    this.forwarder.pumpTun()
    this.forwarder.pumpUdp()
  }

  private validatePeer(spec: PeerSpec): { publicIp: number; port: number; subnet: Ipv4Prefix; vtepMac?: Uint8Array } {
    if (spec === null || typeof spec !== 'object') throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', 'a peer must be an object {publicIp, subnet, port?, vtepMac?}')
    const publicIp = ipv4ToInt(String(spec.publicIp), 'peer publicIp')
    const subnet = parseCidr(String(spec.subnet), 'peer subnet')
    if (!prefixContains(this.network, subnet.addr) || subnet.len < this.network.len) {
      throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `peer subnet ${spec.subnet} is not inside network ${formatCidr(this.network)}`)
    }
    if (prefixContains(subnet, this.subnet.addr) || prefixContains(this.subnet, subnet.addr)) {
      throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `peer subnet ${spec.subnet} overlaps this node's subnet ${formatCidr(this.subnet)}`)
    }
    const port = spec.port ?? this.encapsulation.defaultPort
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `peer port ${port} is out of range (1..65535)`)
    }
    const out: { publicIp: number; port: number; subnet: Ipv4Prefix; vtepMac?: Uint8Array } = { publicIp, port, subnet }
    if (spec.vtepMac !== undefined && spec.vtepMac !== null) out.vtepMac = parseMac(spec.vtepMac)
    else if (this.encapsulation.needsPeerMac) {
      throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `peer ${spec.publicIp} needs a vtepMac for ${this.encapsulation.name} (its lease's BackendData.VtepMAC)`)
    }
    return out
  }

  /** Runs after a wakeup that dropped packets or had sends refused (outside the hot loop): emits the
   * rate-limited 'drops' and 'peer-unreachable' events to whoever listens. */
  private afterDrops(): void {
    const now = performance.now()
    if (this.listenerCount('drops') > 0 && now - this.lastDropEmit >= DROPS_EVENT_INTERVAL_MS) {
      this.lastDropEmit = now
      const drops: Record<string, number> = {}
      const c = this.forwarder.counters
      for (let i = 0; i < DROP_REASON_COUNT; i++) drops[DROP_REASON_NAMES[i]!] = c[C_DROPS + i]!
      this.emit('drops', drops)
    }
    if (this.listenerCount('peer-unreachable') > 0 && now - this.lastUnreachableCheck >= DROPS_EVENT_INTERVAL_MS) {
      this.lastUnreachableCheck = now
      this.reportUnreachable(now)
    }
  }

  /** Emits 'peer-unreachable' for each peer with new refused sends, at most once per peer per second. */
  private reportUnreachable(now: number): void {
    const t = this.peerTable
    for (const i of t.liveIndexes()) {
      const pc = t.counters
      const b = i * PEER_COUNTERS
      const errors = pc[b + PEER_TX_ERRORS]!
      const reported = pc[b + PEER_REPORTED_ERRORS]!
      const at = pc[b + PEER_REPORTED_AT]!
      if (errors <= reported || (at !== 0 && now - at < UNREACHABLE_EVENT_INTERVAL_MS)) continue
      pc[b + PEER_REPORTED_ERRORS] = errors
      pc[b + PEER_REPORTED_AT] = now > 0 ? now : 1
      const info = t.info(i)
      const errno = pc[b + PEER_LAST_ERRNO]!
      this.emit('peer-unreachable', {
        publicIp: info.publicIp, subnet: info.subnet, errno, error: errnoName(errno), failed: errors - reported, txErrors: errors,
      })
    }
  }
}

/** Parses 'aa:bb:cc:dd:ee:ff' into 6 bytes; throws TARTAN_ERR_INVALID_ARGUMENT otherwise. */
export function parseMac(text: string): Uint8Array {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(String(text))
  if (!m) throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `MAC address "${text}" is not of the form aa:bb:cc:dd:ee:ff`)
  return Uint8Array.from(m.slice(1, 7).map((h) => parseInt(h, 16)))
}
