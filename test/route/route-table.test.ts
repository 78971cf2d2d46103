import t from 'tap'
import { MAX_ROUTE_VALUE, NO_ROUTE, RouteTable } from '../../src/route/route-table.js'

/** Dotted quad to unsigned 32-bit integer (test helper). */
function ip(s: string): number {
  const [a, b, c, d] = s.split('.').map(Number) as [number, number, number, number]
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0
}

t.test('an empty table has no route for any address', async (t) => {
  const rt = new RouteTable()
  t.equal(rt.size, 0)
  t.equal(rt.lookup(0), NO_ROUTE)
  t.equal(rt.lookup(0xffffffff), NO_ROUTE)
  t.equal(rt.lookup(ip('10.244.1.1')), NO_ROUTE)
})

t.test('/0 is a default route that matches every address and loses to any longer prefix', async (t) => {
  const rt = new RouteTable()
  rt.insert(0, 0, 7)
  t.equal(rt.lookup(0), 7)
  t.equal(rt.lookup(0xffffffff), 7)
  t.equal(rt.lookup(ip('198.18.0.1')), 7)
  rt.insert(ip('10.244.0.0'), 16, 1)
  t.equal(rt.lookup(ip('10.244.3.4')), 1)
  t.equal(rt.lookup(ip('10.245.0.0')), 7)
  t.ok(rt.remove(0, 0))
  t.equal(rt.lookup(ip('10.245.0.0')), NO_ROUTE)
  t.equal(rt.lookup(ip('10.244.3.4')), 1)
})

t.test('/32 is a host route that matches only its own address', async (t) => {
  const rt = new RouteTable()
  rt.insert(ip('10.244.1.0'), 24, 1)
  rt.insert(ip('10.244.1.77'), 32, 2)
  t.equal(rt.lookup(ip('10.244.1.77')), 2)
  t.equal(rt.lookup(ip('10.244.1.76')), 1)
  t.equal(rt.lookup(ip('10.244.1.78')), 1)
  rt.insert(0xffffffff, 32, 3)
  t.equal(rt.lookup(0xffffffff), 3)
  t.equal(rt.lookup(0xfffffffe), NO_ROUTE)
  rt.insert(0, 32, 4)
  t.equal(rt.lookup(0), 4)
  t.equal(rt.lookup(1), NO_ROUTE)
})

t.test('overlapping prefixes: the longest match shadows the shorter ones', async (t) => {
  const rt = new RouteTable()
  rt.insert(ip('10.0.0.0'), 8, 1)
  rt.insert(ip('10.1.0.0'), 16, 2)
  rt.insert(ip('10.1.2.0'), 24, 3)
  rt.insert(ip('10.1.2.3'), 32, 4)
  t.equal(rt.lookup(ip('10.9.9.9')), 1)
  t.equal(rt.lookup(ip('10.1.9.9')), 2)
  t.equal(rt.lookup(ip('10.1.2.9')), 3)
  t.equal(rt.lookup(ip('10.1.2.3')), 4)
  t.equal(rt.lookup(ip('11.1.2.3')), NO_ROUTE)
})

t.test('deleting a prefix unshadows the next shorter covering prefix', async (t) => {
  const rt = new RouteTable()
  rt.insert(ip('10.0.0.0'), 8, 1)
  rt.insert(ip('10.1.0.0'), 16, 2)
  rt.insert(ip('10.1.2.0'), 24, 3)
  rt.insert(ip('10.1.2.3'), 32, 4)
  t.ok(rt.remove(ip('10.1.2.3'), 32))
  t.equal(rt.lookup(ip('10.1.2.3')), 3)
  t.ok(rt.remove(ip('10.1.0.0'), 16), 'removing the middle prefix')
  t.equal(rt.lookup(ip('10.1.2.3')), 3, 'the /24 still shadows the /8')
  t.equal(rt.lookup(ip('10.1.9.9')), 1, 'the rest of the /16 falls back to the /8')
  t.ok(rt.remove(ip('10.1.2.0'), 24))
  t.equal(rt.lookup(ip('10.1.2.3')), 1)
  t.ok(rt.remove(ip('10.0.0.0'), 8))
  t.equal(rt.lookup(ip('10.1.2.3')), NO_ROUTE)
  t.equal(rt.size, 0)
  t.equal(rt.nodeCount, 0, 'all nodes were freed')
})

