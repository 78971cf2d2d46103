/**
 * IPv4 addresses and prefixes for the control plane: strict dotted-quad parsing (as Go's net.ParseIP, which
 * flannel uses: four decimal octets, no leading zeros) and CIDR arithmetic on unsigned 32-bit integers.
 * Not for the packet path (src/wire has its own zero-copy views).
 */

/** An IPv4 prefix: `ip` is the network address as an unsigned 32-bit integer, `prefixLen` 0..32. */
export interface Ipv4Net {
  readonly ip: number
  readonly prefixLen: number
}

const OCTET = /^(0|[1-9][0-9]{0,2})$/

/** Parses a dotted-quad IPv4 address into an unsigned 32-bit integer; undefined when it is not exactly one. */
export function ipv4ToInt(text: string): number | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  let n = 0
  for (const p of parts) {
    if (!OCTET.test(p)) return undefined
    const v = Number(p)
    if (v > 255) return undefined
    n = n * 256 + v
  }
  return n
}

/** Formats an unsigned 32-bit integer as a dotted-quad IPv4 address. */
export function intToIpv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
}

/** The netmask of a prefix length as an unsigned 32-bit integer (0 for /0). */
export function prefixMask(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0
}

/** The number of addresses in a prefix of this length (2^(32-len)). */
export function prefixSize(prefixLen: number): number {
  return 2 ** (32 - prefixLen)
}

export type CidrParse =
  | { ok: true; net: Ipv4Net }
  | { ok: false; reason: string }

/**
 * Parses 'A.B.C.D/LEN'. With `allowHostBits` false (the default) an address with bits set beyond the prefix
 * is rejected, naming the network address the user probably meant; with true it is masked (as Go's
 * net.ParseCIDR does).
 */
export function parseCidr(text: string, allowHostBits = false): CidrParse {
  const slash = text.indexOf('/')
  if (slash < 0) return { ok: false, reason: 'expected A.B.C.D/LEN' }
  const ip = ipv4ToInt(text.slice(0, slash))
  if (ip === undefined) return { ok: false, reason: 'not an IPv4 address before the "/"' }
  const lenText = text.slice(slash + 1)
  if (!/^(0|[1-9][0-9]?)$/.test(lenText) || Number(lenText) > 32) {
    return { ok: false, reason: 'prefix length must be an integer 0..32' }
  }
  const prefixLen = Number(lenText)
  const masked = (ip & prefixMask(prefixLen)) >>> 0
  if (masked !== ip && !allowHostBits) {
    return { ok: false, reason: `host bits are set; the network address is ${intToIpv4(masked)}/${prefixLen}` }
  }
  return { ok: true, net: { ip: masked, prefixLen } }
}

/** Formats a prefix as 'A.B.C.D/LEN'. */
export function formatCidr(net: Ipv4Net): string {
  return `${intToIpv4(net.ip)}/${net.prefixLen}`
}

/** Whether `addr` lies inside `net`. */
export function netContains(net: Ipv4Net, addr: number): boolean {
  return ((addr & prefixMask(net.prefixLen)) >>> 0) === net.ip
}

/** Whether two prefixes share any address (one contains the other), as flannel's IP4Net.Overlaps. */
export function netsOverlap(a: Ipv4Net, b: Ipv4Net): boolean {
  const mask = prefixMask(Math.min(a.prefixLen, b.prefixLen))
  return ((a.ip & mask) >>> 0) === ((b.ip & mask) >>> 0)
}

/** Whether two prefixes are the same network and length. */
export function netsEqual(a: Ipv4Net, b: Ipv4Net): boolean {
  return a.ip === b.ip && a.prefixLen === b.prefixLen
}
