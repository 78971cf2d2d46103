/**
 * Finding the underlay, as flanneld does (--iface, --public-ip, else the default route's interface): which
 * interface carries inter-host traffic, the IPv4 address to bind on it, the address published to peers,
 * and the interface MTU the overlay MTU is derived from. Reads the current network namespace only.
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
  let text = routeTable
  if (text === undefined) {
    try {
      text = readFileSync('/proc/net/route', 'utf8')
    } catch {
      return undefined
    }
  }
  let best: { iface: string; metric: number } | undefined
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    // Iface Destination Gateway Flags RefCnt Use Metric Mask ...; RTF_UP = 0x1.
    if (f.length < 8 || f[1] !== '00000000' || f[7] !== '00000000' || (parseInt(f[3]!, 16) & 1) === 0) continue
    const metric = Number(f[6])
    if (best === undefined || metric < best.metric) best = { iface: f[0]!, metric }
  }
  return best?.iface
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
  const { iface = [], publicIp } = options
  if (publicIp !== undefined && tryParseIpv4(publicIp) === undefined) {
    throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `--public-ip ${JSON.stringify(publicIp)} is not an IPv4 address`)
  }
  let found: { iface: string; address: string } | undefined
  if (iface.length > 0) {
    for (const candidate of iface) {
      found = lookup(addrs, candidate)
      if (found !== undefined) break
    }
    if (found === undefined) {
      const known = [...addrs.keys()].join(', ') || 'none'
      throw new TartanError(
        'TARTAN_ERR_INVALID_CONFIG',
        `no interface with an IPv4 address matches --iface ${iface.join(', ')} (interfaces with IPv4 here: ${known})`,
      )
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
