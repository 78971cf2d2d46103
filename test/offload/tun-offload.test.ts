/**
 * A TUN device opened with offloads gets IFF_VNET_HDR with TSO (and USO where the kernel has it) and says
 * so; with offload false it is a plain device. Both carry a packet written to them into the kernel.
 */
import t from 'tap'
import { TunDevice } from '../../src/io/tun-device.js'
import { PacketBatch } from '../../src/io/packet-batch.js'
import { makeNetns, nativeSkipReason } from '../native/fixtures/native-env.js'
import { pattern, udp4 } from './fixtures/offload.js'

const skip = nativeSkipReason()

for (const offload of [true, false]) {
  t.test(`offload ${offload}: features, counters, and a write the kernel takes`, { skip }, async (t) => {
    const ns = makeNetns(t)
    const tun = TunDevice.open({ name: 'to0', mtu: 1400, address: '10.244.1.0', prefixLen: 16, netns: ns, offload })
    t.teardown(() => tun.close())
    const info = tun.offloadInfo()
    t.equal(info.active, offload)
    t.equal(tun.offloads.vnetHdr, offload)
    t.equal(tun.offloads.tso, offload)
    if (offload) t.ok('writes' in info.counters && 'superPackets' in info.counters, 'native counters present')
    else t.same(info.counters, {})
    const b = new PacketBatch(2)
    const p = udp4({ src: '10.244.2.2', dst: '10.244.1.0', payload: pattern(64) })
    b.bytes.set(p, b.offsets[0]!)
    b.lengths[0] = p.length
    b.count = 1
    b.status[0] = -1
    t.equal(tun.write(b), 1)
    t.equal(b.status[0], 0, 'the kernel took the packet')
    if (offload) t.equal(tun.offloadInfo().counters.writes, 1)
  })
}
