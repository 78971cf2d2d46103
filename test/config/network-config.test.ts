import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { formatCidr, intToIpv4, parseCidr, prefixesEqual, prefixesOverlap } from '../../src/config/cidr.js'
import { formatNetworkConfig, parseNetworkConfig, subnetFitsConfig } from '../../src/config/network-config.js'
import { TartanError } from '../../src/errors.js'

const fixture = (name: string) => readFileSync(new URL(`../fixtures/flannel/${name}`, import.meta.url), 'utf8')

/** Asserts that parsing throws TARTAN_ERR_INVALID_CONFIG whose message contains every fragment. */
function rejects(t: Test, input: unknown, ...fragments: string[]) {
  try {
    parseNetworkConfig(typeof input === 'string' ? input : JSON.stringify(input))
    t.fail(`accepted ${JSON.stringify(input)}`)
  } catch (err) {
    t.type(err, TartanError)
    t.equal((err as TartanError).code, 'TARTAN_ERR_INVALID_CONFIG')
    for (const f of fragments) t.match((err as Error).message, f, `message names ${f}`)
  }
}

t.test('flannel kube-flannel net-conf.json parses with flannel defaults', async (t) => {
  const c = parseNetworkConfig(fixture('net-conf.json'))
  t.equal(formatCidr(c.network), '10.244.0.0/16')
  t.equal(c.subnetLen, 24, 'a /16 gives each host a /24')
  t.equal(intToIpv4(c.subnetMin), '10.244.1.0', 'the first subnet is skipped')
  t.equal(intToIpv4(c.subnetMax), '10.244.255.0', 'up to the last subnet')
  t.same(c.backend, { type: 'vxlan', port: 8472, vni: 1 })
})

t.test('SubnetLen defaults as flannel: 24 up to /22, else network+2; smaller than /28 is rejected', async (t) => {
  t.equal(parseNetworkConfig({ Network: '10.0.0.0/8' }).subnetLen, 24)
  t.equal(parseNetworkConfig({ Network: '10.244.0.0/22' }).subnetLen, 24)
  t.equal(parseNetworkConfig({ Network: '10.244.0.0/23' }).subnetLen, 25)
  t.equal(parseNetworkConfig({ Network: '10.244.0.0/28' }).subnetLen, 30)
  rejects(t, { Network: '10.244.0.0/29' }, 'Network', '10.244.0.0/29', '/28')
})

t.test('missing Backend means udp on port 8285, as flannel', async (t) => {
  t.same(parseNetworkConfig({ Network: '10.244.0.0/16' }).backend, { type: 'udp', port: 8285 })
  t.same(parseNetworkConfig({ Network: '10.244.0.0/16', Backend: { Type: 'udp', Port: 9000 } }).backend, {
    type: 'udp',
    port: 9000,
  })
})

t.test('vxlan Port, VNI and MTU are honoured; keys match case-insensitively like Go', async (t) => {
  const c = parseNetworkConfig({ network: '10.244.0.0/16', backend: { type: 'vxlan', port: 4789, vni: 42, MTU: 1400 } })
  t.same(c.backend, { type: 'vxlan', port: 4789, vni: 42, mtu: 1400 })
})

t.test('explicit SubnetLen, SubnetMin and SubnetMax', async (t) => {
  const c = parseNetworkConfig({ Network: '10.244.0.0/16', SubnetLen: 26, SubnetMin: '10.244.4.0', SubnetMax: '10.244.8.192' })
  t.equal(c.subnetLen, 26)
  t.equal(intToIpv4(c.subnetMin), '10.244.4.0')
  t.equal(intToIpv4(c.subnetMax), '10.244.8.192')
  t.ok(subnetFitsConfig(c, { addr: c.subnetMin, len: 26 }))
  t.notOk(subnetFitsConfig(c, { addr: c.subnetMin, len: 24 }), 'wrong length')
  t.notOk(subnetFitsConfig(c, { addr: c.subnetMax + 64, len: 26 }), 'above SubnetMax')
})

