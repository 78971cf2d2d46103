/**
 * Two engines joined by an in-memory underlay: node A (198.18.0.1, 10.244.1.0/24) and node B (198.18.0.2,
 * 10.244.2.0/24), each knowing the other as a peer. Used by the engine specifications.
 */
import { Engine, type EngineCoreOptions } from '../../src/engine/engine.js'
import { MemoryBind, MemoryDevice, MemoryNetwork } from '../../src/io/memory.js'
import { ip } from './packets.js'

export interface MemoryNode {
  engine: Engine
  device: MemoryDevice
  bind: MemoryBind
}

export function memoryPair(options: Partial<EngineCoreOptions> & { bindQueue?: number; blockWhenFull?: boolean; startB?: boolean } = {}): {
  net: MemoryNetwork; a: MemoryNode; b: MemoryNode; stop: () => Promise<void>
} {
  const net = new MemoryNetwork()
  net.blockWhenFull = options.blockWhenFull ?? false
  const mk = (n: number): MemoryNode => {
    const device = new MemoryDevice(`mem${n}`)
    const port = options.encapsulation === 'vxlan' ? 8472 : 8285
    const bind = net.bind(ip(`198.18.0.${n}`), port, options.bindQueue ?? 4096)
    const { bindQueue: _q, blockWhenFull: _b, startB: _s, ...core } = options
    const engine = new Engine(device, bind, { network: '10.244.0.0/16', subnet: `10.244.${n}.0/24`, ...core })
    return { engine, device, bind }
  }
  const a = mk(1)
  const b = mk(2)
  const port = a.engine.encapsulation.defaultPort
  a.engine.addPeer({ publicIp: '198.18.0.2', subnet: '10.244.2.0/24', port, vtepMac: b.engine.vtepMac })
  b.engine.addPeer({ publicIp: '198.18.0.1', subnet: '10.244.1.0/24', port, vtepMac: a.engine.vtepMac })
  a.engine.start()
  if (options.startB !== false) b.engine.start()
  return { net, a, b, stop: async () => { await a.engine.stop(); await b.engine.stop() } }
}

/** Resolves once cond() holds, polling every event-loop turn; rejects after `ms`. */
export async function until(cond: () => boolean, ms = 2000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setImmediate(r))
  }
}

/** Lets the event loop run `turns` times (so pending readiness callbacks fire). */
export async function settle(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r))
}
