/**
 * Finding the underlay, as flanneld does (--iface, then --iface-regex, then --iface-can-reach; without them
 * the interface holding --public-ip, else the default route's): which interface carries inter-host traffic,
 * the IPv4 address to bind on it, the address published to peers, and the interface MTU the overlay MTU is
 * derived from. Reads the current network namespace only.
 */
import { readFileSync } from 'node:fs'
import { networkInterfaces } from 'node:os'
import { tryParseIpv4 } from '../config/cidr.js'
import { TartanError } from '../errors.js'

export interface Underlay {
  /** Interface name, e.g. 'eth0'. */
  iface: string
  /** Its IPv4 address: where the node's UDP socket is bound. */
  bindAddress: string
  /** The address published in the lease (PublicIP); bindAddress unless --public-ip says otherwise. */
  publicIp: string
  /** The interface MTU (1500 when it cannot be read). */
  mtu: number
}

export interface UnderlayOptions {
  /** Interface names or IPv4 addresses, tried in order (flannel's repeatable --iface). */
  iface?: string[]
  /** Regular expressions tried in order after `iface`, each against every IPv4 address, then every interface
   * name (flannel's repeatable --iface-regex; unanchored, as Go's MatchString). */
  ifaceRegex?: string[]
  /** An IPv4 address: the interface the main routing table sends it through, tried last (flannel's
   * --iface-can-reach, which asks `ip route get`; policy-routing rules are not consulted here). */
  ifaceCanReach?: string
  /** The address peers should send to (flannel's --public-ip), e.g. behind NAT. */
  publicIp?: string
}

type Addrs = Map<string, string[]>

/** The IPv4 addresses of every interface in this namespace, by interface name. */
function interfaceAddrs(): Addrs {
  const out: Addrs = new Map()
  for (const [name, list] of Object.entries(networkInterfaces())) {
    const v4 = (list ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address)
    if (v4.length > 0) out.set(name, v4)
  }
  return out
}

/** The interface of the lowest-metric IPv4 default route (from /proc/net/route), or undefined. */
export function defaultRouteInterface(routeTable?: string): string | undefined {
  return routeInterface(0, routeTable)
}

/**
 * The interface the main routing table (/proc/net/route) sends `ip` (a host-order uint32) through: the
 * longest matching prefix among routes that are up, then the lowest metric; undefined when none matches.
 */
export function routeInterface(ip: number, routeTable?: string): string | undefined {
  let text = routeTable
  if (text === undefined) {
    try {
      text = readFileSync('/proc/net/route', 'utf8')
    } catch {
      return undefined
    }
  }
  let best: { iface: string; len: number; metric: number } | undefined
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    // Iface Destination Gateway Flags RefCnt Use Metric Mask ...; RTF_UP = 0x1; addresses in host (little-endian) order.
    if (f.length < 8 || (parseInt(f[3]!, 16) & 1) === 0) continue
    const dest = procHexToIpv4(f[1]!)
    const mask = procHexToIpv4(f[7]!)
    if (((ip & mask) >>> 0) !== dest) continue
    const len = Math.clz32(~mask >>> 0) // leading one bits of the mask
    const metric = Number(f[6])
    if (best === undefined || len > best.len || (len === best.len && metric < best.metric)) best = { iface: f[0]!, len, metric }
  }
  return best?.iface
}

/** /proc/net/route prints addresses as the hex of the little-endian in-memory word: 010012C6 is 198.18.0.1. */
function procHexToIpv4(hex: string): number {
  const v = parseInt(hex, 16) >>> 0
  const b0 = v & 0xff
  const b1 = (v >>> 8) & 0xff
  const b2 = (v >>> 16) & 0xff
  const b3 = v >>> 24
  return ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0
}

function interfaceMtu(name: string): number {
  try {
    const mtu = Number(readFileSync(`/sys/class/net/${name}/mtu`, 'utf8').trim())
    return Number.isInteger(mtu) && mtu >= 576 ? mtu : 1500
  } catch {
    return 1500
  }
}

