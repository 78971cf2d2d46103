/**
 * Link, address and route configuration for the current network namespace (wrap calls in withNetns to act
 * elsewhere), over rtnetlink via the native addon. Addresses are dotted-quad strings or host-order
 * integers. Failures throw TARTAN_ERR_NETLINK with the errno and a hint.
 */
import { Errno, systemError, TartanError } from '../errors.js'
import { intToIpv4, ipv4ToInt } from '../wire/ipv4-address.js'
import { native } from './native.js'

/** An IPv4 address as 'a.b.c.d' or as an unsigned 32-bit integer in host byte order. */
export type Ipv4Input = string | number

/** Options for configureLink: each one given is applied, in the order mtu, address, up. */
export interface LinkSettings {
  mtu?: number
  address?: Ipv4Input
  /** Prefix length of `address`; 32 when omitted. */
  prefixLen?: number
  up?: boolean
}

const { EPERM, ENOENT, ESRCH, EACCES, EEXIST, ENODEV, EINVAL, ERANGE, ENETUNREACH, EADDRNOTAVAIL } = Errno

/** Converts an address input to a host-order integer; throws TARTAN_ERR_INVALID_ARGUMENT naming `what`. */
export function toAddr(addr: Ipv4Input, what = 'address'): number {
  if (typeof addr === 'string') return ipv4ToInt(addr, what)
  if (typeof addr === 'number' && Number.isInteger(addr) && addr >= 0 && addr <= 0xffffffff) return addr
  throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `${what} must be an IPv4 address (a.b.c.d or a 32-bit unsigned integer), got ${String(addr)}`)
}

/** The interface index of link `name`, or undefined when there is no such link. */
export function linkIndex(name: string): number | undefined {
  checkName(name)
  const rc = native().linkIndex(name)
  if (rc === -ENODEV) return undefined
  if (rc < 0) throw netlinkError(`looking up link ${name}`, -rc, name)
  return rc
}

/** True when a link named `name` exists in the current namespace. */
export function linkExists(name: string): boolean {
  return linkIndex(name) !== undefined
}

/** Sets the MTU of link `name`. */
export function setLinkMtu(name: string, mtu: number): void {
  checkName(name)
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `MTU must be an integer 68..65535 (RFC 791 minimum 68), got ${mtu}`)
  }
  check(native().linkSetMtu(name, mtu), `setting the MTU of ${name} to ${mtu}`, name)
}

/** Sets link `name` administratively up (default) or down. */
export function setLinkUp(name: string, up = true): void {
  checkName(name)
  check(native().linkSetUp(name, up), `setting link ${name} ${up ? 'up' : 'down'}`, name)
}

/** Deletes link `name`. */
export function deleteLink(name: string): void {
  checkName(name)
  check(native().linkDelete(name), `deleting link ${name}`, name)
}

/** Adds the IPv4 address addr/prefixLen to link `name`; throws (errno EEXIST) when it is already there. */
export function addAddress(name: string, addr: Ipv4Input, prefixLen: number): void {
  checkName(name)
  const a = toAddr(addr)
  checkPrefixLen(prefixLen)
  check(native().addrAdd(name, a, prefixLen), `adding address ${fmt(a)}/${prefixLen} to ${name}`, name, 'address')
}

/** Adds a route to dst/prefixLen out of link `name`, via `gateway` (omitted or 0 = directly connected). */
export function addRoute(name: string, dst: Ipv4Input, prefixLen: number, gateway: Ipv4Input = 0): void {
  changeRoute('add', name, dst, prefixLen, gateway)
}

/** Deletes the route addRoute created with the same arguments; throws (errno ESRCH) when it is absent. */
export function deleteRoute(name: string, dst: Ipv4Input, prefixLen: number, gateway: Ipv4Input = 0): void {
  changeRoute('delete', name, dst, prefixLen, gateway)
}

function changeRoute(op: 'add' | 'delete', name: string, dst: Ipv4Input, prefixLen: number, gateway: Ipv4Input): void {
  checkName(name)
  const d = toAddr(dst, 'route destination')
  const g = toAddr(gateway, 'gateway')
  checkPrefixLen(prefixLen)
  const rc = op === 'add' ? native().routeAdd(name, d, prefixLen, g) : native().routeDel(name, d, prefixLen, g)
  check(rc, `${op === 'add' ? 'adding' : 'deleting'} route ${routeText(d, prefixLen, g, name)}`, name, 'route')
}

/**
 * Applies `settings` to link `name` in the order mtu, address, up. An address already present counts as
 * applied (the state asked for holds), so configuring twice is harmless.
 */
export function configureLink(name: string, settings: LinkSettings): void {
  if (settings.mtu !== undefined) setLinkMtu(name, settings.mtu)
  if (settings.address !== undefined) {
    try {
      addAddress(name, settings.address, settings.prefixLen ?? 32)
    } catch (err) {
      if (!(err instanceof TartanError && err.errno === EEXIST)) throw err
    }
  }
  if (settings.up !== undefined) setLinkUp(name, settings.up)
}

function check(rc: number, what: string, name: string, subject?: 'address' | 'route'): void {
  if (rc < 0) throw netlinkError(what, -rc, name, subject)
}

function netlinkError(what: string, errno: number, name: string, subject?: 'address' | 'route'): TartanError {
  return systemError('TARTAN_ERR_NETLINK', what, errno, hint(errno, name, subject))
}

function hint(errno: number, name: string, subject?: 'address' | 'route'): string {
  switch (errno) {
    case EPERM:
    case EACCES:
      return 'Run as root (CAP_NET_ADMIN).'
    case ENODEV:
    case ENOENT:
      return `There is no link named ${name} in this network namespace.`
    case EEXIST:
      return subject === 'route'
        ? 'A route to that prefix already exists: delete it first or leave it.'
        : 'The address is already on the link.'
    case ESRCH:
      return 'No such route: it was never added or was already removed.'
    case ENETUNREACH:
      return 'The gateway is not reachable through that link: add an address covering it first.'
    case EADDRNOTAVAIL:
      return 'The address is not available on that link.'
    case ERANGE:
    case EINVAL:
      return subject === 'route'
        ? 'Check that the destination has no bits set beyond the prefix length and that the link is up.'
        : 'The kernel rejected the value: check the MTU range the link accepts and the prefix length.'
    default:
      return 'See the errno for details.'
  }
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > 15 || /[\s/:\0]/.test(name)) {
    throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `link name must be 1..15 characters without whitespace, '/' or ':', got ${JSON.stringify(name)}`)
  }
}

function checkPrefixLen(len: number): void {
  if (!Number.isInteger(len) || len < 0 || len > 32) {
    throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `prefix length must be an integer 0..32, got ${len}`)
  }
}

const fmt = intToIpv4

function routeText(dst: number, len: number, gw: number, name: string): string {
  return `${fmt(dst)}/${len}${gw === 0 ? '' : ` via ${fmt(gw)}`} dev ${name}`
}
