import t from 'tap'
import {
  ICMP_CODE_FRAGMENTATION_NEEDED, ICMP_DEST_UNREACHABLE, ICMP_ERROR_MAX_LENGTH, ICMP_TIME_EXCEEDED,
  mayReplyWithIcmpError, writeIcmpError,
} from '../../src/wire/icmp.js'
import { icmpEcho, ip, ipv4, refChecksum, udpPacket } from '../helpers/packets.js'

const ORIGINAL = Buffer.from('450000181234400001110fb50af401020af4020361626364', 'hex') // TTL 1 (checksum not relevant here)

t.test('time exceeded quoting a short packet, byte by byte', async (t) => {
  const out = new Uint8Array(600)
  const n = writeIcmpError(out, 0, ip('10.244.1.0'), 7, ICMP_TIME_EXCEEDED, 0, 0, ORIGINAL, 0, ORIGINAL.length)
  t.equal(n, 20 + 8 + 24)
  const expected = Buffer.from(
    // IPv4: v4 IHL5, TOS 0, len 52, id 7, no flags, TTL 64, ICMP, checksum, 10.244.1.0 -> 10.244.1.2
    '45000034' + '00070000' + '4001' + '0000' + '0af40100' + '0af40102' +
    // ICMP: type 11 code 0 checksum, unused
    '0b00' + '0000' + '00000000' + ORIGINAL.toString('hex'), 'hex')
  expected.writeUInt16BE(refChecksum(expected.subarray(0, 20)), 10)
  expected.writeUInt16BE(refChecksum(expected.subarray(20)), 22)
  t.equal(Buffer.from(out.subarray(0, n)).toString('hex'), expected.toString('hex'))
  // The same, as a literal fixture (checksums 0x62d9 and 0x6f39 as computed by the reference above).
  t.equal(Buffer.from(out.subarray(0, n)).toString('hex'),
    '4500003400070000400162d90af401000af401020b006f3900000000' + ORIGINAL.toString('hex'))
})

t.test('fragmentation needed carries the next-hop MTU in the low 16 bits (RFC 1191)', async (t) => {
  const out = new Uint8Array(600)
  writeIcmpError(out, 0, ip('10.244.1.0'), 0, ICMP_DEST_UNREACHABLE, ICMP_CODE_FRAGMENTATION_NEEDED, 1472, ORIGINAL, 0, ORIGINAL.length)
  t.equal(out[20], 3)
  t.equal(out[21], 4)
  t.same([...out.subarray(24, 28)], [0, 0, 0x05, 0xc0])
})

t.test('a large original is quoted only up to 576 bytes in all (RFC 1812 4.3.2.3)', async (t) => {
  const big = udpPacket('10.244.1.2', '10.244.2.3', 1, 2, new Uint8Array(1400))
  const out = new Uint8Array(600)
  const n = writeIcmpError(out, 0, ip('10.244.1.0'), 0, ICMP_DEST_UNREACHABLE, 0, 0, big, 0, big.length)
  t.equal(n, ICMP_ERROR_MAX_LENGTH)
  t.equal((out[2]! << 8) | out[3]!, 576)
  t.equal(refChecksum(out.subarray(0, 20)), 0, 'IPv4 header checksum verifies')
  t.equal(refChecksum(out.subarray(20, n)), 0, 'ICMP checksum verifies')
  t.same(Buffer.from(out.subarray(28, n)), Buffer.from(big.subarray(0, 548)))
})

t.test('written at an offset, nothing outside the range changes', async (t) => {
  const out = new Uint8Array(700).fill(0xaa)
  const n = writeIcmpError(out, 50, ip('10.244.1.0'), 0, ICMP_TIME_EXCEEDED, 0, 0, ORIGINAL, 0, ORIGINAL.length)
  t.ok(out.subarray(0, 50).every((b) => b === 0xaa))
  t.ok(out.subarray(50 + n).every((b) => b === 0xaa))
})

t.test('no ICMP error about an ICMP error', async (t) => {
  const err = icmpEcho('10.244.1.2', '10.244.2.3', 1, 64, 3)
  t.equal(mayReplyWithIcmpError(err, 0, err.length), false)
  const te = icmpEcho('10.244.1.2', '10.244.2.3', 1, 64, 11)
  t.equal(mayReplyWithIcmpError(te, 0, te.length), false)
})

t.test('ICMP errors are sent about ICMP echo requests', async (t) => {
  const echo = icmpEcho('10.244.1.2', '10.244.2.3')
  t.equal(mayReplyWithIcmpError(echo, 0, echo.length), true)
})

t.test('no ICMP error about a non-first fragment', async (t) => {
  const frag = ipv4({ src: '10.244.1.2', dst: '10.244.2.3', flagsFragment: 0x0010 })
  t.equal(mayReplyWithIcmpError(frag, 0, frag.length), false)
  const first = ipv4({ src: '10.244.1.2', dst: '10.244.2.3', flagsFragment: 0x2000 })
  t.equal(mayReplyWithIcmpError(first, 0, first.length), true, 'the first fragment (MF, offset 0) may get one')
})

t.test('no ICMP error to a non-unicast source', async (t) => {
  for (const src of ['0.0.0.0', '127.0.0.1', '224.0.0.1', '255.255.255.255']) {
    const p = ipv4({ src, dst: '10.244.2.3' })
    t.equal(mayReplyWithIcmpError(p, 0, p.length), false, src)
  }
})