t.test('a prefix fully hidden by longer ones comes back when they are deleted', async (t) => {
  const rt = new RouteTable()
  rt.insert(ip('10.1.2.0'), 25, 1)
  rt.insert(ip('10.1.2.128'), 25, 2)
  rt.insert(ip('10.1.2.0'), 24, 3) // covers nothing visible yet
  t.equal(rt.lookup(ip('10.1.2.5')), 1)
  t.equal(rt.lookup(ip('10.1.2.200')), 2)
  rt.insert(ip('10.1.2.0'), 24, 9) // replacing a hidden route's value
  rt.remove(ip('10.1.2.128'), 25)
  t.equal(rt.lookup(ip('10.1.2.200')), 9)
  t.equal(rt.lookup(ip('10.1.2.5')), 1)
})

t.test('removing an absent prefix returns false and changes nothing', async (t) => {
  const rt = new RouteTable()
  t.equal(rt.remove(ip('10.0.0.0'), 8), false, 'from an empty table')
  rt.insert(ip('10.0.0.0'), 8, 1)
  rt.insert(ip('10.1.2.0'), 24, 2)
  t.equal(rt.remove(ip('10.0.0.0'), 9), false, 'same address, other length')
  t.equal(rt.remove(ip('10.1.0.0'), 16), false, 'between two stored prefixes')
  t.equal(rt.remove(ip('10.1.2.0'), 25), false, 'inside a stored prefix')
  t.equal(rt.size, 2)
  t.equal(rt.lookup(ip('10.1.2.3')), 2)
  t.equal(rt.lookup(ip('10.1.3.3')), 1)
  t.doesNotThrow(() => rt.apply([{ op: 'remove', prefix: ip('172.16.0.0'), len: 12 }]))
  t.equal(rt.size, 2)
})

t.test('inserting an existing prefix replaces its value', async (t) => {
  const rt = new RouteTable()
  rt.insert(ip('10.244.7.0'), 24, 1)
  rt.insert(ip('10.244.7.0'), 24, 2)
  t.equal(rt.size, 1)
  t.equal(rt.lookup(ip('10.244.7.9')), 2)
  t.equal(rt.get(ip('10.244.7.0'), 24), 2)
  rt.insert(ip('10.244.7.0'), 24, 2)
  t.equal(rt.size, 1, 'same value again is a no-op')
  rt.remove(ip('10.244.7.0'), 24)
  t.equal(rt.lookup(ip('10.244.7.9')), NO_ROUTE)
  t.equal(rt.nodeCount, 0, 'replacing did not leak node references')
})

t.test('a prefix with host bits set is normalised', async (t) => {
  const rt = new RouteTable()
  rt.insert(ip('10.244.7.99'), 24, 5)
  t.same([...rt.entries()], [{ prefix: ip('10.244.7.0'), len: 24, value: 5 }])
  t.equal(rt.lookup(ip('10.244.7.1')), 5)
  t.equal(rt.get(ip('10.244.7.0'), 24), 5)
  t.equal(rt.get(ip('10.244.7.200'), 24), 5)
  rt.insert(ip('10.244.7.0'), 24, 6)
  t.equal(rt.size, 1, 'the normalised and the raw spelling are the same prefix')
  t.ok(rt.remove(ip('10.244.7.255'), 24))
  t.equal(rt.size, 0)
  rt.insert(0xffffffff, 0, 1)
  t.same([...rt.entries()], [{ prefix: 0, len: 0, value: 1 }])
})

t.test('an invalid prefix length is a RangeError that says what is allowed', async (t) => {
  const rt = new RouteTable()
  for (const len of [-1, 33, 1.5, Number.NaN, Infinity]) {
    t.throws(() => rt.insert(0, len, 1), {
      name: 'RangeError',
      code: 'TARTAN_ERR_INVALID_ARGUMENT',
      message: /RouteTable\.insert: route prefix length must be an integer from 0 to 32, got/,
    })
    t.throws(() => rt.remove(0, len), { name: 'RangeError', message: /prefix length must be an integer from 0 to 32/ })
  }
  t.throws(() => rt.insert(0, '8' as unknown as number, 1), { name: 'RangeError', message: /got "8"/ })
  t.equal(rt.size, 0)
})

