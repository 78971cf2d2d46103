/**
 * Interop with the Linux kernel's own VXLAN, configured the way flannel's vxlan backend configures it: node 1
 * is a kernel vxlan device `flannel.1` (VNI 1, port 8472, nolearning, a permanent neighbour and FDB entry for
 * node 2, an onlink route to node 2's subnet); node 2 is tartan. The kernel is the judge of the wire format.
 */
import t, { type Test } from 'tap'
import { EngineProcess } from '../helpers/engine-process.js'
import { capture } from '../helpers/wire-tools.js'
import { e2eUnavailable } from '../helpers/two-node-suite.js'
import { Topology, configureKernelVxlanHost, listLeftovers, type TopologyNode } from '../../src/topology/index.js'
import { vxlan } from '../../src/encap/vxlan.js'
import { PeerTable } from '../../src/engine/peer-table.js'
import { parseMac } from '../../src/engine/engine.js'
import { ip } from '../helpers/packets.js'
import { tcpTransfer } from '../helpers/transfer.js'

const KERNEL_MAC = '02:00:00:00:01:01'
const TARTAN_MAC = '02:00:00:00:02:02'

const why = e2eUnavailable()
if (why) t.pass(`SKIPPED: ${why}`, { skip: `end-to-end tests ${why}` })
else {
  const topo = await Topology.create({ nodes: 2, podMtu: 1450 })
  t.teardown(() => topo.destroy())
  const [k, n] = topo.nodes as [TopologyNode, TopologyNode]
  await configureKernelVxlanHost(topo, k, KERNEL_MAC, [{ node: n, vtepMac: TARTAN_MAC }])
  // On veth, transmit checksum offload leaves the inner TCP checksum of the kernel's VXLAN frames unfilled
  // (CHECKSUM_PARTIAL travels with the skb to the peer namespace); a real NIC fills it in hardware. Make the
  // kernel node finish checksums in software, as a NIC would, so a userspace receiver sees what a wire carries.
  await topo.execChecked(k.hostNs, ['ethtool', '-K', k.underlayIf, 'tx', 'off'])
  const engine = await EngineProcess.start(topo, n.hostNs, {
    netns: n.netnsPath, tunName: 'tartan0', network: '10.244.0.0/16', subnet: n.subnet, underlayAddress: n.underlayIp,
    encapsulation: 'vxlan', port: 8472, vtepMac: TARTAN_MAC,
    peers: [{ publicIp: k.underlayIp, subnet: k.subnet, port: 8472, vtepMac: KERNEL_MAC }],
  })
  const ping = (from: TopologyNode, to: string, extra: string[] = []) =>
    topo.exec(from.podNs, ['ping', '-c', '3', '-i', '0.2', '-W', '2', ...extra, to], { timeoutMs: 15_000 })

  t.test('ping from the kernel node\'s pod to the tartan node\'s pod and back', async (t) => {
    const a = await ping(k, n.podIp)
    t.equal(a.code, 0, a.stdout + a.stderr)
    const b = await ping(n, k.podIp)
    t.equal(b.code, 0, b.stdout + b.stderr)
  })

  const transfer = async (t: Test, from: TopologyNode, to: TopologyNode, port: number) => {
    const bytes = 64 * 1024 * 1024
    const { sent, received } = await tcpTransfer(topo, from.podNs, to.podNs, to.podIp, port, bytes)
    t.equal(received.bytes, bytes)
    t.equal(received.sha256, sent.sha256, 'SHA-256 matches')
  }
  t.test('64 MiB from the kernel node to the tartan node, SHA-256 checked', (t) => transfer(t, k, n, 6001))
  t.test('64 MiB from the tartan node to the kernel node, SHA-256 checked', (t) => transfer(t, n, k, 6002))

  t.test('tartan builds, byte for byte from the UDP payload on, the frame the kernel builds for the same inner packet', async (t) => {
    const wire = capture(n.hostNs, n.underlayIf, 'udp dst port 8472 and src host 198.18.0.1')
    const r = await ping(k, n.podIp, ['-s', '100', '-p', '5a'])
    t.equal(r.code, 0)
    await new Promise((res) => setTimeout(res, 300))
    wire.stop()
    t.ok(wire.packets.length >= 3, `captured ${wire.packets.length} kernel frames`)
    // tartan configured as the kernel node would be: our MAC = the kernel's, the peer = the tartan node.
    const asKernel = vxlan.create({ vni: 1, vtepMac: parseMac(KERNEL_MAC), tunnelAddr: ip('10.244.1.0') })
    const peers = new PeerTable()
    peers.add({ publicIp: ip(n.underlayIp), port: 8472, subnet: { addr: ip('10.244.2.0'), len: 24 }, vtepMac: parseMac(TARTAN_MAC) })
    for (const p of wire.packets) {
      const f = p.frame
      const udp = 14 + (f[14]! & 15) * 4
      const kernelPayload = f.subarray(udp + 8)
      const inner = kernelPayload.subarray(22)
      const slab = new Uint8Array(64 + inner.length)
      slab.set(inner, 64)
      const start = asKernel.encapsulate(slab, 64, inner.length, peers, 0)
      t.equal(Buffer.from(slab.subarray(start)).toString('hex'), Buffer.from(kernelPayload).toString('hex'))
    }
    t.comment(`kernel frame fixture (UDP payload): ${Buffer.from(wire.packets[0]!.frame.subarray(42)).toString('hex')}`)
  })

  t.test('the outer UDP source port follows a hash of the inner flow: flows spread, each keeps one port', async (t) => {
    const wire = capture(k.hostNs, k.underlayIf, 'udp dst port 8472 and src host 198.18.0.2')
    // 16 UDP flows (source ports 20000..20015) from the tartan node's pod to the kernel node's pod.
    const script = `const d=require('dgram');let n=0;for(let i=0;i<16;i++){const s=d.createSocket('udp4');` +
      `s.bind(20000+i,()=>{let k=0;const f=()=>s.send('flow',9999,'${k.podIp}',()=>{if(++k<3)f();else{s.close();if(++n===16)process.exit(0)}});f()})}`
    const r = await topo.exec(n.podNs, [process.execPath, '-e', script], { timeoutMs: 10_000 })
    t.equal(r.code, 0, r.stderr)
    await new Promise((res) => setTimeout(res, 300))
    wire.stop()
    const byFlow = new Map<number, Set<number>>()
    for (const p of wire.packets) {
      const f = p.frame
      const udp = 14 + (f[14]! & 15) * 4
      const sport = f.readUInt16BE(udp)
      // With UDP GSO a captured frame on veth can hold several datagrams (VXLAN frames) back to back.
      for (let vx = udp + 8; vx + 22 + 20 <= f.length; vx += 22 + f.readUInt16BE(vx + 22 + 2)) {
        const inner = vx + 22
        if (f[inner + 9] !== 17) continue
        const innerSport = f.readUInt16BE(inner + 20)
        if (innerSport < 20000 || innerSport >= 20016) continue
        if (!byFlow.has(innerSport)) byFlow.set(innerSport, new Set())
        byFlow.get(innerSport)!.add(sport)
      }
    }
    t.equal(byFlow.size, 16, 'every flow seen on the wire')
    t.ok([...byFlow.values()].every((ports) => ports.size === 1), 'each flow leaves from one source port')
    const distinct = new Set([...byFlow.values()].map((ports) => [...ports][0]))
    t.ok(distinct.size >= 3, `16 flows used ${distinct.size} source ports`)
  })

  t.test('without a static neighbour entry the kernel ARPs over VXLAN and tartan answers', async (t) => {
    const before = (await engine.counters()).counters.controlReplies
    await topo.ip(k.hostNs, ['neigh', 'del', n.subnetAddress, 'dev', 'flannel.1'])
    // Broadcasts (the ARP request) go to the all-zeros FDB entry's destination.
    await topo.execChecked(k.hostNs, ['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'flannel.1', 'dst', n.underlayIp, 'self', 'permanent'])
    const r = await ping(k, n.podIp)
    t.equal(r.code, 0, r.stdout + r.stderr)
    const neigh = await topo.execChecked(k.hostNs, ['ip', 'neigh', 'show', n.subnetAddress, 'dev', 'flannel.1'])
    t.match(neigh, new RegExp(`lladdr ${TARTAN_MAC}`), 'the kernel learned tartan\'s MAC from the ARP reply')
    const after = (await engine.counters()).counters.controlReplies
    t.ok(after > before, `tartan answered ${after - before} ARP request(s)`)
  })

  t.test('the tartan node saw no drops from the kernel node', async (t) => {
    const { counters } = await engine.counters()
    const bad = Object.entries(counters.drops as Record<string, number>).filter(([, v]) => v > 0)
    t.same(bad, [])
  })

  t.test('teardown leaves no namespaces behind', async (t) => {
    t.equal(await engine.stop(), 0)
    await topo.destroy()
    t.same(await listLeftovers(topo.prefix), [])
  })
}
