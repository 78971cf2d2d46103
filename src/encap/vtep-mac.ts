/**
 * tartan's VTEP MAC: derived from the node's underlay address and subnet, so a node restarted with the same
 * lease keeps its MAC (peers' neighbour and FDB entries stay valid), and it needs no state file. Locally
 * administered unicast, as flannel's random MACs are (first octet: bit 1 set, bit 0 clear).
 */
import { createHash } from 'node:crypto'
import type { Ipv4Prefix } from '../wire/ipv4-address.js'

/** Returns the 6-byte VTEP MAC for a node with underlay address `underlay` and subnet `subnet`. */
export function deriveVtepMac(underlay: number, subnet: Ipv4Prefix): Uint8Array {
  const h = createHash('sha256').update(`tartan-vtep ${underlay} ${subnet.addr}/${subnet.len}`).digest()
  const mac = Uint8Array.from(h.subarray(0, 6))
  mac[0] = (mac[0]! & 0xfe) | 0x02
  return mac
}