t.test('an invalid value is a RangeError that says what is allowed', async (t) => {
  const rt = new RouteTable()
  for (const value of [-1, MAX_ROUTE_VALUE + 1, 0.5, Number.NaN]) {
    t.throws(() => rt.insert(0, 0, value), {
      name: 'RangeError',
      code: 'TARTAN_ERR_INVALID_ARGUMENT',
      message: /route value must be an integer from 0 to 16777215 \(a peer index\), got/,
    })
  }
  rt.insert(0, 0, MAX_ROUTE_VALUE)
  t.equal(rt.lookup(123), MAX_ROUTE_VALUE, 'the largest value round-trips')
  rt.insert(0, 0, 0)
  t.equal(rt.lookup(123), 0, 'value 0 is a route, not NO_ROUTE')
})

t.test('an invalid prefix is a RangeError that says what is allowed', async (t) => {
  const rt = new RouteTable()
  for (const prefix of [-1, 2 ** 32, 1.5]) {
    t.throws(() => rt.insert(prefix, 8, 1), {
      name: 'RangeError',
      message: /route prefix must be an IPv4 address as an unsigned 32-bit integer \(0 to 4294967295\)/,
    })
  }
})

t.test('apply makes a batch visible in order, all at once', async (t) => {
  const rt = new RouteTable()
  rt.apply([
    { op: 'add', prefix: ip('10.244.1.0'), len: 24, value: 1 },
    { op: 'add', prefix: ip('10.244.2.0'), len: 24, value: 2 },
    { op: 'remove', prefix: ip('10.244.1.0'), len: 24 },
    { op: 'add', prefix: ip('10.244.2.0'), len: 24, value: 3 },
  ])
  t.equal(rt.size, 1)
  t.equal(rt.lookup(ip('10.244.1.1')), NO_ROUTE)
  t.equal(rt.lookup(ip('10.244.2.1')), 3)
  rt.apply([])
  t.equal(rt.size, 1, 'an empty batch changes nothing')
})

t.test('a batch with one invalid change is rejected whole and names the change', async (t) => {
  const rt = new RouteTable()
  rt.insert(ip('10.244.1.0'), 24, 1)
  const before = rt.memoryBytes()
  t.throws(
    () =>
      rt.apply([
        { op: 'remove', prefix: ip('10.244.1.0'), len: 24 },
        { op: 'add', prefix: ip('10.244.3.0'), len: 24, value: 3 },
        { op: 'add', prefix: ip('10.244.4.0'), len: 40, value: 4 },
      ]),
    { name: 'RangeError', message: /RouteTable\.apply \(change 2 of 3\): route prefix length must be/ },
  )
  t.throws(() => rt.apply([{ op: 'add', prefix: 0, len: 0 }]), { message: /change 0 of 1\): route value must be/ })
  t.throws(() => rt.apply([{ op: 'replace', prefix: 0, len: 0 } as never]), {
    message: /op must be 'add' or 'remove', got "replace"/,
  })
  t.throws(() => rt.apply([null as never]), { message: /a change must be an object/ })
  t.throws(() => rt.apply('nope' as never), { name: 'TypeError' })
  t.equal(rt.size, 1)
  t.equal(rt.lookup(ip('10.244.1.1')), 1, 'the valid remove before the bad change did not happen')
  t.equal(rt.lookup(ip('10.244.3.1')), NO_ROUTE)
  t.equal(rt.memoryBytes(), before)
})

t.test('every prefix length from /0 to /32 on one address, added and removed in any order', async (t) => {
  const rt = new RouteTable()
  const a = ip('10.244.170.85') // alternating bits, so each length cuts a different boundary
  const order = [...Array(33).keys()]
  for (let len = 0; len <= 32; len++) rt.insert(a, len, len)
  // The address that first differs from `a` at bit (31 - k) matches exactly the prefixes of length <= k.
  for (let k = 0; k < 32; k++) t.equal(rt.lookup((a ^ (0x80000000 >>> k)) >>> 0), k, `differs at bit ${31 - k}`)
  t.equal(rt.lookup(a), 32)
  // Remove in a scrambled order; the answer is always the longest remaining length <= k.
  const scrambled = order.map((x) => (x * 13) % 33)
  const left = new Set(order)
  for (const len of scrambled) {
    t.ok(rt.remove(a, len))
    left.delete(len)
    for (let k = 0; k <= 32; k++) {
      const addr = k === 32 ? a : (a ^ (0x80000000 >>> k)) >>> 0
      let want = NO_ROUTE
      for (const l of left) if (l <= k && l > want) want = l
      if (rt.lookup(addr) !== want) t.fail(`after removing /${len}: bit ${31 - k} wants ${want}`)
    }
  }
  t.equal(rt.size, 0)
  t.equal(rt.nodeCount, 0)
})

