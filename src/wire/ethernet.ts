/**
 * Ethernet II header (IEEE 802.3 / RFC 894) as carried inside VXLAN: destination MAC, source MAC, EtherType.
 */
export const ETH_DST = 0
export const ETH_SRC = 6
export const ETH_TYPE = 12
export const ETH_HEADER = 14
/** EtherTypes (IEEE registry): IPv4 and ARP. */
export const ETHERTYPE_IPV4 = 0x0800
export const ETHERTYPE_ARP = 0x0806

/** True when the 6 bytes at a[ao] equal those at b[bo]. */
export function macEquals(a: Uint8Array, ao: number, b: Uint8Array, bo: number): boolean {
  return a[ao] === b[bo] && a[ao + 1] === b[bo + 1] && a[ao + 2] === b[bo + 2] &&
    a[ao + 3] === b[bo + 3] && a[ao + 4] === b[bo + 4] && a[ao + 5] === b[bo + 5]
}

/** True when the MAC at a[o] is ff:ff:ff:ff:ff:ff. */
export function isBroadcastMac(a: Uint8Array, o: number): boolean {
  return (a[o]! & a[o + 1]! & a[o + 2]! & a[o + 3]! & a[o + 4]! & a[o + 5]!) === 0xff
}

/** Formats 6 bytes as aa:bb:cc:dd:ee:ff. */
export function formatMac(a: Uint8Array, o = 0): string {
  const parts: string[] = []
  for (let i = 0; i < 6; i++) parts.push(a[o + i]!.toString(16).padStart(2, '0'))
  return parts.join(':')
}
