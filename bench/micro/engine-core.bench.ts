/**
 * The core's own packet rate on the in-memory pair (no system calls): node A reads a batch from its device,
 * validates, routes, decrements TTL and encapsulates; node B checks every rule of strict decapsulation and
 * writes to its device. One benchmark op moves BURST packets end to end. Run:
 *   node --import tsx bench/micro/engine-core.bench.ts [--quick]
 */
import Benchmark from 'benchmark'
import { Engine } from '../../src/engine/engine.js'
import { MemoryDevice, MemoryNetwork } from '../../src/io/memory.js'
import { getEncapsulation } from '../../src/encap/registry.js'

const BURST = 256
const quick = process.argv.includes('--quick')

function ipv4Packet(size: number): Uint8Array {
  const b = new Uint8Array(size)
  const dv = new DataView(b.buffer)
  b[0] = 0x45
  dv.setUint16(2, size)
  dv.setUint16(6, 0x4000)
  b[8] = 64
  b[9] = 17
  dv.setUint32(12, 0x0af40102) // 10.244.1.2
  dv.setUint32(16, 0x0af40203) // 10.244.2.3
  let s = 0
  for (let i = 0; i < 20; i += 2) s += dv.getUint16(i)
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16)
  dv.setUint16(10, ~s & 0xffff)
  return b
}

function pair(encapsulation: string) {
  const net = new MemoryNetwork()
  const devA = new MemoryDevice('a', 4096)
  const devB = new MemoryDevice('b', 4096)
  devB.discardWrites = true
  const port = getEncapsulation(encapsulation).defaultPort
  const bindA = net.bind(0xc6120001, port, 4096)
  const bindB = net.bind(0xc6120002, port, 4096)
  const a = new Engine(devA, bindA, { network: '10.244.0.0/16', subnet: '10.244.1.0/24', encapsulation, batchSize: 64, budget: 64, vtepMac: '02:00:00:00:00:01' })
  const b = new Engine(devB, bindB, { network: '10.244.0.0/16', subnet: '10.244.2.0/24', encapsulation, batchSize: 64, budget: 64, vtepMac: '02:00:00:00:00:02' })
  a.addPeer({ publicIp: '198.18.0.2', subnet: '10.244.2.0/24', vtepMac: '02:00:00:00:00:02' })
  b.addPeer({ publicIp: '198.18.0.1', subnet: '10.244.1.0/24', vtepMac: '02:00:00:00:00:01' })
  a.start()
  b.start()
  return { a, b, devA, devB }
}

const suite = new Benchmark.Suite('engine core (in-memory pair)')
const results: { name: string; mpps: number; gbps: number }[] = []
for (const encapsulation of ['flannel-udp', 'vxlan']) {
  for (const size of [64, 1400]) {
    const { a, b, devA, devB } = pair(encapsulation)
    const pkt = ipv4Packet(size)
    suite.add(`${encapsulation} ${size}B x${BURST}`, () => {
      for (let i = 0; i < BURST; i++) devA.inject(pkt)
      a.pumpOnce()
      b.pumpOnce()
    }, {
      minSamples: quick ? 5 : 30,
      maxTime: quick ? 0.5 : 3,
      onComplete(this: Benchmark) {
        if (devB.writtenPackets === 0) throw new Error('nothing was delivered')
        const drops = Object.values(b.counters().drops).reduce((x, y) => x + y, 0) + Object.values(a.counters().drops).reduce((x, y) => x + y, 0)
        if (drops !== 0) throw new Error(`${drops} drops in the benchmark`)
        const mpps = (this.hz * BURST) / 1e6
        results.push({ name: `${encapsulation} ${size} B`, mpps, gbps: (mpps * 1e6 * size * 8) / 1e9 })
      },
    })
  }
}
suite
  .on('cycle', (e: Benchmark.Event) => console.log(String(e.target)))
  .on('complete', () => {
    console.log('\n| packet | Mpps (core, one thread) | Gbit/s of inner packets |')
    console.log('|---|---|---|')
    for (const r of results) console.log(`| ${r.name} | ${r.mpps.toFixed(2)} | ${r.gbps.toFixed(1)} |`)
  })
  .run()
