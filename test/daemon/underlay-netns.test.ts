/**
 * Underlay selection against a real kernel: interfaces, addresses and routes of a network namespace made
 * for the test (two veth pairs, 198.18.40.0/24 and 198.18.41.0/24), read the way `tartan run` reads them.
 */
import t from 'tap'
import { resolveUnderlay } from '../../src/daemon/underlay.js'
import { withNetns } from '../../src/io/netns.js'
import { ipIn, makeNetns, nativeSkipReason } from '../native/fixtures/native-env.js'

const skip = nativeSkipReason()

function host(t: Parameters<typeof makeNetns>[0]): string {
  const ns = makeNetns(t)
  ipIn(ns, 'link', 'add', 'a0', 'type', 'veth', 'peer', 'name', 'a1')
  ipIn(ns, 'link', 'add', 'b0', 'type', 'veth', 'peer', 'name', 'b1')
  for (const l of ['a0', 'a1', 'b0', 'b1']) ipIn(ns, 'link', 'set', l, 'up')
  ipIn(ns, 'addr', 'add', '198.18.40.1/24', 'dev', 'a0')
  ipIn(ns, 'addr', 'add', '198.18.41.1/24', 'dev', 'b0')
  ipIn(ns, 'route', 'add', 'default', 'via', '198.18.40.254', 'dev', 'a0')
  ipIn(ns, 'route', 'add', '198.18.50.0/24', 'via', '198.18.41.254', 'dev', 'b0')
  return ns
}

t.test('without flags the default route\'s interface; --iface-can-reach follows the routing table; --iface-regex matches names and addresses', { skip }, async (t) => {
  const ns = host(t)
  const pick = (o: Parameters<typeof resolveUnderlay>[0]) => withNetns(ns, () => resolveUnderlay(o))
  t.match(pick({}), { iface: 'a0', bindAddress: '198.18.40.1' }, 'default route via a0')
  t.match(pick({ ifaceCanReach: '198.18.50.9' }), { iface: 'b0', bindAddress: '198.18.41.1' }, '198.18.50.0/24 goes via b0')
  t.match(pick({ ifaceCanReach: '198.18.77.1' }), { iface: 'a0' }, 'anything else takes the default route')
  t.match(pick({ ifaceRegex: ['^b0$'] }), { iface: 'b0', bindAddress: '198.18.41.1' })
  t.match(pick({ ifaceRegex: ['\\.40\\.'] }), { iface: 'a0', bindAddress: '198.18.40.1' })
  t.throws(() => pick({ ifaceRegex: ['^eth'] }), { code: 'TARTAN_ERR_INVALID_CONFIG', message: /a0 198\.18\.40\.1.*b0 198\.18\.41\.1/ })
})
