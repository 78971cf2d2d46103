/**
 * Micro-benchmarks for the wire layer on the per-packet path: the IPv4 checked wrap (with and without header
 * checksum verification), the RFC 1624 TTL decrement, and RFC 1071 checksums over 20 bytes, 1500 bytes and
 * 64 KiB. Run: node --import tsx bench/micro/wire.bench.ts [--quick]
 */
import Benchmark from 'benchmark'
import { internetChecksum } from '../../src/wire/checksum.js'
import { Ipv4View, decrementTtl, fillIpv4Checksum } from '../../src/wire/ipv4.js'

const quick = process.argv.includes('--quick')
const opts = { minSamples: quick ? 5 : 30, maxTime: quick ? 0.5 : 2 }

const packet = new Uint8Array(1500)
packet[0] = 0x45
packet[2] = 1500 >> 8
packet[3] = 1500 & 255
packet[8] = 64
packet[9] = 17
fillIpv4Checksum(packet, 0)
const big = new Uint8Array(65536).map((_, i) => i & 255)
const view = new Ipv4View()
let sink = 0

new Benchmark.Suite('wire')
  .add('Ipv4View.wrap (no checksum)', () => { sink += view.wrap(packet, 0, 1500, false) }, opts)
  .add('Ipv4View.wrap (verify header checksum)', () => { sink += view.wrap(packet, 0, 1500, true) }, opts)
  .add('decrementTtl (RFC 1624)', () => { packet[8] = 64; decrementTtl(packet, 0) }, opts)
  .add('internetChecksum 20 B', () => { sink += internetChecksum(packet, 0, 20) }, opts)
  .add('internetChecksum 1500 B', () => { sink += internetChecksum(packet, 0, 1500) }, opts)
  .add('internetChecksum 64 KiB', () => { sink += internetChecksum(big, 0, 65536) }, opts)
  .on('cycle', (e: Benchmark.Event) => console.log(String(e.target)))
  .on('complete', function (this: Benchmark.Suite) {
    console.log('\n| operation | ops/s |')
    console.log('|---|---|')
    this.forEach((b: Benchmark) => console.log(`| ${b.name} | ${Math.round(b.hz).toLocaleString('en-US')} |`))
    if (sink === 0.5) console.log(sink) // keep results observable
  })
  .run()
