import t from 'tap'
import {
  Ipv4Check, Ipv4View, decrementTtl, fillIpv4Checksum, readU16, readU32, writeU16, writeU32,
} from '../../src/wire/ipv4.js'
import { internetChecksum } from '../../src/wire/checksum.js'
import { ipv4, ip } from '../helpers/packets.js'

// Byte fixture: 10.244.1.2 -> 10.244.2.3, UDP, TTL 64, DF, id 0x1234, 4 payload bytes.
const FIXTURE = Buffer.from('450000181234400040110fb50af401020af4020361626364', 'hex')

t.test('the fixture is what the independent builder produces', async (t) => {
  const built = ipv4({ src: '10.244.1.2', dst: '10.244.2.3', payload: Buffer.from('abcd') })
  t.same(Buffer.from(built), FIXTURE)
})

t.test('a well-formed packet wraps and its fields read back', async (t) => {
  const v = new Ipv4View()
  t.equal(v.wrap(FIXTURE, 0, FIXTURE.length, true), Ipv4Check.Ok)
  t.equal(v.headerLength, 20)
  t.equal(v.totalLength, 24)
  t.equal(v.ttl, 64)
  t.equal(v.protocol, 17)
  t.equal(v.src, ip('10.244.1.2'))
  t.equal(v.dst, ip('10.244.2.3'))
  t.equal(v.dontFragment, true)
  t.equal(v.isLaterFragment, false)
  t.equal(v.checksum, 0x0fb5)
})

t.test('a packet at an offset inside a slab wraps', async (t) => {
  const slab = new Uint8Array(100)
  slab.set(FIXTURE, 37)
  t.equal(new Ipv4View().wrap(slab, 37, FIXTURE.length, true), Ipv4Check.Ok)
})

t.test('malformed: shorter than 20 bytes is Truncated', async (t) => {
  t.equal(new Ipv4View().wrap(FIXTURE, 0, 19, true), Ipv4Check.Truncated)
})

t.test('malformed: a range past the end of the buffer is Truncated', async (t) => {
  t.equal(new Ipv4View().wrap(FIXTURE, 10, FIXTURE.length, true), Ipv4Check.Truncated)
})

t.test('malformed: version 6 is NotIpv4', async (t) => {
  const b = Buffer.from(FIXTURE)
  b[0] = 0x65
  t.equal(new Ipv4View().wrap(b, 0, b.length, false), Ipv4Check.NotIpv4)
})

t.test('malformed: IHL 4 is BadIhl', async (t) => {
  const b = Buffer.from(FIXTURE)
  b[0] = 0x44
  t.equal(new Ipv4View().wrap(b, 0, b.length, false), Ipv4Check.BadIhl)
})

t.test('malformed: IHL beyond the packet is BadIhl', async (t) => {
  const b = Buffer.from(FIXTURE)
  b[0] = 0x4f // 60-byte header in a 24-byte packet
  t.equal(new Ipv4View().wrap(b, 0, b.length, false), Ipv4Check.BadIhl)
})

t.test('malformed: total length larger than the datagram is LengthMismatch', async (t) => {
  const b = Buffer.from(FIXTURE)
  writeU16(b, 2, 25)
  t.equal(new Ipv4View().wrap(b, 0, b.length, false), Ipv4Check.LengthMismatch)
})

t.test('malformed: total length smaller than the datagram (trailing bytes) is LengthMismatch', async (t) => {
  const b = Buffer.concat([FIXTURE, Buffer.from([0])])
  t.equal(new Ipv4View().wrap(b, 0, b.length, false), Ipv4Check.LengthMismatch)
})

t.test('malformed: a flipped header bit is BadChecksum when verifying', async (t) => {
  const b = Buffer.from(FIXTURE)
  b[15] ^= 1
  t.equal(new Ipv4View().wrap(b, 0, b.length, true), Ipv4Check.BadChecksum)
  t.equal(new Ipv4View().wrap(b, 0, b.length, false), Ipv4Check.Ok, 'not checked when verification is off')
})

t.test('options are covered by the header checksum', async (t) => {
  const p = ipv4({ src: '10.244.1.2', dst: '10.244.2.3', options: Uint8Array.from([1, 1, 1, 0]) })
  const v = new Ipv4View()
  t.equal(v.wrap(p, 0, p.length, true), Ipv4Check.Ok)
  t.equal(v.headerLength, 24)
  p[22] ^= 0xff
  t.equal(new Ipv4View().wrap(p, 0, p.length, true), Ipv4Check.BadChecksum)
})

t.test('a failed wrap leaves the view pointing at its previous packet', async (t) => {
  const v = new Ipv4View()
  v.wrap(FIXTURE, 0, FIXTURE.length, true)
  v.wrap(FIXTURE, 0, 3, true)
  t.equal(v.len, FIXTURE.length)
})

t.test('decrementTtl lowers TTL by one and keeps the checksum valid', async (t) => {
  const b = Buffer.from(FIXTURE)
  decrementTtl(b, 0)
  t.equal(b[8], 63)
  t.equal(internetChecksum(b, 0, 20), 0)
  t.equal(readU16(b, 10), 0x10b5)
})

t.test('decrementTtl keeps the checksum valid for every TTL and protocol', async (t) => {
  let bad = 0
  for (let ttl = 2; ttl < 256; ttl++) {
    for (const proto of [0, 1, 6, 17, 255]) {
      const b = Buffer.from(FIXTURE)
      b[8] = ttl
      b[9] = proto
      fillIpv4Checksum(b, 0)
      decrementTtl(b, 0)
      if (internetChecksum(b, 0, 20) !== 0 || b[8] !== ttl - 1) bad++
    }
  }
  t.equal(bad, 0)
})

t.test('big-endian accessors round trip', async (t) => {
  const b = new Uint8Array(8)
  writeU32(b, 1, 0xdeadbeef)
  t.equal(readU32(b, 1), 0xdeadbeef)
  writeU16(b, 5, 0xcafe)
  t.equal(readU16(b, 5), 0xcafe)
  t.same([...b], [0, 0xde, 0xad, 0xbe, 0xef, 0xca, 0xfe, 0])
})
