import t from 'tap'
import { Topology, applyKernelVxlan, applyVethDirect, canCreateTopology, flannelVtepMac } from '../../src/topology/index.js'

const skip = canCreateTopology() ?? false

t.test('flannel VTEP MACs are locally administered unicast', async (t) => {
  for (let i = 0; i < 64; i++) {
    const mac = flannelVtepMac()
    t.match(mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/)
    const first = parseInt(mac.slice(0, 2), 16)
    if ((first & 0x03) !== 0x02) t.fail(`${mac}: want bit0 = 0 (unicast), bit1 = 1 (local)`)
  }
})

t.test('kernel vxlan as flannel configures it: pods reach each other across nodes', { skip }, async (t) => {
  const topo = await Topology.create({ nodes: 2 })
  t.teardown(() => topo.destroy())
  const hosts = await applyKernelVxlan(topo)
  const [a, b] = topo.nodes
  const details = await topo.ip(a.hostNs, ['-d', 'link', 'show', 'flannel.1'])
  t.match(details, 'mtu 1450', 'MTU = underlay - 50')
  t.match(details, `link/ether ${hosts[0].vtepMac}`)
  t.match(details, /vxlan id 1 local 198\.18\.0\.1 dev eth0 .*dstport 8472 nolearning/)
  t.match(await topo.ip(a.hostNs, ['-4', 'addr', 'show', 'flannel.1']), 'inet 10.244.1.0/32')
  t.match(await topo.ip(a.hostNs, ['route', 'show', '10.244.2.0/24']), '10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink')
  t.match(await topo.ip(a.hostNs, ['neigh', 'show', 'dev', 'flannel.1']), `10.244.2.0 lladdr ${hosts[1].vtepMac} PERMANENT`)
  t.match(
    await topo.execChecked(a.hostNs, ['bridge', 'fdb', 'show', 'dev', 'flannel.1']),
    `${hosts[1].vtepMac} dst 198.18.0.2 self permanent`,
  )
  t.match(await topo.ip(a.podNs, ['link', 'show', 'eth0']), 'mtu 1450', 'pods get the flannel MTU')
  const r = await topo.exec(a.podNs, ['ping', '-c1', '-W1', b.podIp])
  t.equal(r.code, 0, `pod 0 pings pod 1 through flannel.1: ${r.stdout}${r.stderr}`)
  const back = await topo.exec(b.podNs, ['ping', '-c1', '-W1', a.podIp])
  t.equal(back.code, 0, 'and back')
})

t.test('veth-direct routes pod subnets over the underlay without encapsulation', { skip }, async (t) => {
  const topo = await Topology.create({ nodes: 2 })
  t.teardown(() => topo.destroy())
  await applyVethDirect(topo)
  const [a, b] = topo.nodes
  t.match(await topo.ip(a.hostNs, ['route', 'show', b.subnet]), `${b.subnet} via ${b.underlayIp} dev eth0`)
  const r = await topo.exec(a.podNs, ['ping', '-c1', '-W1', b.podIp])
  t.equal(r.code, 0, `pod 0 pings pod 1: ${r.stdout}${r.stderr}`)
})
