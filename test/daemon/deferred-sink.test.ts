import t from 'tap'
import { DeferredPeerSink } from '../../src/daemon/deferred-sink.js'
import { Engine } from '../../src/engine/engine.js'
import { MemoryDevice, MemoryNetwork } from '../../src/io/memory.js'
import type { PeerSpec } from '../../src/node/peer-sink.js'
import { ip } from '../helpers/packets.js'

const engine = () => new Engine(new MemoryDevice(), new MemoryNetwork().bind(ip('198.18.0.1'), 8285), { network: '10.244.0.0/16', subnet: '10.244.1.0/24' })
const peer = (n: number, publicIp = `198.18.0.${n}`): PeerSpec => ({ publicIp, subnet: `10.244.${n}.0/24` })

t.test('peers delivered before the engine exists are applied in one update when it is attached', async (t) => {
  const sink = new DeferredPeerSink()
  sink.updatePeers({ add: [peer(2), peer(3)], remove: [] })
  sink.updatePeers({ add: [peer(4)], remove: ['10.244.3.0/24'] })
  const e = engine()
  const calls: unknown[] = []
  const update = e.updatePeers.bind(e)
  e.updatePeers = (c) => { calls.push(c); update(c) }
  sink.attach(e)
  t.same(calls, [{ add: [peer(2), peer(4)], remove: [] }], 'one atomic update with the net result')
  sink.updatePeers({ add: [peer(5)], remove: ['10.244.2.0/24'] })
  t.same(e.peers().map((p) => p.subnet).sort(), ['10.244.4.0/24', '10.244.5.0/24'], 'later changes go straight through')
  sink.detach()
  sink.updatePeers({ add: [peer(6)], remove: [] })
  t.equal(e.peers().length, 2, 'nothing reaches a detached engine')
  t.same(sink.peers().map((p) => p.subnet).sort(), ['10.244.4.0/24', '10.244.5.0/24', '10.244.6.0/24'])
})

t.test('a change the engine refuses is applied entry by entry, reporting what it rejected; nothing throws', async (t) => {
  const rejected: string[] = []
  const sink = new DeferredPeerSink((p, err) => rejected.push(`${typeof p === 'string' ? p : p.subnet}: ${err.message}`))
  const e = engine()
  sink.attach(e)
  sink.updatePeers({ add: [peer(2), peer(3, '198.18.0.2'), peer(4)], remove: [] }) // 3 reuses 2's address
  t.same(e.peers().map((p) => p.subnet).sort(), ['10.244.2.0/24', '10.244.4.0/24'])
  t.same(rejected, ['10.244.3.0/24: a peer with underlay address 198.18.0.2 already exists; remove it first'])
})
