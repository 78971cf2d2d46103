import t from 'tap'
import { defaultRouteInterface, resolveUnderlay } from '../../src/daemon/underlay.js'

// /proc/net/route as the kernel prints it: a default route via eth0 (metric 100) and via eth1 (metric 50).
const ROUTES = [
  'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
  'eth0\t00000000\t010012C6\t0003\t0\t0\t100\t00000000\t0\t0\t0',
  'eth1\t00000000\t010112C6\t0003\t0\t0\t50\t00000000\t0\t0\t0',
  'eth0\t000012C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
  '',
].join('\n')
const ADDRS = new Map([['lo', ['127.0.0.1']], ['eth0', ['198.18.0.5']], ['eth1', ['198.18.1.5', '198.18.1.6']]])

t.test('the default route\'s interface: lowest metric among up default routes', async (t) => {
  t.equal(defaultRouteInterface(ROUTES), 'eth1')
  t.equal(defaultRouteInterface(ROUTES.split('\n').filter((l) => !l.startsWith('eth1')).join('\n')), 'eth0')
  t.equal(defaultRouteInterface('Iface\tDestination\n'), undefined)
})

t.test('--iface by name or address, tried in order; --public-ip is published, the interface address bound', async (t) => {
  t.match(resolveUnderlay({}, ADDRS, ROUTES), { iface: 'eth1', bindAddress: '198.18.1.5', publicIp: '198.18.1.5' })
  t.match(resolveUnderlay({ iface: ['eth0'] }, ADDRS, ROUTES), { iface: 'eth0', bindAddress: '198.18.0.5', publicIp: '198.18.0.5' })
  t.match(resolveUnderlay({ iface: ['198.18.1.6'] }, ADDRS, ROUTES), { iface: 'eth1', bindAddress: '198.18.1.6' })
  t.match(resolveUnderlay({ iface: ['eth9', 'eth0'] }, ADDRS, ROUTES), { iface: 'eth0' }, 'the first that exists')
  t.match(resolveUnderlay({ iface: ['eth0'], publicIp: '203.0.113.7' }, ADDRS, ROUTES), { bindAddress: '198.18.0.5', publicIp: '203.0.113.7' }, 'behind NAT')
  t.match(resolveUnderlay({ publicIp: '198.18.0.5' }, ADDRS, ROUTES), { iface: 'eth0' }, 'without --iface, the interface holding --public-ip')
})

t.test('nothing fits: an error that says what to pass', async (t) => {
  t.throws(() => resolveUnderlay({ iface: ['eth9'] }, ADDRS, ROUTES), {
    code: 'TARTAN_ERR_INVALID_CONFIG', message: 'no interface with an IPv4 address matches --iface eth9 (interfaces with IPv4 here: lo, eth0, eth1)',
  })
  t.throws(() => resolveUnderlay({}, ADDRS, 'Iface\n'), /there is no IPv4 default route; name it with --iface/)
  t.throws(() => resolveUnderlay({ publicIp: 'x' }, ADDRS, ROUTES), /--public-ip "x" is not an IPv4 address/)
})
