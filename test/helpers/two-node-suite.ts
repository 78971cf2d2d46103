/**
 * The two-node end-to-end specification, run per encapsulation: as root, in network namespaces, two hosts
 * on an underlay bridge (198.18.0.1, 198.18.0.2), each with a pod behind cni0 (10.244.1.2, 10.244.2.2), and a
 * tartan engine per host configured through the API.
 */
import { createRequire } from 'node:module'
import type { Test } from 'tap'
import { Topology, canCreateTopology, listLeftovers } from '../../src/topology/index.js'
import { nativeAvailable } from '../../src/io/native.js'
import { EngineProcess } from './engine-process.js'
import { capture, rawIpv4Sender } from './wire-tools.js'
import { tcpTransfer } from './transfer.js'
import { ipv4, refChecksum, udpPacket } from './packets.js'

/** Why end-to-end tests cannot run here (null when they can). */
export function e2eUnavailable(): string | null {
  return canCreateTopology() ?? (nativeAvailable() ? null : 'the native addon is not built (npm install)') ?? captureUnavailable()
}

/** The `cap` capture module is an optional dependency (it needs libpcap-dev to build): without it outside CI
 * the end-to-end tests skip and say how to get it; in CI (CI=true) they run and fail loudly instead. */
function captureUnavailable(): string | null {
  if (process.env.CI === 'true') return null
  try {
    createRequire(import.meta.url)('cap')
    return null
  } catch {
    return 'needs the cap module: apt-get install libpcap-dev, then npm rebuild cap'
  }
}

export interface SuiteOptions {
  encapsulation: 'flannel-udp' | 'vxlan'
  port: number
  overhead: number
  /** Wraps an inner IPv4 packet into the UDP payload node 2 expects from node 1. */
  wrap: (inner: Uint8Array) => Uint8Array
  /** Extra crafted payloads for the injection test: [drop reason, UDP payload, outer source]. */
  extraInjections?: [string, Uint8Array, string][]
}

const MAC1 = '02:00:00:00:01:01'
const MAC2 = '02:00:00:00:02:02'
export const SUITE_MACS = { node1: MAC1, node2: MAC2 }

