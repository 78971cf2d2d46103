/**
 * Embedding tartan's engine: an agent that manages peers and routes itself, with no lease store.
 *
 * It creates an engine (TUN device, local subnet, VXLAN, underlay address), adds two peers, sends one
 * datagram towards each peer's subnet through the kernel (pod traffic would arrive the same way), reads
 * the per-peer counters, hears about the peer it cannot reach, removes the peers and stops. Each step
 * prints one JSON line.
 *
 * Run it as root inside a scratch network namespace that has the underlay address (docs/api.md shows
 * the commands), never in your host's own namespace:
 *
 *   ip netns exec tartan-example node --import tsx examples/embed.ts [underlay-address]
 */
import { createSocket } from 'node:dgram'
import { Engine, type PeerUnreachable } from '../src/index.js' // in your project: from 'tartan'

const underlay = process.argv[2] ?? '198.18.0.1'
const say = (obj: object): void => console.log(JSON.stringify(obj))

// 1. Create the engine: a TUN device 'tartan-ex0' with 10.244.1.0/16 (MTU 1450), a UDP socket on the
//    underlay address, port 8472. It does not forward until start().
const engine = await Engine.create({
  tunName: 'tartan-ex0',
  network: '10.244.0.0/16',
  subnet: '10.244.1.0/24',
  encapsulation: 'vxlan',
  underlayAddress: underlay,
})
say({ step: 'created', tun: engine.device.name, mtu: engine.mtu, vtepMac: engine.vtepMac })

// 2. Events: drops (sampled, at most every 100 ms) and peers whose sends fail (at most once a second each).
const unreachable = new Promise<PeerUnreachable>((resolve) => engine.once('peer-unreachable', resolve))
engine.on('drops', (drops) => say({ step: 'drops', nonzero: Object.fromEntries(Object.entries(drops).filter(([, n]) => n > 0)) }))

// 3. Peers: a reachable one on the underlay, and one whose address this host has no route to.
engine.start()
engine.updatePeers({
  add: [
    { publicIp: '198.18.0.2', subnet: '10.244.2.0/24', vtepMac: '02:00:00:00:02:02' },
    { publicIp: '198.19.255.1', subnet: '10.244.9.0/24', vtepMac: '02:00:00:00:09:09' },
  ],
  remove: [],
})
say({ step: 'peers', peers: engine.peers().map((p) => `${p.subnet} via ${p.publicIp}`), routes: engine.routeCount })

// 4. Traffic: the kernel routes 10.244.0.0/16 into the TUN device; the engine encapsulates it to the peer.
const sock = createSocket('udp4')
for (const dst of ['10.244.2.2', '10.244.9.2']) {
  await new Promise<void>((resolve, reject) => sock.send('hello from an embedded tartan', 9, dst, (e) => (e ? reject(e) : resolve())))
}
const event = await Promise.race([unreachable, new Promise<null>((r) => setTimeout(() => r(null), 3000))])
say({ step: 'peer-unreachable', event })
say({
  step: 'counters',
  txPackets: engine.counters().txPackets,
  peers: engine.peers().map((p) => ({ peer: p.publicIp, txPackets: p.txPackets, txErrors: p.txErrors })),
})

// 5. Withdraw the unreachable peer, then stop: the TUN device disappears with the engine.
say({ step: 'removed', removed: engine.removePeer('10.244.9.0/24'), routes: engine.routeCount })
sock.close()
await engine.stop()
say({ step: 'stopped' })