function lookup(addrs: Addrs, nameOrIp: string): { iface: string; address: string } | undefined {
  if (tryParseIpv4(nameOrIp) !== undefined) {
    for (const [iface, list] of addrs) if (list.includes(nameOrIp)) return { iface, address: nameOrIp }
    return undefined
  }
  const list = addrs.get(nameOrIp)
  return list === undefined ? undefined : { iface: nameOrIp, address: list[0]! }
}

/** Resolves the underlay; throws TARTAN_ERR_INVALID_CONFIG saying what was looked for when nothing fits. */
export function resolveUnderlay(options: UnderlayOptions, addrs: Addrs = interfaceAddrs(), routeTable?: string): Underlay {
  const { iface = [], ifaceRegex = [], ifaceCanReach, publicIp } = options
  if (publicIp !== undefined && tryParseIpv4(publicIp) === undefined) {
    throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `--public-ip ${JSON.stringify(publicIp)} is not an IPv4 address`)
  }
  const regexes = ifaceRegex.map(compileIfaceRegex)
  const reach = ifaceCanReach === undefined ? undefined : tryParseIpv4(ifaceCanReach)
  if (ifaceCanReach !== undefined && reach === undefined) {
    throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `--iface-can-reach ${JSON.stringify(ifaceCanReach)} is not an IPv4 address`)
  }
  let found: { iface: string; address: string } | undefined
  if (iface.length > 0 || regexes.length > 0 || reach !== undefined) {
    for (const candidate of iface) {
      found = lookup(addrs, candidate)
      if (found !== undefined) break
    }
    for (let i = 0; found === undefined && i < regexes.length; i++) found = matchRegex(addrs, regexes[i]!)
    if (found === undefined && reach !== undefined) {
      const via = routeInterface(reach, routeTable)
      if (via !== undefined) found = lookup(addrs, via)
    }
    if (found === undefined) {
      const known = [...addrs].map(([name, list]) => `${name} ${list.join(' ')}`).join(', ') || 'none'
      const asked = [
        iface.length > 0 ? `--iface ${iface.join(', ')}` : '',
        ifaceRegex.length > 0 ? `--iface-regex ${ifaceRegex.join(', ')}` : '',
        ifaceCanReach !== undefined ? `--iface-can-reach ${ifaceCanReach} (no route to it, or its interface has no IPv4 address)` : '',
      ].filter((x) => x !== '').join(' or ')
      throw new TartanError('TARTAN_ERR_INVALID_CONFIG', `no interface with an IPv4 address matches ${asked} (interfaces with IPv4 here: ${known})`)
    }
  } else {
    if (publicIp !== undefined) found = lookup(addrs, publicIp)
    if (found === undefined) {
      const def = defaultRouteInterface(routeTable)
      if (def !== undefined) found = lookup(addrs, def)
    }
    if (found === undefined) {
      throw new TartanError(
        'TARTAN_ERR_INVALID_CONFIG',
        'cannot choose the underlay interface: there is no IPv4 default route; name it with --iface (e.g. --iface=eth0)',
      )
    }
  }
  return { iface: found.iface, bindAddress: found.address, publicIp: publicIp ?? found.address, mtu: interfaceMtu(found.iface) }
}

/** An --iface-regex as a RegExp; TARTAN_ERR_INVALID_ARGUMENT when it does not compile. */
export function compileIfaceRegex(source: string): RegExp {
  try {
    return new RegExp(source)
  } catch (e) {
    throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `--iface-regex ${JSON.stringify(source)} is not a valid regular expression: ${(e as Error).message}`)
  }
}

/** As flannel: the first IPv4 address (of any interface) the regex matches, else the first interface name. */
function matchRegex(addrs: Addrs, re: RegExp): { iface: string; address: string } | undefined {
  for (const [iface, list] of addrs) {
    for (const address of list) if (re.test(address)) return { iface, address }
  }
  for (const [iface, list] of addrs) if (re.test(iface)) return { iface, address: list[0]! }
  return undefined
}
