import t from 'tap'
import { checksumUpdate16, fold16, internetChecksum, sum16 } from '../../src/wire/checksum.js'
import { refChecksum } from '../helpers/packets.js'

t.test('RFC 1071 section 3 example: words 0001 f203 f4f5 f6f7 sum to ddf2', async (t) => {
  const b = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7])
  t.equal(fold16(sum16(b, 0, b.length)), 0xddf2)
  t.equal(internetChecksum(b, 0, b.length), 0x220d)
})

t.test('a known IPv4 header (Wikipedia example) has checksum b861', async (t) => {
  const h = Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex')
  t.equal(internetChecksum(h, 0, 20), 0xb861)
})

t.test('a header with its checksum filled in sums to zero', async (t) => {
  const h = Buffer.from('45000073000040004011b861c0a80001c0a800c7', 'hex')
  t.equal(internetChecksum(h, 0, 20), 0)
})

t.test('odd length pads a zero byte', async (t) => {
  const b = Uint8Array.from([0x12, 0x34, 0x56])
  t.equal(internetChecksum(b, 0, 3), refChecksum(b))
  t.equal(internetChecksum(b, 0, 3), ~(0x1234 + 0x5600) & 0xffff)
})

t.test('a range inside a larger buffer ignores bytes outside it', async (t) => {
  const b = Uint8Array.from([0xff, 0x00, 0x01, 0xf2, 0x03, 0xff])
  t.equal(internetChecksum(b, 1, 4), internetChecksum(Uint8Array.from([0x00, 0x01, 0xf2, 0x03]), 0, 4))
})

t.test('64 KiB of 0xff bytes matches the reference (no overflow in the accumulator)', async (t) => {
  const b = new Uint8Array(65535).fill(0xff)
  t.equal(internetChecksum(b, 0, b.length), refChecksum(b))
})

t.test('random buffers match the reference implementation', async (t) => {
  let seed = 12345
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) & 255
  for (let n = 0; n < 200; n++) {
    const len = (n * 37) % 1600
    const b = Uint8Array.from({ length: len }, rnd)
    if (internetChecksum(b, 0, len) !== refChecksum(b)) t.fail(`length ${len} differs`)
  }
  t.pass('200 buffers agree')
})

t.test('RFC 1624 incremental update equals recomputation', async (t) => {
  const h = Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex')
  const before = internetChecksum(h, 0, 20)
  h[10] = before >> 8
  h[11] = before & 255
  // change TTL 0x40 -> 0x3f (word at offset 8: 0x4011 -> 0x3f11)
  const updated = checksumUpdate16(before, 0x4011, 0x3f11)
  h[8] = 0x3f
  h[10] = 0
  h[11] = 0
  t.equal(updated, internetChecksum(h, 0, 20))
})

t.test('RFC 1624 section 4 case: a header summing to 0xffff stays correct (no -0 result)', async (t) => {
  // Exhaustively: every old/new word pair over a header whose other words are fixed.
  const base = Buffer.from('4500001c000000000111000000000000ffff0000', 'hex')
  let bad = 0
  for (const oldW of [0x0000, 0x0001, 0x0111, 0xfffe, 0xffff, 0x8000]) {
    for (const newW of [0x0000, 0x0110, 0xffff, 0x7fff]) {
      const h = Buffer.from(base)
      h.writeUInt16BE(oldW, 8)
      const c = internetChecksum(h, 0, 20)
      h.writeUInt16BE(newW, 8)
      const expect = internetChecksum(h, 0, 20)
      const got = checksumUpdate16(c, oldW, newW)
      // Both 0x0000 and 0xffff verify as "zero" in one's complement; receivers accept either.
      h.writeUInt16BE(got, 10)
      if (internetChecksum(h, 0, 20) !== 0 && got !== expect) bad++
    }
  }
  t.equal(bad, 0)
})
