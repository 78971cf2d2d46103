// Packets through a real TUN device and a real UDP socket in one namespace: the TUN holds 10.244.1.0/16,
// a UdpBind listens on 10.244.1.0:8285, and the test plays the remote pod 10.244.2.5:40000 on the TUN side.
import t, { type Test } from 'tap'
import { PacketBatch } from '../../src/io/packet-batch.js'
import { TunDevice } from '../../src/io/tun-device.js'
import { UdpBind } from '../../src/io/udp-bind.js'
import { checksum, ip, ipv4Udp, makeNetns, nativeSkipReason, sleep, within } from './fixtures/native-env.js'

const skip = nativeSkipReason()
const LOCAL = '10.244.1.0'
const REMOTE = '10.244.2.5'
const REMOTE_PORT = 40000
const PORT = 8285

interface Rig {
  tun: TunDevice
  udp: UdpBind
}

function rig(t: Test): Rig {
  const ns = makeNetns(t)
  const tun = TunDevice.open({ name: 'tt0', mtu: 1400, address: LOCAL, prefixLen: 16, netns: ns })
  t.teardown(() => tun.close())
  const udp = UdpBind.open({ address: LOCAL, port: PORT, netns: ns })
  t.teardown(() => udp.close())
  return { tun, udp }
}

/** Waits until `dev` reports readable (then stops watching). */
function readable(dev: { onReadable(h: (() => void) | null): void }, what: string): Promise<void> {
  return within<void>(2000, what, (done) => dev.onReadable(() => {
    dev.onReadable(null)
    done()
  }))
}

function payloadOf(i: number, len = 100): Uint8Array {
  const p = new Uint8Array(len)
  for (let k = 0; k < len; k++) p[k] = (i * 7 + k) & 255
  return p
}

/** Packets in batch [0, count) that are IPv4/UDP to REMOTE (the kernel may also emit IPv6 chatter). */
function udpToRemote(b: PacketBatch): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let i = 0; i < b.count; i++) {
    const p = b.bytes.subarray(b.offsets[i], b.offsets[i]! + b.lengths[i]!)
    if (p.length >= 28 && p[0] === 0x45 && p[9] === 17 && new DataView(p.buffer, p.byteOffset).getUint32(16) === ip(REMOTE)) out.push(p)
  }
  return out
}

t.test('a packet written to the TUN arrives on the UdpBind with its sender in host order', { skip }, async (t) => {
  const { tun, udp } = rig(t)
  const tx = new PacketBatch(4)
  const pkt = ipv4Udp(REMOTE, LOCAL, REMOTE_PORT, PORT, payloadOf(1))
  tx.bytes.set(pkt, tx.offsets[0])
  tx.lengths[0] = pkt.length
  tx.count = 1
  tx.status[0] = -1
  const wait = readable(udp, 'the UDP socket')
  t.equal(tun.write(tx), 1)
  t.equal(tx.status[0], 0)
  await wait

  const rx = new PacketBatch(8)
  t.equal(udp.read(rx), 1)
  t.equal(rx.count, 1)
  t.equal(rx.addrs[0], ip(REMOTE))
  t.equal(rx.ports[0], REMOTE_PORT)
  t.equal(rx.offsets[0], rx.headroom, 'slot 0 at headroom')
  t.same(rx.bytes.subarray(rx.offsets[0], rx.offsets[0]! + rx.lengths[0]!), payloadOf(1))
  t.equal(udp.read(rx), 0, 'nothing more')
})

