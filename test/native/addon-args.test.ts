// The addon's argument checks: a wrong type or shape from JS is a TypeError (or -EINVAL / -EBADF for
// values that are well-typed but out of range), never a crash. Needs only the built addon.
import t from 'tap'
import { native, type NativeAddon } from '../../src/io/native.js'
import { PacketBatch } from '../../src/io/packet-batch.js'
import { addonSkipReason } from './fixtures/native-env.js'

const EBADF = 9
const EINVAL = 22
const skip = addonSkipReason()

function register(a: NativeAddon, b: PacketBatch): object {
  return a.batchRegister(b.buffer, b.slotSize, b.headroom, b.offsets, b.lengths, b.addrs, b.ports, b.status)
}

t.test('batchRegister accepts a PacketBatch and returns an opaque object', { skip }, async (t) => {
  const h = register(native(), new PacketBatch(8))
  t.equal(typeof h, 'object')
  t.not(h, null)
})

t.test('batchRegister rejects wrong types and shapes with a TypeError', { skip }, async (t) => {
  const a = native() as unknown as Record<string, (...args: unknown[]) => unknown>
  const buf = new ArrayBuffer(4 * 2048)
  const u32 = () => new Uint32Array(4)
  const cases: [string, unknown[]][] = [
    ['buffer is not an ArrayBuffer', [new Uint8Array(8192), 2048, 64, u32(), u32(), u32(), new Uint16Array(4), new Int32Array(4)]],
    ['slotSize is not a number', [buf, '2048', 64, u32(), u32(), u32(), new Uint16Array(4), new Int32Array(4)]],
    ['slotSize is fractional', [buf, 2048.5, 64, u32(), u32(), u32(), new Uint16Array(4), new Int32Array(4)]],
    ['headroom >= slotSize', [buf, 2048, 2048, u32(), u32(), u32(), new Uint16Array(4), new Int32Array(4)]],
    ['offsets is an Int32Array', [buf, 2048, 64, new Int32Array(4), u32(), u32(), new Uint16Array(4), new Int32Array(4)]],
    ['ports is a Uint32Array', [buf, 2048, 64, u32(), u32(), u32(), u32(), new Int32Array(4)]],
    ['status is missing', [buf, 2048, 64, u32(), u32(), u32(), new Uint16Array(4)]],
    ['lengths shorter than offsets', [buf, 2048, 64, u32(), new Uint32Array(3), u32(), new Uint16Array(4), new Int32Array(4)]],
    ['slots overrun the buffer', [buf, 4096, 64, u32(), u32(), u32(), new Uint16Array(4), new Int32Array(4)]],
    ['empty offsets', [buf, 2048, 64, new Uint32Array(0), u32(), u32(), new Uint16Array(4), new Int32Array(4)]],
  ]
  for (const [why, args] of cases) t.throws(() => a.batchRegister!(...args), TypeError, why)
})

t.test('batch I/O calls reject a handle that is not a registered batch', { skip }, async (t) => {
  const a = native()
  const fakes: unknown[] = [{}, null, undefined, 42, new ArrayBuffer(8), { nativeHandle: 1 }]
  for (const fake of fakes) {
    t.throws(() => a.tunRead(0, fake as object, 1), TypeError)
    t.throws(() => a.tunWrite(0, fake as object, 1), TypeError)
    t.throws(() => a.udpRecv(0, fake as object, 1), TypeError)
    t.throws(() => a.udpSend(0, fake as object, 0, 1), TypeError)
  }
})

t.test('batch I/O calls reject non-integer fds and counts with a TypeError', { skip }, async (t) => {
  const a = native()
  const h = register(a, new PacketBatch(4))
  t.throws(() => a.tunRead('3' as unknown as number, h, 1), TypeError)
  t.throws(() => a.tunRead(3, h, 1.5), TypeError)
  t.throws(() => a.udpSend(3, h, 0, Number.NaN), TypeError)
  t.throws(() => (a.udpSend as (...x: unknown[]) => number)(3, h, 0), TypeError, 'missing count')
})

t.test('out-of-range counts give -EINVAL and a negative fd gives -EBADF', { skip }, async (t) => {
  const a = native()
  const h = register(a, new PacketBatch(4))
  t.equal(a.tunRead(-1, h, 4), -EBADF)
  t.equal(a.tunRead(0x7fffffff, h, -1), -EINVAL)
  t.equal(a.udpRecv(0x7fffffff, h, -1), -EINVAL)
  t.equal(a.tunWrite(0x7fffffff, h, 5), -EINVAL, 'count above capacity')
  t.equal(a.udpSend(0x7fffffff, h, 0, 5), -EINVAL, 'count above capacity')
  t.equal(a.udpSend(0x7fffffff, h, 3, 2), -EINVAL, 'start after count')
  t.equal(a.udpSend(0x7fffffff, h, -1, 2), -EINVAL, 'negative start')
})

t.test('a batch whose slab was detached gives -EINVAL instead of touching freed memory', { skip }, async (t) => {
  const a = native()
  const b = new PacketBatch(4)
  const h = register(a, b)
  structuredClone(b.buffer, { transfer: [b.buffer] })
  t.equal(b.buffer.byteLength, 0, 'detached')
  t.equal(a.tunRead(0x7fffffff, h, 4), -EINVAL)
  t.equal(a.udpSend(0x7fffffff, h, 0, 1), -EINVAL)
})

t.test('control-plane calls check their argument types', { skip }, async (t) => {
  const a = native() as unknown as Record<string, (...args: unknown[]) => unknown>
  t.throws(() => a.tunOpen!(7), TypeError)
  t.throws(() => a.linkIndex!(undefined), TypeError)
  t.throws(() => a.linkSetMtu!('lo', '1500'), TypeError)
  t.throws(() => a.linkSetUp!('lo', 1), TypeError)
  t.throws(() => a.addrAdd!('lo', 1, 33), TypeError, 'prefix length above 32')
  t.throws(() => a.addrAdd!('lo', 2 ** 32, 8), TypeError, 'address above 32 bits')
  t.throws(() => a.routeAdd!('lo', 0, 0), TypeError, 'missing gateway')
  t.throws(() => a.udpOpen!(0, 70000, 0), TypeError, 'port above 65535')
  t.throws(() => a.netnsSwitch!(null), TypeError)
  t.throws(() => a.close!('1'), TypeError)
  t.throws(() => a.pollStart!(0, 1, 'not a function'), TypeError)
  t.throws(() => a.pollStart!(0, 4, () => {}), TypeError, 'unknown event bits')
  t.throws(() => a.pollUpdate!({}, 1), TypeError)
  t.throws(() => a.pollClose!(register(native(), new PacketBatch(1))), TypeError, 'a batch is not a poll')
})

t.test('invalid interface names give -EINVAL without reaching the kernel', { skip }, async (t) => {
  const a = native()
  t.equal(a.tunOpen('a-name-longer-than-15'), -EINVAL)
  t.equal(a.linkIndex(''), -EINVAL)
  t.equal(a.linkIndex('has/slash'), -EINVAL)
  t.equal(a.close(-1), -EBADF)
  t.equal(a.pollStart(-1, 1, () => {}), -EBADF)
})
