/**
 * Builders for IPv4 test packets with valid (or deliberately broken) headers, independent of src/wire so
 * they can judge it: checksums here are computed by a separate straightforward implementation.
 */
export function ip(text: string): number {
  const p = text.split('.').map(Number)
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0
}

/** RFC 1071 checksum, written plainly (reference for the tests). */
export function refChecksum(b: Uint8Array): number {
  let s = 0
  for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) + (i + 1 < b.length ? b[i + 1]! : 0)
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000)
  return ~s & 0xffff
}

export interface Ipv4Spec {
  src: string
  dst: string
  ttl?: number
  protocol?: number
  id?: number
  /** Flags and fragment offset word (e.g. 0x4000 for DF). */
  flagsFragment?: number
  tos?: number
  payload?: Uint8Array
  /** Extra option bytes (multiple of 4). */
  options?: Uint8Array
}

/** A well-formed IPv4 packet. */
export function ipv4(spec: Ipv4Spec): Uint8Array {
  const payload = spec.payload ?? new Uint8Array(0)
  const opts = spec.options ?? new Uint8Array(0)
  const hlen = 20 + opts.length
  const b = new Uint8Array(hlen + payload.length)
  b[0] = 0x40 | (hlen / 4)
  b[1] = spec.tos ?? 0
  b[2] = b.length >> 8
  b[3] = b.length & 255
  const id = spec.id ?? 0x1234
  b[4] = id >> 8
  b[5] = id & 255
  const ff = spec.flagsFragment ?? 0x4000
  b[6] = ff >> 8
  b[7] = ff & 255
  b[8] = spec.ttl ?? 64
  b[9] = spec.protocol ?? 17
  const s = ip(spec.src)
  const d = ip(spec.dst)
  new DataView(b.buffer).setUint32(12, s)
  new DataView(b.buffer).setUint32(16, d)
  b.set(opts, 20)
  const c = refChecksum(b.subarray(0, hlen))
  b[10] = c >> 8
  b[11] = c & 255
  b.set(payload, hlen)
  return b
}

/** An IPv4/UDP packet with a valid UDP checksum. */
export function udpPacket(src: string, dst: string, sport: number, dport: number, data: Uint8Array, ttl = 64): Uint8Array {
  const u = new Uint8Array(8 + data.length)
  const dv = new DataView(u.buffer)
  dv.setUint16(0, sport)
  dv.setUint16(2, dport)
  dv.setUint16(4, u.length)
  u.set(data, 8)
  const pseudo = new Uint8Array(12 + u.length)
  const pv = new DataView(pseudo.buffer)
  pv.setUint32(0, ip(src))
  pv.setUint32(4, ip(dst))
  pseudo[9] = 17
  pv.setUint16(10, u.length)
  pseudo.set(u, 12)
  let c = refChecksum(pseudo)
  if (c === 0) c = 0xffff
  dv.setUint16(6, c)
  return ipv4({ src, dst, protocol: 17, payload: u, ttl })
}

/** An ICMP echo request packet. */
export function icmpEcho(src: string, dst: string, seq = 1, ttl = 64, type = 8): Uint8Array {
  const m = new Uint8Array(8 + 16)
  m[0] = type
  m[6] = seq >> 8
  m[7] = seq & 255
  for (let i = 8; i < m.length; i++) m[i] = i
  const c = refChecksum(m)
  m[2] = c >> 8
  m[3] = c & 255
  return ipv4({ src, dst, protocol: 1, payload: m, ttl })
}

/** Hex of bytes, for readable assertion diffs. */
export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex')
}
