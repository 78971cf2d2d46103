import t from 'tap'
import { Engine, type PeerUnreachable } from '../../src/engine/engine.js'
import { MemoryDevice, MemoryNetwork } from '../../src/io/memory.js'
import type { PacketBatch } from '../../src/io/packet-batch.js'
import { settle, until } from '../helpers/memory-pair.js'
import { ip, udpPacket } from '../helpers/packets.js'

const ENETUNREACH = 101

/** A node at 198.18.0.1 whose socket refuses every datagram to 198.19.0.9 with ENETUNREACH, as sendmmsg
 * does when the kernel has no route to the address. */
function node() {
  const net = new MemoryNetwork()
  const bind = net.bind(ip('198.18.0.1'), 8285)
  net.bind(ip('198.18.0.2'), 8285)
  const send = bind.send.bind(bind)
  bind.send = (batch: PacketBatch, start: number): number => {
    const next = send(batch, start)
    for (let i = start; i < next; i++) if (batch.addrs[i] === ip('198.19.0.9')) batch.status[i] = ENETUNREACH
    return next
  }
  const device = new MemoryDevice()
  const engine = new Engine(device, bind, { network: '10.244.0.0/16', subnet: '10.244.1.0/24' })
  engine.addPeer({ publicIp: '198.18.0.2', subnet: '10.244.2.0/24' })
  engine.addPeer({ publicIp: '198.19.0.9', subnet: '10.244.9.0/24' })
  engine.start()
  return { engine, device }
}

t.test('refused sends are counted per peer and reported as one peer-unreachable event per peer per second', async (t) => {
  const { engine, device } = node()
  t.teardown(() => engine.stop())
  const events: PeerUnreachable[] = []
  engine.on('peer-unreachable', (e) => events.push(e))
  for (let i = 0; i < 5; i++) device.inject(udpPacket('10.244.1.2', '10.244.9.2', 1, 2, new Uint8Array(10)))
  device.inject(udpPacket('10.244.1.2', '10.244.2.2', 1, 2, new Uint8Array(10)))
  await until(() => events.length === 1)
  t.same(events[0], {
    publicIp: '198.19.0.9', subnet: '10.244.9.0/24', errno: ENETUNREACH, error: 'ENETUNREACH (network unreachable)', failed: 5, txErrors: 5,
  })
  const peers = engine.peers()
  t.equal(peers.find((p) => p.publicIp === '198.19.0.9')!.txErrors, 5)
  t.equal(peers.find((p) => p.publicIp === '198.18.0.2')!.txErrors, 0, 'the reachable peer has none')
  t.equal(engine.counters().drops.tx_error, 5)

  // More failures within the second: counted, not reported again yet.
  await new Promise((r) => setTimeout(r, 150))
  for (let i = 0; i < 3; i++) device.inject(udpPacket('10.244.1.2', '10.244.9.2', 1, 2, new Uint8Array(10)))
  await until(() => engine.counters().drops.tx_error === 8)
  await settle()
  t.equal(events.length, 1, 'rate limited')
  // After a second, the next failure reports everything since the last event.
  await new Promise((r) => setTimeout(r, 1000))
  device.inject(udpPacket('10.244.1.2', '10.244.9.2', 1, 2, new Uint8Array(10)))
  await until(() => events.length === 2)
  t.equal(events[1]!.failed, 4)
  t.equal(events[1]!.txErrors, 9)
})

t.test('without listeners nothing is reported, but the counters still count', async (t) => {
  const { engine, device } = node()
  t.teardown(() => engine.stop())
  device.inject(udpPacket('10.244.1.2', '10.244.9.2', 1, 2, new Uint8Array(10)))
  await until(() => engine.counters().drops.tx_error === 1)
  t.equal(engine.peers().find((p) => p.publicIp === '198.19.0.9')!.txErrors, 1)
})

t.test('a peer re-added at a reused index starts with clean error counters', async (t) => {
  const { engine, device } = node()
  t.teardown(() => engine.stop())
  device.inject(udpPacket('10.244.1.2', '10.244.9.2', 1, 2, new Uint8Array(10)))
  await until(() => engine.counters().drops.tx_error === 1)
  engine.removePeer('10.244.9.0/24')
  engine.addPeer({ publicIp: '198.19.0.9', subnet: '10.244.9.0/24' })
  t.equal(engine.peers().find((p) => p.publicIp === '198.19.0.9')!.txErrors, 0)
})

t.test('the batch-size histograms carry the packet sums', async (t) => {
  const { engine, device } = node()
  t.teardown(() => engine.stop())
  for (let i = 0; i < 7; i++) device.inject(udpPacket('10.244.1.2', '10.244.2.2', 1, 2, new Uint8Array(10)))
  await until(() => engine.counters().tunBatches.packets === 7)
  t.equal(engine.counters().txPackets, 7)
})