export async function twoNodeSuite(t: Test, o: SuiteOptions): Promise<void> {
  const mtu = 1500 - o.overhead
  const topo = await Topology.create({ nodes: 2, podMtu: mtu })
  t.teardown(() => topo.destroy()) // also when a test fails; destroy() is idempotent
  const [h1, h2] = topo.nodes as [typeof topo.nodes[0], typeof topo.nodes[0]]
  const mac = (n: typeof h1) => (n === h1 ? MAC1 : MAC2)
  const config = (self: typeof h1, peer: typeof h1) => ({
    netns: self.netnsPath, tunName: 'tartan0', network: '10.244.0.0/16', subnet: self.subnet,
    underlayAddress: self.underlayIp, underlayMtu: 1500, encapsulation: o.encapsulation, port: o.port,
    vtepMac: mac(self),
    peers: [{ publicIp: peer.underlayIp, subnet: peer.subnet, port: o.port, vtepMac: mac(peer) }],
  })
  const e1 = await EngineProcess.start(topo, h1.hostNs, config(h1, h2))
  const e2 = await EngineProcess.start(topo, h2.hostNs, config(h2, h1))

  const ping = (from: typeof h1, to: string, extra: string[] = []) =>
    topo.exec(from.podNs, ['ping', '-c', '3', '-i', '0.2', '-W', '2', ...extra, to], { timeoutMs: 15_000 })

  t.test(`the TUN device is configured as flannel configures flannel0 (address, MTU ${mtu}, up)`, async (t) => {
    const j = JSON.parse(await topo.execChecked(h1.hostNs, ['ip', '-j', 'addr', 'show', 'dev', 'tartan0']))[0]
    t.equal(j.mtu, mtu)
    t.ok(j.flags.includes('UP'))
    t.same(j.addr_info.filter((a: any) => a.family === 'inet').map((a: any) => `${a.local}/${a.prefixlen}`), ['10.244.1.0/16'])
  })

  t.test('ping from pod 1 to pod 2 and back', async (t) => {
    const r1 = await ping(h1, h2.podIp)
    t.equal(r1.code, 0, r1.stdout + r1.stderr)
    t.match(r1.stdout, /3 received/)
    const r2 = await ping(h2, h1.podIp)
    t.equal(r2.code, 0, r2.stdout + r2.stderr)
  })

  const transfer = async (t: Test, from: typeof h1, to: typeof h1, port: number) => {
    const bytes = 64 * 1024 * 1024
    const { sent, received } = await tcpTransfer(topo, from.podNs, to.podNs, to.podIp, port, bytes)
    t.equal(sent.bytes, bytes)
    t.equal(received.bytes, bytes)
    t.equal(received.sha256, sent.sha256, 'SHA-256 matches at the far end')
  }

  t.test('a 64 MiB TCP transfer from pod 1 to pod 2 arrives intact', (t) => transfer(t, h1, h2, 5001))
  t.test('a 64 MiB TCP transfer from pod 2 to pod 1 arrives intact', (t) => transfer(t, h2, h1, 5002))

  t.test(`on the underlay, each UDP ${o.port} payload is the encapsulation of the inner packet the pod sent (TTL aside)`, async (t) => {
    const wire = capture(h2.hostNs, h2.underlayIf, `udp dst port ${o.port} and src host 198.18.0.1`)
    const pod = capture(h1.podNs, 'eth0', 'icmp and src host 10.244.1.2')
    const r = await ping(h1, h2.podIp, ['-p', 'c0ffee', '-s', '200'])
    t.equal(r.code, 0)
    await new Promise((res) => setTimeout(res, 300))
    wire.stop()
    pod.stop()
    t.equal(wire.packets.length, 3, 'three datagrams on the wire')
    t.equal(pod.packets.length, 3, 'three echo requests left the pod')
    for (let i = 0; i < 3; i++) {
      const outer = wire.packets[i]!.frame
      const ihl = (outer[14]! & 15) * 4
      const udp = 14 + ihl
      t.equal(outer.readUInt16BE(udp + 2), o.port, `destination port ${o.port}`)
      const udpPayload = outer.subarray(udp + 8)
      t.equal(outer.readUInt16BE(udp + 4), udpPayload.length + 8, 'UDP length covers exactly the payload')
      const inner = pod.packets[i]!.frame.subarray(14)
      const hdr = udpPayload.length - inner.length
      t.same(Buffer.from(udpPayload.subarray(0, hdr)), Buffer.from(o.wrap(new Uint8Array(0))), 'encapsulation header as expected')
      const payload = udpPayload.subarray(hdr)
      t.equal(payload.length, inner.length)
      t.equal(inner[8]! - payload[8]!, 2, 'TTL lower by two: host kernel routing to the TUN, then tartan')
      t.equal(refChecksum(payload.subarray(0, 20)), 0, 'header checksum valid')
      const norm = (b: Buffer) => { const c = Buffer.from(b); c[8] = 0; c.writeUInt16BE(0, 10); return c }
      t.same(norm(payload), norm(Buffer.from(inner)), 'all other bytes identical')
    }
  })

  t.test('crafted datagrams on the underlay: none reaches the pod, each reason counted exactly', async (t) => {
    const COUNT = 5
    const data = Buffer.from('tartan-inject')
    const good = () => udpPacket('10.244.1.2', '10.244.2.2', 4444, 9, data)
    const mutate = (f: (p: Buffer) => void) => { const p = Buffer.from(good()); f(p); return p }
    const w = o.wrap
    const cases: [string, Uint8Array, string][] = [
      ['spoofed_source', w(udpPacket('10.244.3.5', '10.244.2.2', 4444, 9, data)), '198.18.0.1'],
      ['not_local_destination', w(udpPacket('10.244.1.2', '10.244.3.2', 4444, 9, data)), '198.18.0.1'],
      ['unknown_peer', w(good()), '198.18.0.99'],
      ['truncated', w(good().subarray(0, 12)), '198.18.0.1'],
      ['bad_ihl', w(mutate((p) => { p[0] = 0x44 })), '198.18.0.1'],
      ['bad_checksum', w(mutate((p) => { p[11] = p[11]! ^ 0xff })), '198.18.0.1'],
      ['length_mismatch', w(Buffer.concat([good(), Buffer.alloc(3)])), '198.18.0.1'],
      ['ttl_zero', w(ipv4({ src: '10.244.1.2', dst: '10.244.2.2', ttl: 0, payload: data })), '198.18.0.1'],
      ['not_ipv4', w(mutate((p) => { p[0] = 0x65 })), '198.18.0.1'],
      ...(o.extraInjections ?? []),
    ]
    const before = (await e2.counters()).counters
    const podCap = capture(h2.podNs, 'eth0', 'udp dst port 9')
    const sender = rawIpv4Sender(h1.hostNs)
    t.teardown(() => sender.close())
    for (const [, inner, outerSrc] of cases) {
      const outer = udpPacket(outerSrc, h2.underlayIp, o.port, o.port, inner)
      for (let i = 0; i < COUNT; i++) await sender.send(outer, h2.underlayIp)
    }
    await new Promise((res) => setTimeout(res, 500))
    podCap.stop()
    const after = (await e2.counters()).counters
    for (const [reason] of cases) {
      t.equal(after.drops[reason] - before.drops[reason], COUNT, `${reason} rose by exactly ${COUNT}`)
    }
    t.equal(after.rxPackets, before.rxPackets, 'nothing was delivered')
    t.equal(podCap.packets.length, 0, 'the pod saw none of it')
    const r = await ping(h1, h2.podIp)
    t.equal(r.code, 0, 'and the engine keeps forwarding')
  })

  t.test('counters agree with the traffic: per-peer packets both ways, no unexpected drops', async (t) => {
    const { counters, peers } = await e1.counters()
    t.equal(peers.length, 1)
    t.ok(peers[0]!.txPackets > 40_000, `tx ${peers[0]!.txPackets}`)
    t.ok(peers[0]!.rxPackets > 40_000, `rx ${peers[0]!.rxPackets}`)
    t.equal(counters.drops.unknown_peer, 0)
    t.equal(counters.drops.tx_error, 0)
  })

  t.test('the engines stop cleanly on request and the TUN devices disappear', async (t) => {
    t.equal(await e1.stop(), 0)
    t.equal(await e2.stop(), 0)
    const r = await topo.exec(h1.hostNs, ['ip', 'link', 'show', 'dev', 'tartan0'])
    t.not(r.code, 0, 'tartan0 is gone')
  })

  t.test('teardown leaves no namespaces behind', async (t) => {
    await topo.destroy()
    t.same(await listLeftovers(topo.prefix), [])
  })
}

