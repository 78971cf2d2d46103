/**
 * IPv4 prefix arithmetic and argument checks shared by the route table's control plane.
 * Addresses and prefixes are IPv4 addresses as unsigned 32-bit integers in host order.
 */

/** Largest value a route may carry. Values are peer indexes (issue 3: 0..2^20 is plenty); the limit is 2^24-1. */
export const MAX_ROUTE_VALUE = 0xffffff

/** The error code set on every argument error the route table raises (as in TartanErrorCode). */
export const INVALID_ARGUMENT = 'TARTAN_ERR_INVALID_ARGUMENT'

/** Returns the netmask of a prefix length 0..32 as an unsigned 32-bit integer (0 for /0). */
export function maskOf(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0
}

/** Returns prefix with its host bits (those beyond len) cleared, as an unsigned 32-bit integer. */
export function normalizePrefix(prefix: number, len: number): number {
  return (prefix & maskOf(len)) >>> 0
}

/** Builds the RangeError the route table throws for a bad argument; it carries code TARTAN_ERR_INVALID_ARGUMENT. */
export function routeRangeError(message: string): RangeError {
  return Object.assign(new RangeError(message), { code: INVALID_ARGUMENT })
}

/** Throws a RangeError unless prefix is an integer in 0..2^32-1; `where` names the call for the message. */
export function checkPrefix(prefix: unknown, where: string): asserts prefix is number {
  if (typeof prefix !== 'number' || !Number.isInteger(prefix) || prefix < 0 || prefix > 0xffffffff) {
    throw routeRangeError(
      `${where}: route prefix must be an IPv4 address as an unsigned 32-bit integer (0 to 4294967295), ` +
        `got ${describe(prefix)}`,
    )
  }
}

/** Throws a RangeError unless len is an integer in 0..32; `where` names the call for the message. */
export function checkLen(len: unknown, where: string): asserts len is number {
  if (typeof len !== 'number' || !Number.isInteger(len) || len < 0 || len > 32) {
    throw routeRangeError(`${where}: route prefix length must be an integer from 0 to 32, got ${describe(len)}`)
  }
}

/** Throws a RangeError unless value is an integer in 0..MAX_ROUTE_VALUE; `where` names the call for the message. */
export function checkValue(value: unknown, where: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_ROUTE_VALUE) {
    throw routeRangeError(
      `${where}: route value must be an integer from 0 to ${MAX_ROUTE_VALUE} (a peer index), got ${describe(value)}`,
    )
  }
}

/** Renders an argument for an error message without ever throwing. */
export function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined || v === null) return String(v)
  return typeof v
}
