/**
 * Coalescing before the TUN write (the tunWriteOffload path, run over memory by the addon's offloadCoalesce):
 * runs of one TCP flow become one super-packet with a GSO_TCPV4 virtio header, and every rule that forbids a
 * merge keeps packets apart. Merged packets are checked by completing their partial checksum the way the
 * kernel does and verifying it with a plain reference implementation.
 */
import t, { type Test } from 'tap'
import { nativeAvailable } from '../../src/io/native.js'
import {
  ACK, FIN, GSO_TCPV4, GSO_UDP_L4, NEEDS_CSUM, PSH, SYN, URG, type Written, coalesce, completePartial, concat,
  l4ChecksumOk, pattern, read16, refChecksum, tcp4, tcpPayload, udp4,
} from './fixtures/offload.js'

const skip = nativeAvailable() ? false : 'needs the native addon (npm install)'
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))
const TS = (v: number): Uint8Array => Uint8Array.from([1, 1, 8, 10, v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255, 0, 0, 0, 9])

/** Consecutive segments of one flow: payload sizes, starting seq 1000, ids from 0x1000, PSH on the last. */
function run(sizes: number[], extra: Parameters<typeof tcp4>[0] = {}): Uint8Array[] {
  let seq = extra.seq ?? 1000
  return sizes.map((n, k) => {
    const p = tcp4({ ...extra, seq, id: (extra.id ?? 0x1000) + k, payload: pattern(n, k), flags: k === sizes.length - 1 ? ACK | PSH : ACK })
    seq += n
    return p
  })
}

/** Checks a merged write against the packets it carries. */
function checkMerged(t: Test, w: Written, members: Uint8Array[]): void {
  const head = members[0]!
  const hl = 20 + (head[32]! >> 4) * 4
  t.equal(w.vnet.flags, NEEDS_CSUM)
  t.equal(w.vnet.gsoType, GSO_TCPV4)
  t.equal(w.vnet.hdrLen, hl)
  t.equal(w.vnet.gsoSize, head.length - hl)
  t.equal(w.vnet.csumStart, 20)
  t.equal(w.vnet.csumOffset, 16)
  const p = w.packet
  t.equal(p.length, hl + members.reduce((n, m) => n + m.length - hl, 0))
  t.equal(read16(p, 2), p.length, 'IPv4 total length covers the merge')
  t.equal(refChecksum(p.subarray(0, 20)), 0, 'IPv4 header checksum')
  t.same(p.subarray(4, 10), head.subarray(4, 10), 'id, flags, TTL and protocol of the head')
  t.same(tcpPayload(p), concat(members.map(tcpPayload)), 'payloads in order')
  t.ok(l4ChecksumOk(completePartial(p, w.vnet), 20, 6), 'TCP checksum valid once the kernel completes it')
  const psh = (members[members.length - 1]![33]! & PSH) !== 0
  t.equal((p[33]! & PSH) !== 0, psh, 'PSH as on the last member')
}

t.test('byte fixture: three contiguous segments become one GSO_TCPV4 write', { skip }, async (t) => {
  // Computed independently (Python): ACK, ACK, ACK|PSH; payloads ABCD EFGH IJ; ids 0x1234..; seq 1000..
  const pkts = [
    '4500002c1234400040060fad0af402020af401029c401451000003e80000004d501002005b98000041424344',
    '4500002c1235400040060fac0af402020af401029c401451000003ec0000004d50100200538c000045464748',
    '4500002a1236400040060fad0af402020af401029c401451000003f00000004d5018020096c60000494a',
  ].map(hex)
  const { writes, status } = coalesce(pkts)
  t.equal(writes.length, 1)
  t.equal(Buffer.from(concat([vnetBytes(writes[0]!), writes[0]!.packet])).toString('hex'),
    '01012800040014001000450000321234400040060fa70af402020af401029c401451000003e80000004d50180200191000004142434445464748494a')
  t.same(status, [0, 0, 0])
})

function vnetBytes(w: Written): Uint8Array {
  const b = new Uint8Array(10)
  const v = new DataView(b.buffer)
  b[0] = w.vnet.flags
  b[1] = w.vnet.gsoType
  v.setUint16(2, w.vnet.hdrLen, true)
  v.setUint16(4, w.vnet.gsoSize, true)
  v.setUint16(6, w.vnet.csumStart, true)
  v.setUint16(8, w.vnet.csumOffset, true)
  return b
}

