// TunDevice.open/close against the kernel, inside a namespace created per test and observed with `ip -j`.
import { readdirSync, readlinkSync } from 'node:fs'
import t from 'tap'
import { TartanError } from '../../src/errors.js'
import { TunDevice } from '../../src/io/tun-device.js'
import { PacketBatch } from '../../src/io/packet-batch.js'
import { ipJson, linksNamed, makeNetns, nativeSkipReason, type IpLink } from './fixtures/native-env.js'

const skip = nativeSkipReason()
const EINVAL = 22
const EBUSY = 16

/** How many fds of this process are open on /dev/net/tun. */
function tunFdCount(): number {
  let n = 0
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === '/dev/net/tun') n++
    } catch {
      // the fd of the directory listing itself
    }
  }
  return n
}

function catchError(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

t.test('open creates the TUN in the namespace with the MTU, address and state asked for', { skip }, async (t) => {
  const ns = makeNetns(t)
  const dev = TunDevice.open({ name: 'tt0', mtu: 1400, address: '10.244.1.0', prefixLen: 16, netns: ns })
  t.teardown(() => dev.close())
  t.equal(dev.name, 'tt0')
  const [link] = ipJson<IpLink[]>(ns, 'addr', 'show', 'dev', 'tt0')
  t.ok(link, 'device exists in the namespace')
  t.equal(link!.mtu, 1400)
  t.ok(link!.flags.includes('UP'), `flags ${link!.flags.join(',')} include UP`)
  t.ok(link!.flags.includes('POINTOPOINT') && link!.flags.includes('NOARP'), 'a layer-3 TUN')
  const inet = (link!.addr_info ?? []).filter((a) => a.family === 'inet')
  t.same(inet.map((a) => [a.local, a.prefixlen]), [['10.244.1.0', 16]])
})

t.test('open without an address leaves the device up with no IPv4 address', { skip }, async (t) => {
  const ns = makeNetns(t)
  const dev = TunDevice.open({ name: 'tt1', mtu: 1472, netns: ns })
  t.teardown(() => dev.close())
  const [link] = ipJson<IpLink[]>(ns, 'addr', 'show', 'dev', 'tt1')
  t.equal(link!.mtu, 1472)
  t.ok(link!.flags.includes('UP'))
  t.same((link!.addr_info ?? []).filter((a) => a.family === 'inet'), [])
})

t.test('a %d name is resolved to the name the kernel chose', { skip }, async (t) => {
  const ns = makeNetns(t)
  const dev = TunDevice.open({ name: 'tart%d', mtu: 1400, netns: ns })
  t.teardown(() => dev.close())
  t.equal(dev.name, 'tart0')
  t.equal(linksNamed(ns, 'tart0').length, 1)
})

t.test('a name held by another open TUN fails with TARTAN_ERR_TUN (EBUSY) and leaves that device alone', { skip }, async (t) => {
  const ns = makeNetns(t)
  const first = TunDevice.open({ name: 'tt0', mtu: 1400, address: '10.244.1.0', prefixLen: 16, netns: ns })
  t.teardown(() => first.close())
  const before = tunFdCount()
  const err = catchError(() => TunDevice.open({ name: 'tt0', mtu: 1300, netns: ns }))
  t.ok(err instanceof TartanError, 'a TartanError')
  t.equal((err as TartanError).code, 'TARTAN_ERR_TUN')
  t.equal((err as TartanError).errno, EBUSY)
  t.match((err as TartanError).message, /in use/)
  t.equal(tunFdCount(), before, 'no fd leaked')
  const [link] = ipJson<IpLink[]>(ns, 'addr', 'show', 'dev', 'tt0')
  t.equal(link!.mtu, 1400, 'first device untouched')
  t.ok(link!.flags.includes('UP'))
})

t.test('the name of a link that is not a TUN fails with TARTAN_ERR_TUN (EINVAL)', { skip }, async (t) => {
  const ns = makeNetns(t)
  t.throws(() => TunDevice.open({ name: 'lo', mtu: 1400, netns: ns }), { code: 'TARTAN_ERR_TUN', errno: EINVAL })
  t.equal(linksNamed(ns, 'lo').length, 1, 'lo is still there')
})

t.test('invalid options are rejected before anything is created', { skip }, async (t) => {
  const ns = makeNetns(t)
  t.throws(() => TunDevice.open({ name: 'tt0', mtu: 20, netns: ns }), { code: 'TARTAN_ERR_INVALID_ARGUMENT' })
  t.throws(() => TunDevice.open({ name: 'a-name-that-is-too-long', mtu: 1400, netns: ns }), { code: 'TARTAN_ERR_INVALID_ARGUMENT' })
  t.throws(() => TunDevice.open({ name: 'tt0', mtu: 1400, address: '10.244.1', netns: ns }), { code: 'TARTAN_ERR_TUN' })
  t.throws(() => TunDevice.open({ name: 'tt0', mtu: 1400, prefixLen: 40, address: '10.244.1.0', netns: ns }), { code: 'TARTAN_ERR_INVALID_ARGUMENT' })
  t.equal(linksNamed(ns, 'tt0').length, 0, 'no device left behind')
})

t.test('a missing namespace is a TartanError naming it', { skip }, async (t) => {
  t.throws(() => TunDevice.open({ name: 'tt0', mtu: 1400, netns: `tartan-t-native-${process.pid}-absent` }), {
    code: 'TARTAN_ERR_INVALID_CONFIG',
    message: /ip netns add/,
  })
})

t.test('close releases the fd, the kernel removes the device, and later calls are no-ops', { skip }, async (t) => {
  const ns = makeNetns(t)
  const before = tunFdCount()
  const dev = TunDevice.open({ name: 'tt0', mtu: 1400, address: '10.244.1.0', prefixLen: 16, netns: ns })
  dev.onReadable(() => {})
  t.equal(tunFdCount(), before + 1)
  dev.close()
  t.equal(tunFdCount(), before, 'fd closed')
  t.same(linksNamed(ns, 'tt0'), [], 'device gone')
  dev.close()
  const batch = new PacketBatch(4)
  batch.count = 1
  t.equal(dev.read(batch), 0)
  t.equal(batch.count, 0)
  t.equal(dev.write(batch), 0)
  dev.onReadable(() => t.fail('never called'))
})
