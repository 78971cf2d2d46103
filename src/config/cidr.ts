/**
 * Control-plane prefix helpers on top of src/wire/ipv4-address.ts (addresses as unsigned 32-bit integers,
 * prefixes as {addr, len}): a non-throwing CIDR parse for validators that name their own field, and the
 * set arithmetic the lease policy needs. Not for the packet path.
 */
import { TartanError } from '../errors.js'
import {
  type Ipv4Prefix,
  formatCidr,
  intToIpv4,
  parseCidr as parseCidrOrThrow,
  prefixContains,
  prefixMask,
  tryParseIpv4,
} from '../wire/ipv4-address.js'

export { type Ipv4Prefix, formatCidr, intToIpv4, prefixContains, prefixMask, tryParseIpv4 }

export type CidrParse = { ok: true; net: Ipv4Prefix } | { ok: false; reason: string }

/**
 * Parses 'A.B.C.D/LEN' without throwing. With `allowHostBits` false (the default) an address with bits set
 * beyond the prefix is rejected, naming the network address meant; with true it is masked, as Go's
 * net.ParseCIDR does.
 */
export function parseCidr(text: string, allowHostBits = false): CidrParse {
  try {
    return { ok: true, net: parseCidrOrThrow(text, 'CIDR', allowHostBits) }
  } catch (err) {
    if (!(err instanceof TartanError)) throw err
    const m = /is not a valid IPv4 CIDR: (.*)$/.exec(err.message)
    return { ok: false, reason: m?.[1] ?? err.message }
  }
}

/** The number of addresses in a prefix of this length (2^(32-len)). */
export function prefixSize(len: number): number {
  return 2 ** (32 - len)
}

/** Whether two prefixes share any address (one contains the other), as flannel's IP4Net.Overlaps. */
export function prefixesOverlap(a: Ipv4Prefix, b: Ipv4Prefix): boolean {
  const mask = prefixMask(Math.min(a.len, b.len))
  return ((a.addr & mask) >>> 0) === ((b.addr & mask) >>> 0)
}

/** Whether two prefixes are the same network and length. */
export function prefixesEqual(a: Ipv4Prefix, b: Ipv4Prefix): boolean {
  return a.addr === b.addr && a.len === b.len
}