t.test('invalid configs are errors naming the field and the value', async (t) => {
  rejects(t, 'not json', 'not valid JSON')
  rejects(t, [1], 'JSON object')
  rejects(t, {}, 'Network is required')
  rejects(t, { Network: '10.244.0.0' }, 'Network', '"10.244.0.0"')
  rejects(t, { Network: '10.244.1.0/16' }, 'Network', 'host bits', '10.244.0.0/16')
  rejects(t, { Network: '10.244.0.256/24' }, 'Network')
  rejects(t, { Network: '10.244.0.0/33' }, 'Network', '0..32')
  rejects(t, { Network: 42 }, 'Network', '42')
  rejects(t, { Network: '10.244.0.0/16', SubnetLen: 31 }, 'SubnetLen', '31', 'at most 30')
  rejects(t, { Network: '10.244.0.0/16', SubnetLen: 17 }, 'SubnetLen', '17', 'at least 18')
  rejects(t, { Network: '10.244.0.0/16', SubnetLen: 24.5 }, 'SubnetLen', '24.5')
  rejects(t, { Network: '10.244.0.0/16', SubnetMin: '10.245.0.0' }, 'SubnetMin', '10.245.0.0', 'outside')
  rejects(t, { Network: '10.244.0.0/16', SubnetMin: '10.244.1.7' }, 'SubnetMin', 'boundary', '10.244.1.0')
  rejects(t, { Network: '10.244.0.0/16', SubnetMax: 'ten' }, 'SubnetMax', '"ten"')
  rejects(t, { Network: '10.244.0.0/16', SubnetMin: '10.244.9.0', SubnetMax: '10.244.3.0' }, 'SubnetMin', 'above SubnetMax')
  rejects(t, { Network: '10.244.0.0/16', Backend: { Type: 'host-gw' } }, 'Backend.Type', 'host-gw')
  rejects(t, { Network: '10.244.0.0/16', Backend: {} }, 'Backend.Type', 'null')
  rejects(t, { Network: '10.244.0.0/16', Backend: 'vxlan' }, 'Backend', '"vxlan"')
  rejects(t, { Network: '10.244.0.0/16', Backend: { Type: 'vxlan', VNI: 1 << 24 } }, 'Backend.VNI', '16777216')
  rejects(t, { Network: '10.244.0.0/16', Backend: { Type: 'vxlan', Port: 70000 } }, 'Backend.Port', '70000')
  rejects(t, { Network: '10.244.0.0/16', Backend: { Type: 'udp', VNI: 1 } }, 'Backend.VNI', 'vxlan')
  rejects(t, { Network: '10.244.0.0/16', Backend: { Type: 'vxlan', DirectRouting: true } }, 'Backend.DirectRouting')
  rejects(t, { Network: '10.244.0.0/16', Backend: { Type: 'vxlan', Flavour: 1 } }, 'unknown field', 'Backend.', 'Flavour')
  rejects(t, { Network: '10.244.0.0/16', Netwrok: 'x' }, 'unknown field', 'Netwrok')
  rejects(t, { Network: '10.244.0.0/16', network: '10.245.0.0/16' }, 'both set', 'Network')
  rejects(t, { Network: '10.244.0.0/16', EnableIPv6: true }, 'EnableIPv6')
  rejects(t, { Network: '10.244.0.0/16', EnableIPv4: false }, 'EnableIPv4')
})

t.test('flannel fields tartan can ignore are accepted', async (t) => {
  const c = parseNetworkConfig({
    Network: '10.244.0.0/16',
    EnableIPv4: true,
    EnableIPv6: false,
    EnableNFTables: true,
    IPv6Network: 'fc00::/48',
    Backend: { Type: 'vxlan', GBP: false, DirectRouting: false, Learning: false },
  })
  t.equal(c.backend.type, 'vxlan')
})

t.test('formatNetworkConfig writes flannel JSON that parses back to the same config', async (t) => {
  const c = parseNetworkConfig({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan', VNI: 7 } })
  const text = formatNetworkConfig(c)
  t.equal(
    text,
    '{"Network":"10.244.0.0/16","SubnetLen":24,"SubnetMin":"10.244.1.0","SubnetMax":"10.244.255.0","Backend":{"Type":"vxlan","Port":8472,"VNI":7}}',
  )
  t.same(parseNetworkConfig(text), c)
  const u = parseNetworkConfig({ Network: '10.244.0.0/16' })
  t.same(parseNetworkConfig(formatNetworkConfig(u)), u)
})

t.test('cidr helpers', async (t) => {
  const a = parseCidr('10.244.0.0/16')
  const b = parseCidr('10.244.7.0/24')
  t.ok(a.ok && b.ok)
  if (!a.ok || !b.ok) return
  t.ok(prefixesOverlap(a.net, b.net))
  t.ok(prefixesOverlap(b.net, a.net))
  t.notOk(prefixesOverlap(b.net, { addr: b.net.addr + 256, len: 24 }))
  t.ok(prefixesEqual(b.net, { addr: b.net.addr, len: 24 }))
  t.same(parseCidr('10.244.7.1/24', true), { ok: true, net: b.net }, 'host bits masked when allowed')
  const bad = parseCidr('10.244.7.1/24')
  t.equal(bad.ok, false)
  if (!bad.ok) t.match(bad.reason, 'host bits')
})