t.test('a run of full segments plus a shorter last one merges, with header fields and checksums right', { skip }, async (t) => {
  const pkts = run([1448, 1448, 1448, 600], { options: TS(5) })
  const { writes, status } = coalesce(pkts)
  t.equal(writes.length, 1)
  checkMerged(t, writes[0]!, pkts)
  t.same(status, [0, 0, 0, 0], 'every packet reports the status of the write that carried it')
})

t.test('the largest merge: 45 segments of 1448 bytes stay within 65535 bytes; the 46th starts a new write', { skip }, async (t) => {
  const pkts = run(Array.from({ length: 46 }, () => 1448))
  const { writes } = coalesce(pkts)
  // 40 + 45 * 1448 = 65200 <= 65535; one more segment would make 66648.
  t.same(writes.map((w) => w.packet.length), [40 + 45 * 1448, 40 + 1448])
  checkMerged(t, writes[0]!, pkts.slice(0, 45))
})

t.test('packets of exactly the MTU (1500) merge', { skip }, async (t) => {
  const pkts = run([1460, 1460])
  const { writes } = coalesce(pkts)
  t.equal(writes.length, 1)
  checkMerged(t, writes[0]!, pkts)
})

t.test('at most 64 segments go into one merge', { skip }, async (t) => {
  const pkts = run(Array.from({ length: 70 }, () => 100))
  const { writes } = coalesce(pkts)
  t.same(writes.map((w) => (w.packet.length - 40) / 100), [64, 6])
})

/** Asserts that `pkts` are written one by one, unmerged, with a zero virtio header and untouched bytes. */
function apart(t: Test, pkts: Uint8Array[], why: string, flags = 1): void {
  const { writes } = coalesce(pkts, flags)
  t.equal(writes.length, pkts.length, why)
  writes.forEach((w, i) => {
    t.same(w.vnet, { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 })
    t.same(w.packet, pkts[i])
  })
}

t.test('every rule that forbids a merge keeps the packets apart', { skip }, async (t) => {
  const base = (over: Parameters<typeof tcp4>[0] = {}) => tcp4({ seq: 1000, id: 1, payload: pattern(100), ...over })
  const second = (over: Parameters<typeof tcp4>[0] = {}) => tcp4({ seq: 1100, id: 2, payload: pattern(100, 2), ...over })
  apart(t, [base(), second({ seq: 1101 })], 'gap in the sequence')
  apart(t, [base(), second({ seq: 1000 })], 'a repeated sequence number')
  apart(t, [base(), second({ flags: ACK | FIN })], 'FIN')
  apart(t, [base(), second({ flags: ACK | URG })], 'URG')
  apart(t, [base(), second({ flags: SYN | ACK })], 'SYN')
  apart(t, [base({ flags: ACK | PSH }), second()], 'nothing follows PSH')
  apart(t, [base({ options: TS(1) }), second({ options: TS(2) })], 'different TCP options')
  apart(t, [base({ options: TS(1) }), second()], 'different TCP header length')
  apart(t, [base(), second({ ack: 78 })], 'different ACK number')
  apart(t, [base(), second({ tcpChecksum: 0x1234 })], 'bad checksum on the joining packet')
  apart(t, [base({ tcpChecksum: 0x1234 }), second()], 'bad checksum on the head')
  apart(t, [base({ frag: 0x2000 }), second({ frag: 0x0000 })], 'IPv4 fragment (MF)')
  apart(t, [base(), second({ frag: 0x4001 })], 'IPv4 fragment (offset)')
  apart(t, [base({ ipOptions: Uint8Array.from([1, 1, 1, 0]) }), second({ ipOptions: Uint8Array.from([1, 1, 1, 0]) })], 'IP options')
  apart(t, [base(), second({ tos: 4 })], 'different TOS')
  apart(t, [base(), second({ ttl: 63 })], 'different TTL')
  apart(t, [base(), second({ frag: 0 })], 'different DF')
  apart(t, [base({ frag: 0 }), second({ frag: 0, id: 7 })], 'IPv4 ids not consecutive without DF')
  apart(t, [base(), second({ dport: 5202 })], 'another flow (port)')
  apart(t, [base(), second({ src: '10.244.2.3' })], 'another flow (address)')
  apart(t, [base(), tcp4({ seq: 1100, id: 2, payload: pattern(101) })], 'a larger packet after the head')
  apart(t, [base({ payload: new Uint8Array(0) }), second({ seq: 1000 })], 'no payload (a pure ACK)')
  apart(t, [base(), second()], 'TCP merging off', 0)
})

