// link-config over rtnetlink, acting only inside a test namespace and observed with `ip -j`.
import t, { type Test } from 'tap'
import { TartanError } from '../../src/errors.js'
import {
  addAddress, addRoute, configureLink, deleteLink, deleteRoute, linkExists, linkIndex, setLinkMtu, setLinkUp,
} from '../../src/io/link-config.js'
import { withNetns } from '../../src/io/netns.js'
import { TunDevice } from '../../src/io/tun-device.js'
import { ip, ipIn, ipJson, linksNamed, makeNetns, nativeSkipReason, type IpLink } from './fixtures/native-env.js'

const skip = nativeSkipReason()
const ESRCH = 3
const EEXIST = 17
const ENODEV = 19

interface IpRoute {
  dst: string
  dev: string
  gateway?: string
  scope?: string
  protocol?: string
}

function routes(ns: string): IpRoute[] {
  return ipJson<IpRoute[]>(ns, 'route', 'show')
}

function catchError(fn: () => unknown): TartanError {
  try {
    fn()
  } catch (err) {
    if (err instanceof TartanError) return err
    throw err
  }
  throw new Error('expected a TartanError')
}

/** A namespace holding TUN tt0 with 10.244.1.0/16, up. */
function tunNs(t: Test): string {
  const ns = makeNetns(t)
  const dev = TunDevice.open({ name: 'tt0', mtu: 1400, address: '10.244.1.0', prefixLen: 16, netns: ns })
  t.teardown(() => dev.close())
  return ns
}

t.test('linkIndex and linkExists see links of the current namespace only', { skip }, async (t) => {
  const ns = tunNs(t)
  const want = ipJson<{ ifindex: number }[]>(ns, 'link', 'show', 'dev', 'tt0')[0]!.ifindex
  withNetns(ns, () => {
    t.equal(linkIndex('tt0'), want)
    t.equal(linkExists('tt0'), true)
    t.equal(linkIndex('nope0'), undefined)
    t.equal(linkExists('nope0'), false)
  })
})

t.test('a directly connected route is added with link scope and deleted again', { skip }, async (t) => {
  const ns = tunNs(t)
  withNetns(ns, () => addRoute('tt0', '10.245.0.0', 16))
  const r = routes(ns).find((x) => x.dst === '10.245.0.0/16')
  t.ok(r, 'route present')
  t.equal(r!.dev, 'tt0')
  t.equal(r!.scope, 'link')
  t.equal(r!.gateway, undefined)
  withNetns(ns, () => deleteRoute('tt0', '10.245.0.0', 16))
  t.equal(routes(ns).find((x) => x.dst === '10.245.0.0/16'), undefined, 'route gone')
})

t.test('a route via a gateway takes integer addresses too', { skip }, async (t) => {
  const ns = tunNs(t)
  withNetns(ns, () => addRoute('tt0', ip('10.246.3.0'), 24, ip('10.244.7.1')))
  const r = routes(ns).find((x) => x.dst === '10.246.3.0/24')
  t.equal(r?.gateway, '10.244.7.1')
  t.equal(r?.dev, 'tt0')
  withNetns(ns, () => deleteRoute('tt0', '10.246.3.0', 24, '10.244.7.1'))
  t.equal(routes(ns).find((x) => x.dst === '10.246.3.0/24'), undefined)
})

t.test('duplicate and missing routes are TARTAN_ERR_NETLINK with EEXIST / ESRCH', { skip }, async (t) => {
  const ns = tunNs(t)
  withNetns(ns, () => {
    addRoute('tt0', '10.245.0.0', 16)
    const dup = catchError(() => addRoute('tt0', '10.245.0.0', 16))
    t.equal(dup.code, 'TARTAN_ERR_NETLINK')
    t.equal(dup.errno, EEXIST)
    t.match(dup.message, /already exists/)
    deleteRoute('tt0', '10.245.0.0', 16)
    const missing = catchError(() => deleteRoute('tt0', '10.245.0.0', 16))
    t.equal(missing.errno, ESRCH)
    t.match(missing.message, /No such route/)
  })
})

t.test('a duplicate address is EEXIST; configureLink treats it as already done', { skip }, async (t) => {
  const ns = tunNs(t)
  withNetns(ns, () => {
    const dup = catchError(() => addAddress('tt0', '10.244.1.0', 16))
    t.equal(dup.code, 'TARTAN_ERR_NETLINK')
    t.equal(dup.errno, EEXIST)
    t.match(dup.message, /EEXIST/)
    configureLink('tt0', { address: '10.244.1.0', prefixLen: 16, mtu: 1300, up: true })
  })
  const [link] = ipJson<IpLink[]>(ns, 'addr', 'show', 'dev', 'tt0')
  t.equal(link!.mtu, 1300)
  t.equal(link!.addr_info!.filter((a) => a.family === 'inet').length, 1)
})

t.test('setLinkMtu and setLinkUp change the link', { skip }, async (t) => {
  const ns = tunNs(t)
  withNetns(ns, () => {
    setLinkMtu('tt0', 9000)
    setLinkUp('tt0', false)
  })
  let [link] = linksNamed(ns, 'tt0')
  t.equal(link!.mtu, 9000)
  t.notOk(link!.flags.includes('UP'))
  withNetns(ns, () => setLinkUp('tt0'))
  ;[link] = linksNamed(ns, 'tt0')
  t.ok(link!.flags.includes('UP'))
})

t.test('deleteLink removes a link', { skip }, async (t) => {
  const ns = makeNetns(t)
  ipIn(ns, 'link', 'add', 'va0', 'type', 'veth', 'peer', 'name', 'vb0')
  withNetns(ns, () => deleteLink('va0'))
  t.same(linksNamed(ns, 'va0'), [])
  t.same(linksNamed(ns, 'vb0'), [], 'its veth peer went with it')
})

t.test('calls on a missing link are ENODEV with a hint naming it', { skip }, async (t) => {
  const ns = makeNetns(t)
  withNetns(ns, () => {
    const e = catchError(() => setLinkMtu('nope0', 1400))
    t.equal(e.errno, ENODEV)
    t.match(e.message, /no link named nope0/)
    t.equal(catchError(() => deleteLink('nope0')).errno, ENODEV)
    t.equal(catchError(() => addRoute('nope0', '10.245.0.0', 16)).errno, ENODEV)
  })
})

t.test('bad arguments are TARTAN_ERR_INVALID_ARGUMENT before any request', { skip }, async (t) => {
  t.throws(() => addAddress('tt0', '10.244.1', 16), { code: 'TARTAN_ERR_INVALID_ARGUMENT' })
  t.throws(() => addRoute('tt0', '10.245.0.0', 33), { code: 'TARTAN_ERR_INVALID_ARGUMENT' })
  t.throws(() => addRoute('tt0', -1, 8), { code: 'TARTAN_ERR_INVALID_ARGUMENT' })
  t.throws(() => setLinkMtu('tt0', 10), { code: 'TARTAN_ERR_INVALID_ARGUMENT' })
  t.throws(() => setLinkUp('bad name'), { code: 'TARTAN_ERR_INVALID_ARGUMENT' })
})
