import { readFileSync } from 'node:fs'
import t from 'tap'
import { formatCidr } from '../../src/config/cidr.js'
import { parseNetworkConfig } from '../../src/config/network-config.js'
import {
  decodeLeaseValue,
  decodeVxlanBackendData,
  encodeLeaseValue,
  leaseAttrsFor,
  leaseMatchesBackend,
  parseSubnetKey,
  subnetKey,
} from '../../src/lease/lease-codec.js'

const fixture = (name: string) => readFileSync(new URL(`../fixtures/flannel/${name}`, import.meta.url), 'utf8')
const PREFIX = '/coreos.com/network/subnets/'

const udpConfig = parseNetworkConfig({ Network: '10.244.0.0/16', Backend: { Type: 'udp' } })
const vxlanConfig = parseNetworkConfig({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } })

t.test('a udp lease is byte for byte what flannel writes: PublicIP, PublicIPv6 null, nothing else', async (t) => {
  const attrs = leaseAttrsFor(udpConfig, '198.18.0.7')
  t.equal(encodeLeaseValue(attrs), fixture('lease-udp.json'))
  t.equal(PREFIX + subnetKey({ addr: 0x0af40700, len: 24 }), fixture('lease-udp.key'))
})

t.test('a vxlan lease is byte for byte what flannel writes', async (t) => {
  const attrs = leaseAttrsFor(vxlanConfig, '198.18.0.8', '0E-5A-44-C3-1F-08')
  t.equal(encodeLeaseValue(attrs), fixture('lease-vxlan.json'), 'MAC normalised to lower-case colons')
  t.equal(PREFIX + subnetKey({ addr: 0x0af40800, len: 24 }), fixture('lease-vxlan.key'))
})

t.test('flannel values decode', async (t) => {
  const udp = decodeLeaseValue(fixture('lease-udp.json'))
  t.same(udp, { ok: true, value: { publicIp: '198.18.0.7', publicIpv6: null, backendType: '' } })
  const vx = decodeLeaseValue(fixture('lease-vxlan.json'))
  t.ok(vx.ok)
  if (vx.ok) {
    t.equal(vx.value.backendType, 'vxlan')
    t.same(decodeVxlanBackendData(vx.value.backendData), { ok: true, value: { vni: 1, vtepMac: '0e:5a:44:c3:1f:08' } })
    t.equal(encodeLeaseValue(vx.value), fixture('lease-vxlan.json'), 're-encodes to the same bytes')
  }
  const ds = decodeLeaseValue(fixture('lease-dualstack.json'))
  t.ok(ds.ok)
  if (ds.ok) {
    t.equal(ds.value.publicIpv6, '2001:db8::9')
    t.equal(encodeLeaseValue(ds.value), fixture('lease-dualstack.json'))
  }
  const old = decodeLeaseValue(fixture('lease-no-ipv6-field.json'))
  t.ok(old.ok, 'a value without PublicIPv6 (older flannel) reads')
  const hg = decodeLeaseValue(fixture('lease-hostgw.json'))
  t.ok(hg.ok && hg.value.backendType === 'host-gw')
  t.ok(decodeLeaseValue('{"PublicIP":"198.18.0.1","Future":{"x":1}}').ok, 'unknown fields are ignored, as Go does')
})

t.test('flannel keys parse, including dual-stack keys', async (t) => {
  const k = parseSubnetKey(fixture('lease-udp.key').slice(PREFIX.length))
  t.ok(k.ok && formatCidr(k.value.subnet) === '10.244.7.0/24')
  const ds = parseSubnetKey(fixture('lease-dualstack.key').slice(PREFIX.length))
  t.ok(ds.ok && formatCidr(ds.value.subnet) === '10.244.9.0/24')
  if (ds.ok) t.equal(ds.value.key, '10.244.9.0-24&fc00:0:0:9::-64', 'the exact key is kept for writes')
})

t.test('garbage keys and values are decode errors with a reason, not exceptions', async (t) => {
  for (const key of ['', 'junk', '10.244.7.0', '10.244.7.0-', '10.244.7.1-24', '10.244.7.0-33', '999.1.1.0-24', '10.244.7.0-24/x', '10.244.7.0-24&zz-64']) {
    const r = parseSubnetKey(key)
    t.equal(r.ok, false, `key ${JSON.stringify(key)}`)
  }
  for (const value of ['', 'null', '[]', '"str"', '{', '{}', '{"PublicIP":null}', '{"PublicIP":"1.2.3"}', '{"PublicIP":"198.18.0.1","PublicIPv6":"nope"}', '{"PublicIP":"198.18.0.1","BackendType":7}']) {
    const r = decodeLeaseValue(value)
    t.equal(r.ok, false, `value ${JSON.stringify(value)}`)
    if (!r.ok) t.type(r.reason, 'string')
  }
  t.equal(decodeVxlanBackendData(null).ok, false)
  t.equal(decodeVxlanBackendData({ VNI: 1 }).ok, false)
  t.equal(decodeVxlanBackendData({ VNI: -1, VtepMAC: '0e:5a:44:c3:1f:08' }).ok, false)
  t.equal(decodeVxlanBackendData({ VNI: 1, VtepMAC: '0e:5a:44:c3:1f' }).ok, false)
})

t.test('backend matching: udp accepts flannel udp leases (no BackendType); others must match by name', async (t) => {
  const udp = { publicIp: '198.18.0.1', publicIpv6: null, backendType: '' }
  t.ok(leaseMatchesBackend(udp, 'udp'))
  t.ok(leaseMatchesBackend({ ...udp, backendType: 'udp' }, 'udp'))
  t.notOk(leaseMatchesBackend({ ...udp, backendType: 'vxlan' }, 'udp'))
  t.notOk(leaseMatchesBackend(udp, 'vxlan'))
  t.ok(leaseMatchesBackend({ ...udp, backendType: 'vxlan' }, 'vxlan'))
  t.notOk(leaseMatchesBackend({ ...udp, backendType: 'host-gw' }, 'vxlan'))
})

t.test('leaseAttrsFor checks its inputs', async (t) => {
  t.throws(() => leaseAttrsFor(udpConfig, '198.18.0'), { code: 'TARTAN_ERR_INVALID_ARGUMENT' })
  t.throws(() => leaseAttrsFor(vxlanConfig, '198.18.0.1'), { code: 'TARTAN_ERR_INVALID_ARGUMENT' }, 'vxlan needs a MAC')
  t.throws(() => leaseAttrsFor(vxlanConfig, '198.18.0.1', 'zz'), { code: 'TARTAN_ERR_INVALID_ARGUMENT' })
})