t.test('IPv4 ids need not be consecutive when DF is set', { skip }, async (t) => {
  const { writes } = coalesce([tcp4({ seq: 1000, id: 1, payload: pattern(100) }), tcp4({ seq: 1100, id: 99, payload: pattern(100) })])
  t.equal(writes.length, 1)
})

t.test('a shorter segment ends a merge: what follows is written after it', { skip }, async (t) => {
  const pkts = run([1000, 600, 1000])
  const { writes } = coalesce(pkts)
  t.same(writes.map((w) => w.packet.length), [40 + 1600, 40 + 1000])
  checkMerged(t, writes[0]!, pkts.slice(0, 2))
})

t.test('interleaved flows merge separately; each flow keeps its order', { skip }, async (t) => {
  const a = run([500, 500, 500], { sport: 1111 })
  const b = run([700, 700], { sport: 2222, seq: 50_000 })
  const { writes, status } = coalesce([a[0]!, b[0]!, a[1]!, b[1]!, a[2]!])
  t.equal(writes.length, 2)
  checkMerged(t, writes[0]!, a)
  checkMerged(t, writes[1]!, b)
  t.same(status, [0, 0, 0, 0, 0])
})

t.test('a packet of the flow that cannot merge is never overtaken by later segments of that flow', { skip }, async (t) => {
  const p1 = tcp4({ seq: 1000, id: 1, payload: pattern(100) })
  const ackOnly = tcp4({ seq: 1100, id: 2 })
  const p2 = tcp4({ seq: 1100, id: 3, payload: pattern(100) })
  const { writes } = coalesce([p1, ackOnly, p2])
  t.same(writes.map((w) => w.packet), [p1, ackOnly, p2], 'written in arrival order')
})

t.test('a non-TCP packet between the same addresses closes their runs; others do not', { skip }, async (t) => {
  const a = run([300, 300])
  const icmpLike = udp4({ payload: pattern(10) })
  t.equal(coalesce([a[0]!, icmpLike, a[1]!]).writes.length, 3, 'same addresses: closed')
  const other = udp4({ src: '10.244.3.3', payload: pattern(10) })
  t.equal(coalesce([a[0]!, other, a[1]!]).writes.length, 2, 'other addresses: merged around it')
})

t.test('UDP: equal datagrams of one flow become a GSO_UDP_L4 write when UDP merging is on', { skip }, async (t) => {
  const pkts = [0, 1, 2].map((k) => udp4({ id: 10 + k, payload: pattern(k === 2 ? 50 : 200, k) }))
  const { writes } = coalesce(pkts, 3)
  t.equal(writes.length, 1)
  const w = writes[0]!
  t.equal(w.vnet.gsoType, GSO_UDP_L4)
  t.equal(w.vnet.gsoSize, 200)
  t.equal(w.vnet.hdrLen, 28)
  t.equal(w.vnet.csumOffset, 6)
  t.equal(read16(w.packet, 24), w.packet.length - 20, 'UDP length covers the merge')
  t.ok(l4ChecksumOk(completePartial(w.packet, w.vnet), 20, 17))
  t.same(w.packet.subarray(28), concat(pkts.map((p) => p.subarray(28))))
  apart(t, pkts, 'UDP merging off', 1)
  apart(t, [udp4({ payload: pattern(100) }), udp4({ id: 0x2001, payload: pattern(100), udpChecksum: 0 })], 'UDP without a checksum', 3)
})

t.test('packets outside the slab are refused with EINVAL, the others still go out', { skip }, async (t) => {
  const { native } = await import('../../src/io/native.js')
  const { PacketBatch } = await import('../../src/io/packet-batch.js')
  const addon = native()
  const b = new PacketBatch(2)
  const p = tcp4({ payload: pattern(10) })
  b.bytes.set(p, b.offsets[0]!)
  b.lengths[0] = p.length
  b.offsets[1] = b.buffer.byteLength - 4
  b.lengths[1] = 100
  const h = addon.batchRegister(b.buffer, b.slotSize, b.headroom, b.offsets, b.lengths, b.addrs, b.ports, b.status)
  const out = new Uint8Array(4096)
  t.equal(addon.offloadCoalesce(addon.tunOffloadCreate(), h, 2, 1, out), 2)
  t.same(Array.from(b.status), [0, 22])
  t.equal(addon.offloadCoalesce(addon.tunOffloadCreate(), h, 2, 1, new Uint8Array(8)), -28, 'ENOSPC when out is too small')
})
