/**
 * IPv4 addresses and prefixes as unsigned 32-bit integers in host byte order (10.244.1.2 -> 0x0af40102),
 * the form used by the route table, the engine's typed arrays and the native addon.
 */
import { TartanError } from '../errors.js'

const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

/** Parses a dotted-quad IPv4 address; returns undefined when it is not one. */
export function tryParseIpv4(text: string): number | undefined {
  const m = DOTTED_QUAD.exec(text)
  if (!m) return undefined
  let n = 0
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!
    if (part.length > 1 && part[0] === '0') return undefined // no octal-looking octets
    const v = Number(part)
    if (v > 255) return undefined
    n = n * 256 + v
  }
  return n >>> 0
}

/** Parses a dotted-quad IPv4 address; throws TARTAN_ERR_INVALID_ARGUMENT naming `what` when invalid. */
export function ipv4ToInt(text: string, what = 'address'): number {
  const n = tryParseIpv4(text)
  if (n === undefined) throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `${what} "${text}" is not an IPv4 address (expected a.b.c.d)`)
  return n
}

/** Formats a host-order integer as a dotted quad. */
export function intToIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
}

/** The netmask of a prefix length as an unsigned integer (/0 -> 0, /32 -> 0xffffffff). */
export function prefixMask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0
}

/** An IPv4 prefix: network address (host bits zero) and length. */
export interface Ipv4Prefix {
  readonly addr: number
  readonly len: number
}

/** Parses 'a.b.c.d/len'; host bits must be zero unless `allowHostBits`. Throws naming `what` when invalid. */
export function parseCidr(text: string, what = 'CIDR', allowHostBits = false): Ipv4Prefix {
  const slash = text.indexOf('/')
  const bad = (why: string): never => {
    throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `${what} "${text}" is not a valid IPv4 CIDR: ${why}`)
  }
  if (slash < 0) bad('missing /prefix-length (expected a.b.c.d/len)')
  const addr = tryParseIpv4(text.slice(0, slash))
  if (addr === undefined) bad('bad address part')
  const lenText = text.slice(slash + 1)
  if (!/^\d{1,2}$/.test(lenText) || Number(lenText) > 32) bad('prefix length must be 0..32')
  const len = Number(lenText)
  const net = (addr! & prefixMask(len)) >>> 0
  if (!allowHostBits && net !== addr) bad(`host bits set (did you mean ${intToIpv4(net)}/${len}?)`)
  return { addr: net, len }
}

/** Formats a prefix as 'a.b.c.d/len'. */
export function formatCidr(p: Ipv4Prefix): string {
  return `${intToIpv4(p.addr)}/${p.len}`
}

/** True when addr lies inside prefix p. */
export function prefixContains(p: Ipv4Prefix, addr: number): boolean {
  return ((addr & prefixMask(p.len)) >>> 0) === p.addr
}
