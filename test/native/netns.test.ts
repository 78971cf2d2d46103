// withNetns: runs code in a namespace the test created and always returns the thread to where it was.
import { readlinkSync, statSync } from 'node:fs'
import t from 'tap'
import { native } from '../../src/io/native.js'
import { netnsPath, withNetns } from '../../src/io/netns.js'
import { ip, loopbackUp, makeNetns, nativeSkipReason } from './fixtures/native-env.js'

const skip = nativeSkipReason()
const here = (): string => readlinkSync('/proc/thread-self/ns/net')

t.test('netnsPath maps names under /var/run/netns and keeps paths', async (t) => {
  t.equal(netnsPath('blue'), '/var/run/netns/blue')
  t.equal(netnsPath('/proc/1/ns/net'), '/proc/1/ns/net')
})

t.test('undefined runs in the current namespace', async (t) => {
  t.equal(withNetns(undefined, () => 42), 42)
})

t.test('fn runs inside the namespace and the thread comes back', { skip }, async (t) => {
  const ns = makeNetns(t)
  const before = here()
  const inside = withNetns(ns, () => here())
  t.not(inside, before)
  t.equal(inside, `net:[${statSync(netnsPath(ns)).ino}]`, 'the namespace ip netns created')
  t.equal(here(), before)
})

t.test('a socket opened inside stays in the namespace', { skip }, async (t) => {
  const ns = makeNetns(t)
  loopbackUp(ns, '198.18.0.1')
  const fd = withNetns(ns, () => native().udpOpen(ip('198.18.0.1'), 0, 0))
  t.ok(fd >= 0, 'the namespace-only address binds inside')
  native().close(fd)
})

t.test('the thread comes back when fn throws', { skip }, async (t) => {
  const ns = makeNetns(t)
  const before = here()
  t.throws(() => withNetns(ns, () => {
    throw new Error('boom')
  }), { message: 'boom' })
  t.equal(here(), before)
})

t.test('nested calls restore each level', { skip }, async (t) => {
  const outer = makeNetns(t)
  const inner = makeNetns(t)
  const before = here()
  withNetns(outer, () => {
    const o = here()
    withNetns(inner, () => t.not(here(), o))
    t.equal(here(), o)
  })
  t.equal(here(), before)
})

t.test('an async fn is refused (it would continue outside the namespace)', { skip }, async (t) => {
  const ns = makeNetns(t)
  const before = here()
  t.throws(() => withNetns(ns, async () => 1), { code: 'TARTAN_ERR_INVALID_ARGUMENT' })
  t.equal(here(), before)
})

t.test('a missing namespace is TARTAN_ERR_INVALID_CONFIG and nothing moves', { skip }, async (t) => {
  const before = here()
  t.throws(() => withNetns(`tartan-t-native-${process.pid}-absent`, () => t.fail('not run')), {
    code: 'TARTAN_ERR_INVALID_CONFIG',
    errno: 2,
  })
  t.throws(() => withNetns('/proc/self/status', () => t.fail('not run')), { code: 'TARTAN_ERR_INVALID_CONFIG', errno: 22 })
  t.equal(here(), before)
})
