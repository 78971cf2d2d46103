import t from 'tap'
import { defaultRouteInterface, resolveUnderlay, routeInterface } from '../../src/daemon/underlay.js'

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
    code: 'TARTAN_ERR_INVALID_CONFIG',
    message: 'no interface with an IPv4 address matches --iface eth9 (interfaces with IPv4 here: lo 127.0.0.1, eth0 198.18.0.5, eth1 198.18.1.5 198.18.1.6)',
  })
  t.throws(() => resolveUnderlay({}, ADDRS, 'Iface\n'), /there is no IPv4 default route; name it with --iface/)
  t.throws(() => resolveUnderlay({ publicIp: 'x' }, ADDRS, ROUTES), /--public-ip "x" is not an IPv4 address/)
})

// A more specific route: 198.18.2.0/24 via eth0 (metric 0) and 198.18.2.128/25 via eth1 (metric 0).
const MORE = ROUTES.trimEnd() + '\n' + [
  'eth0\t000212C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
  'eth1\t800212C6\t00000000\t0001\t0\t0\t0\t80FFFFFF\t0\t0\t0',
  'eth1\t000312C6\t00000000\t0000\t0\t0\t0\t00FFFFFF\t0\t0\t0', // not up (flags 0): ignored
].join('\n') + '\n'
const ip = (s: string): number => s.split('.').reduce((a, b) => a * 256 + Number(b), 0)

t.test('the route to an address: longest matching prefix among routes that are up, then the lowest metric', async (t) => {
  t.equal(routeInterface(ip('198.18.2.7'), MORE), 'eth0', '/24 beats the defaults')
  t.equal(routeInterface(ip('198.18.2.200'), MORE), 'eth1', '/25 beats /24')
  t.equal(routeInterface(ip('198.18.3.1'), MORE), 'eth1', 'a route that is down is skipped: the lowest-metric default')
  t.equal(routeInterface(ip('198.18.0.9'), MORE), 'eth0', 'the connected /24 of eth0')
  t.equal(routeInterface(ip('198.18.2.7'), 'Iface\n'), undefined)
})

t.test('--iface-regex: each regex in order, against every address first, then every name (as flanneld)', async (t) => {
  t.match(resolveUnderlay({ ifaceRegex: ['^198\\.18\\.1\\.6$'] }, ADDRS, ROUTES), { iface: 'eth1', bindAddress: '198.18.1.6' }, 'an address')
  t.match(resolveUnderlay({ ifaceRegex: ['eth0'] }, ADDRS, ROUTES), { iface: 'eth0', bindAddress: '198.18.0.5' }, 'a name')
  t.match(resolveUnderlay({ ifaceRegex: ['^wlan', 'h1$'] }, ADDRS, ROUTES), { iface: 'eth1', bindAddress: '198.18.1.5' }, 'the first regex that matches')
  t.match(resolveUnderlay({ ifaceRegex: ['198\\.18\\.0'] }, ADDRS, ROUTES), { iface: 'eth0' }, 'unanchored, as Go\'s MatchString')
  t.match(resolveUnderlay({ iface: ['eth1'], ifaceRegex: ['eth0'] }, ADDRS, ROUTES), { iface: 'eth1' }, '--iface goes first')
  t.match(resolveUnderlay({ iface: ['eth9'], ifaceRegex: ['eth0'] }, ADDRS, ROUTES), { iface: 'eth0' }, 'then the regexes')
})

t.test('--iface-can-reach: the interface the routing table uses for that address, checked last', async (t) => {
  t.match(resolveUnderlay({ ifaceCanReach: '198.18.2.200' }, ADDRS, MORE), { iface: 'eth1', bindAddress: '198.18.1.5' })
  t.match(resolveUnderlay({ ifaceCanReach: '198.18.2.7' }, ADDRS, MORE), { iface: 'eth0', bindAddress: '198.18.0.5' })
  t.match(resolveUnderlay({ ifaceRegex: ['^eth1$'], ifaceCanReach: '198.18.2.7' }, ADDRS, MORE), { iface: 'eth1' }, 'a regex match wins')
})

t.test('--iface-regex and --iface-can-reach that match nothing, or are malformed: errors that say so', async (t) => {
  t.throws(() => resolveUnderlay({ ifaceRegex: ['^wlan'] }, ADDRS, ROUTES), {
    code: 'TARTAN_ERR_INVALID_CONFIG', message: /^no interface with an IPv4 address matches --iface-regex \^wlan \(interfaces with IPv4 here: lo 127/,
  })
  t.throws(() => resolveUnderlay({ iface: ['eth9'], ifaceCanReach: '198.18.2.7' }, ADDRS, 'Iface\n'), {
    code: 'TARTAN_ERR_INVALID_CONFIG', message: /matches --iface eth9 or --iface-can-reach 198\.18\.2\.7 \(no route to it/,
  })
  t.throws(() => resolveUnderlay({ ifaceRegex: ['(eth'] }, ADDRS, ROUTES), { code: 'TARTAN_ERR_INVALID_ARGUMENT', message: /--iface-regex "\(eth" is not a valid regular expression/ })
  t.throws(() => resolveUnderlay({ ifaceCanReach: 'gateway' }, ADDRS, ROUTES), { code: 'TARTAN_ERR_INVALID_ARGUMENT', message: /--iface-can-reach "gateway" is not an IPv4 address/ })
})