t.test('a datagram sent by the UdpBind comes out of the TUN as the expected IPv4/UDP packet', { skip }, async (t) => {
  const { tun, udp } = rig(t)
  const tx = new PacketBatch(4)
  const payload = payloadOf(2, 37)
  tx.push(tx.slotBase(0) + tx.headroom, payload.length, ip(REMOTE), REMOTE_PORT)
  tx.bytes.set(payload, tx.offsets[0])
  const wait = readable(tun, 'the TUN device')
  t.equal(udp.send(tx, 0), 1)
  t.equal(tx.status[0], 0)
  await wait

  const rx = new PacketBatch(16)
  t.ok(tun.read(rx) > 0)
  const [p] = udpToRemote(rx)
  t.ok(p, 'an IPv4/UDP packet to 10.244.2.5')
  const v = new DataView(p!.buffer, p!.byteOffset, p!.length)
  t.equal(v.getUint16(2), 20 + 8 + payload.length, 'total length')
  t.equal(v.getUint32(12), ip(LOCAL), 'source')
  t.equal(checksum(p!.subarray(0, 20)), 0, 'header checksum verifies')
  t.equal(v.getUint16(20), PORT, 'source port')
  t.equal(v.getUint16(22), REMOTE_PORT, 'destination port')
  t.same(p!.subarray(28), payload)
})

t.test('a batch of 64 crosses each way in one call', { skip }, async (t) => {
  const { tun, udp } = rig(t)

  // TUN -> UDP: one tunWrite of 64 packets, one udpRecv of 64 datagrams.
  const tx = new PacketBatch(64)
  for (let i = 0; i < 64; i++) {
    const pkt = ipv4Udp(REMOTE, LOCAL, REMOTE_PORT, PORT, payloadOf(i, 64 + i))
    tx.push(tx.slotBase(i) + tx.headroom, pkt.length, 0, 0)
    tx.bytes.set(pkt, tx.offsets[i])
  }
  const wait = readable(udp, 'the UDP socket')
  t.equal(tun.write(tx), 64)
  t.same([...tx.status], new Array(64).fill(0))
  await wait
  await sleep(20)
  const rx = new PacketBatch(64)
  t.equal(udp.read(rx), 64, 'one udpRecv call returns all 64')
  let ok = 0
  for (let i = 0; i < 64; i++) {
    const got = rx.bytes.subarray(rx.offsets[i], rx.offsets[i]! + rx.lengths[i]!)
    if (rx.addrs[i] === ip(REMOTE) && rx.ports[i] === REMOTE_PORT && Buffer.from(got).equals(payloadOf(i, 64 + i))) ok++
  }
  t.equal(ok, 64, 'every datagram in order with the right sender and payload')

  // UDP -> TUN: one udpSend of 64 datagrams, one tunRead.
  const out = new PacketBatch(64)
  for (let i = 0; i < 64; i++) {
    const payload = payloadOf(100 + i, 50)
    out.push(out.slotBase(i) + out.headroom, payload.length, ip(REMOTE), REMOTE_PORT)
    out.bytes.set(payload, out.offsets[i])
  }
  const waitTun = readable(tun, 'the TUN device')
  t.equal(udp.send(out, 0), 64)
  t.same([...out.status], new Array(64).fill(0))
  await waitTun
  await sleep(20)
  const back = new PacketBatch(128)
  t.ok(tun.read(back) >= 64, 'one tunRead call')
  const pkts = udpToRemote(back)
  t.equal(pkts.length, 64)
  t.ok(pkts.every((p, i) => Buffer.from(p.subarray(28)).equals(payloadOf(100 + i, 50))), 'payloads in order')
})

t.test('tunWrite reports a packet outside the slab as EINVAL and still writes the others', { skip }, async (t) => {
  const { tun, udp } = rig(t)
  const tx = new PacketBatch(4)
  const pkt = ipv4Udp(REMOTE, LOCAL, REMOTE_PORT, PORT, payloadOf(9))
  tx.push(tx.buffer.byteLength - 10, pkt.length, 0, 0) // runs past the end of the slab
  tx.push(tx.slotBase(1) + tx.headroom, pkt.length, 0, 0)
  tx.bytes.set(pkt, tx.offsets[1])
  const wait = readable(udp, 'the UDP socket')
  t.equal(tun.write(tx), 2)
  t.equal(tx.status[0], 22)
  t.equal(tx.status[1], 0)
  await wait
  const rx = new PacketBatch(4)
  t.equal(udp.read(rx), 1)
})
