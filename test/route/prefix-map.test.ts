import t from 'tap'
import { PrefixMap } from '../../src/route/prefix-map.js'
import { xorshift32 } from '../helpers/xorshift.js'

t.test('the prefix map keeps every key through growth and backward-shift deletes', async (t) => {
  const m = new PrefixMap()
  const ref = new Map<string, number>()
  const next = xorshift32(12345)
  const bad: string[] = []
  // Few distinct prefixes at many lengths: the same 32-bit value at different lengths must not collide.
  for (let i = 0; i < 20_000; i++) {
    const len = next() % 33
    const prefix = (next() % 64) * 0x01000000
    const key = `${prefix}/${len}`
    if (next() % 3 === 0) {
      if (m.delete(prefix, len) !== (ref.get(key) ?? -1)) bad.push(`delete ${key}`)
      ref.delete(key)
    } else {
      m.reserve(m.size + 1)
      if (m.set(prefix, len, i) !== (ref.get(key) ?? -1)) bad.push(`set ${key}`)
      ref.set(key, i)
    }
  }
  t.same(bad, [], 'set and delete return the previous value')
  t.equal(m.size, ref.size)
  let wrong = 0
  for (let p = 0; p < 64; p++) {
    for (let len = 0; len <= 32; len++) if (m.get(p * 0x01000000, len) !== (ref.get(`${p * 0x01000000}/${len}`) ?? -1)) wrong++
  }
  t.equal(wrong, 0, 'every key answers as the reference Map does')
  t.equal([...m.entries()].length, ref.size)
})

t.test('coveringLen finds the longest shorter stored prefix within the given lengths', async (t) => {
  const m = new PrefixMap()
  m.reserve(3)
  m.set(0x0a000000, 8, 1)
  m.set(0x0a010000, 16, 2)
  m.set(0x0a010200, 24, 3)
  t.equal(m.coveringLen(0x0a010203, 32, 0), 24)
  t.equal(m.coveringLen(0x0a010200, 24, 0), 16)
  t.equal(m.coveringLen(0x0a010200, 24, 17), -1, 'none at /17 or longer')
  t.equal(m.coveringLen(0x0a000000, 8, 0), -1)
  t.equal(m.coveringLen(0x0b000000, 32, 0), -1)
})
