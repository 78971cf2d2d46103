import t from 'tap'
import { memoryPair, settle, until } from '../helpers/memory-pair.js'
import { ip, udpPacket } from '../helpers/packets.js'
import { PacketBatch } from '../../src/io/packet-batch.js'

t.test('over VXLAN a packet reaches the peer pod, and the UDP payload carries VXLAN + Ethernet', async (t) => {
  const { a, b, stop } = memoryPair({ encapsulation: 'vxlan', startB: false })
  t.teardown(stop)
  t.equal(a.engine.mtu, 1450, 'MTU = 1500 - 50')
  const p = udpPacket('10.244.1.2', '10.244.2.3', 1, 2, Buffer.from('vx'))
  a.device.inject(p)
  await until(() => b.bind.queued === 1)
  const batch = new PacketBatch(2)
  b.bind.read(batch)
  t.equal(batch.ports[0], 8472)
  const f = batch.bytes.subarray(batch.offsets[0]!, batch.offsets[0]! + batch.lengths[0]!)
  t.equal(f.length, 22 + p.length)
  t.same([...f.subarray(0, 8)], [8, 0, 0, 0, 0, 0, 1, 0])
  t.equal(Buffer.from(f.subarray(8, 14)).toString('hex'), b.engine.vtepMac.replace(/:/g, ''))
  t.equal(Buffer.from(f.subarray(14, 20)).toString('hex'), a.engine.vtepMac.replace(/:/g, ''))
})

t.test('VXLAN forwarding both ways end to end on the in-memory pair', async (t) => {
  const { a, b, stop } = memoryPair({ encapsulation: 'vxlan' })
  t.teardown(stop)
  for (let i = 0; i < 100; i++) a.device.inject(udpPacket('10.244.1.2', '10.244.2.3', 1, 2, new Uint8Array(1000)))
  b.device.inject(udpPacket('10.244.2.3', '10.244.1.2', 1, 2, new Uint8Array(10)))
  await until(() => b.device.written.length === 100 && a.device.written.length === 1)
  t.equal(b.device.written[0]!.length, 1028, 'the inner packet, without VXLAN/Ethernet')
})

t.test('VTEP MACs are locally administered unicast and stable for the same address and subnet', async (t) => {
  const one = memoryPair({ encapsulation: 'vxlan' })
  const two = memoryPair({ encapsulation: 'vxlan' })
  t.teardown(async () => { await one.stop(); await two.stop() })
  const first = parseInt(one.a.engine.vtepMac.slice(0, 2), 16)
  t.equal(first & 0x03, 0x02)
  t.equal(one.a.engine.vtepMac, two.a.engine.vtepMac)
  t.not(one.a.engine.vtepMac, one.b.engine.vtepMac)
})

t.test('a VXLAN peer without a VtepMAC is refused with a clear error', async (t) => {
  const { a, stop } = memoryPair({ encapsulation: 'vxlan' })
  t.teardown(stop)
  t.throws(() => a.engine.addPeer({ publicIp: '198.18.0.9', subnet: '10.244.9.0/24' }), { code: 'TARTAN_ERR_INVALID_ARGUMENT', message: /vtepMac/ })
})

t.test('an ARP request from a peer for our tunnel address is answered to the peer\'s VXLAN port', async (t) => {
  const { a, b, stop } = memoryPair({ encapsulation: 'vxlan', startB: false })
  t.teardown(stop)
  const arp = Buffer.from('0800000000000100' + 'ffffffffffff' + '0abbccddeeff' + '0806' +
    '0001080006040001' + '0abbccddeeff' + '0af40200' + '000000000000' + '0af40100', 'hex')
  a.bind.deliver(arp, 0, arp.length, ip('198.18.0.2'), 40000)
  await until(() => b.bind.queued === 1)
  const batch = new PacketBatch(2)
  b.bind.read(batch)
  const f = Buffer.from(batch.bytes.subarray(batch.offsets[0]!, batch.offsets[0]! + batch.lengths[0]!))
  t.equal(f.length, 50)
  t.equal(f.readUInt16BE(20), 0x0806)
  t.equal(f.readUInt16BE(22 + 6), 2, 'an ARP reply')
  t.equal(f.subarray(22 + 8, 22 + 14).toString('hex'), a.engine.vtepMac.replace(/:/g, ''), 'with our MAC')
  t.equal(a.engine.counters().controlReplies, 1)
  await settle()
  t.equal(a.device.written.length, 0, 'nothing written to the TUN')
})

t.test('VXLAN drops are counted per reason beside the UDP path\'s', async (t) => {
  const { b, stop } = memoryPair({ encapsulation: 'vxlan' })
  t.teardown(stop)
  const inner = udpPacket('10.244.1.2', '10.244.2.3', 1, 2, Buffer.from('x'))
  const mk = (hex: string, type = '0800', dst = b.engine.vtepMac.replace(/:/g, '')) =>
    Buffer.concat([Buffer.from(hex + dst + '0a0000000001' + type, 'hex'), inner])
  const A = ip('198.18.0.1')
  const cases: [string, Buffer][] = [
    ['vxlan_wrong_vni', mk('0800000000000200')],
    ['vxlan_wrong_mac', mk('0800000000000100', '0800', '0a0000000099')],
    ['vxlan_not_ipv4', mk('0800000000000100', '86dd')],
    ['vxlan_truncated', Buffer.from('08000000000001', 'hex')],
    ['vxlan_bad_flags', mk('0000000000000100')],
  ]
  for (const [, f] of cases) for (let i = 0; i < 3; i++) b.bind.deliver(f, 0, f.length, A, 8472)
  const unknown = mk('0800000000000100')
  b.bind.deliver(unknown, 0, unknown.length, ip('198.18.0.50'), 8472)
  await until(() => b.engine.counters().drops.vxlan_bad_flags === 3)
  const d = b.engine.counters().drops
  for (const [name] of cases) t.equal(d[name], 3, name)
  t.equal(d.unknown_peer, 1, 'valid VXLAN from an unknown source')
  t.equal(b.device.written.length, 0)
})