t.test('the first and last address of a prefix match it, the neighbours outside do not', async (t) => {
  const rt = new RouteTable()
  for (const [s, len] of [['10.244.16.0', 20], ['10.244.32.0', 21], ['10.244.64.0', 28], ['10.244.64.48', 29]] as const) {
    rt.insert(ip(s), len, len)
    const first = ip(s)
    const last = (first + 2 ** (32 - len) - 1) >>> 0
    t.equal(rt.lookup(first), len, `${s}/${len} first`)
    t.equal(rt.lookup(last), len, `${s}/${len} last`)
    t.not(rt.lookup(first - 1), len, `${s}/${len} below`)
    t.not(rt.lookup(last + 1), len, `${s}/${len} above`)
  }
})

t.test('lookupBatch equals lookup, clamps count, and accepts int32 spellings of addresses', async (t) => {
  const rt = new RouteTable()
  rt.insert(ip('10.0.0.0'), 8, 1)
  rt.insert(ip('10.1.2.0'), 24, 2)
  rt.insert(ip('255.255.255.0'), 24, 3)
  const addrs = Uint32Array.from([ip('10.1.2.3'), ip('10.9.9.9'), ip('11.0.0.0'), ip('255.255.255.255')])
  const out = new Int32Array(4).fill(99)
  rt.lookupBatch(addrs, 4, out)
  t.same([...out], [2, 1, NO_ROUTE, 3])
  t.same([...out], [...addrs].map((a) => rt.lookup(a)))
  out.fill(99)
  rt.lookupBatch(addrs, 2, out)
  t.same([...out], [2, 1, 99, 99], 'only count entries are written')
  out.fill(99)
  rt.lookupBatch(addrs, 3, out)
  t.same([...out], [2, 1, NO_ROUTE, 99], 'an odd count (the batch is done in pairs) ends right')
  out.fill(99)
  rt.lookupBatch(addrs, 1, out)
  t.same([...out], [2, 99, 99, 99], 'a batch of one')
  rt.lookupBatch(addrs, 0, out)
  rt.lookupBatch(addrs, -5, out)
  rt.lookupBatch(addrs, Number.NaN, out)
  t.same([...out], [2, 99, 99, 99], 'zero, negative and NaN counts write nothing')
  const short = new Int32Array(2)
  t.doesNotThrow(() => rt.lookupBatch(addrs, 100, short), 'count beyond the arrays is clamped')
  t.same([...short], [2, 1])
  t.equal(rt.lookup(ip('255.255.255.255') | 0), 3, 'an int32 address (-1) reads as 255.255.255.255')
})

t.test('long prefixes allocate nodes and deleting them all frees every node', async (t) => {
  const rt = new RouteTable()
  const empty = rt.memoryBytes()
  for (let i = 0; i < 2000; i++) rt.insert((ip('10.244.0.0') + i * 97) >>> 0, 21 + (i % 12), i)
  t.ok(rt.nodeCount > 0)
  t.ok(rt.memoryBytes() > empty)
  const stored = [...rt.entries()]
  t.equal(stored.length, rt.size)
  let removed = 0
  for (const r of stored) if (rt.remove(r.prefix, r.len)) removed++
  t.equal(removed, stored.length)
  t.equal(rt.size, 0)
  t.equal(rt.nodeCount, 0)
  t.equal(rt.lookup(ip('10.244.1.1')), NO_ROUTE)
})

t.test('memoryBytes counts the typed arrays: a 4 MiB root and its 1 MiB of depths, nodes and the prefix map', async (t) => {
  const rt = new RouteTable()
  t.ok(rt.memoryBytes() >= 5 * 1024 * 1024, `empty: ${rt.memoryBytes()} bytes`)
  t.ok(rt.memoryBytes() < 5.2 * 1024 * 1024, `empty: ${rt.memoryBytes()} bytes`)
})
