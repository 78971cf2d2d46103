/**
 * ARP for IPv4 over Ethernet (RFC 826): recognising a request for an address we own and writing the
 * reply in place.
 */
import { macEquals } from './ethernet.js'
import { readU32, writeU32 } from './ipv4.js'

/** An Ethernet/IPv4 ARP packet is 28 bytes (RFC 826). */
export const ARP_LENGTH = 28
export const ARP_HTYPE = 0
export const ARP_PTYPE = 2
export const ARP_HLEN = 4
export const ARP_PLEN = 5
export const ARP_OPER = 6
export const ARP_SHA = 8
export const ARP_SPA = 14
export const ARP_THA = 18
export const ARP_TPA = 24
export const ARP_REQUEST = 1
export const ARP_REPLY = 2

/** True when b[off, off+len) is an Ethernet/IPv4 ARP request asking for `target`. */
export function isArpRequestFor(b: Uint8Array, off: number, len: number, target: number): boolean {
  return len >= ARP_LENGTH &&
    b[off] === 0 && b[off + 1] === 1 && // htype 1 = Ethernet
    b[off + 2] === 0x08 && b[off + 3] === 0x00 && // ptype IPv4
    b[off + ARP_HLEN] === 6 && b[off + ARP_PLEN] === 4 &&
    b[off + ARP_OPER] === 0 && b[off + ARP_OPER + 1] === ARP_REQUEST &&
    readU32(b, off + ARP_TPA) === target
}

/** Writes at out[o] the ARP reply to the request at b[off]: we (mac at macBuf[macOff], address `addr`) answer
 * the requester's hardware and protocol address. Returns ARP_LENGTH. */
export function writeArpReply(out: Uint8Array, o: number, b: Uint8Array, off: number, macBuf: Uint8Array, macOff: number, addr: number): number {
  out[o] = 0; out[o + 1] = 1; out[o + 2] = 0x08; out[o + 3] = 0; out[o + 4] = 6; out[o + 5] = 4
  out[o + 6] = 0; out[o + 7] = ARP_REPLY
  for (let i = 0; i < 6; i++) {
    out[o + ARP_SHA + i] = macBuf[macOff + i]!
    out[o + ARP_THA + i] = b[off + ARP_SHA + i]!
  }
  writeU32(out, o + ARP_SPA, addr)
  writeU32(out, o + ARP_TPA, readU32(b, off + ARP_SPA))
  return ARP_LENGTH
}

export { macEquals }
