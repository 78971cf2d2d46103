import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { formatCidr, parseCidr } from '../../src/config/cidr.js'
import { parseNetworkConfig } from '../../src/config/network-config.js'
import { TartanError } from '../../src/errors.js'
import { type LeaseAttrs, leaseAttrsFor } from '../../src/lease/lease-codec.js'
import { LeaseManager, type LeaseManagerOptions, type Timers } from '../../src/lease/lease-manager.js'
import type { LeaseStore } from '../../src/lease/lease-store.js'
import { SqliteLeaseStore } from '../../src/lease/sqlite-store.js'
import { waitUntil } from '../node/fake-sink.js'
import { SHORT, udpConfig } from './conformance.js'

const net = (s: string) => {
  const c = parseCidr(s)
  if (!c.ok) throw new Error(c.reason)
  return c.net
}

/** A fresh embedded store for one test, plus a factory for more clients of it. */
function setup(t: Test, config = udpConfig) {
  const dir = mkdtempSync(join(tmpdir(), 'tartan-mgr-'))
  const stores: LeaseStore[] = []
  const open = () => {
    const s = new SqliteLeaseStore({ path: join(dir, 'leases.db'), pollIntervalMs: 20, logger: { warn: () => undefined } })
    stores.push(s)
    return s
  }
  const managers: LeaseManager[] = []
  const manager = (o: Partial<LeaseManagerOptions> & { publicIp?: string }) => {
    const m = new LeaseManager({
      store: o.store ?? open(),
      config: o.config ?? config,
      attrs: o.attrs ?? leaseAttrsFor(o.config ?? config, o.publicIp ?? '198.18.0.1'),
      ...o,
    })
    managers.push(m)
    return m
  }
  t.teardown(async () => {
    for (const m of managers) await m.stop()
    for (const s of stores) await s.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return { open, manager }
}

/** Wraps a store, letting a test override single methods. */
function wrap(inner: LeaseStore, over: Partial<LeaseStore>): LeaseStore {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const o = (over as Record<string | symbol, unknown>)[prop]
      if (o !== undefined) return o
      const v = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
}

t.test('a new node takes a random free subnet among the first 100 from SubnetMin', async (t) => {
  const { manager } = setup(t)
  const low = await manager({ publicIp: '198.18.0.1', random: () => 0 }).start()
  t.equal(formatCidr(low.subnet), '10.244.1.0/24', 'random 0 -> the first free one (SubnetMin; the first subnet is skipped)')
  const next = await manager({ publicIp: '198.18.0.2', random: () => 0 }).start()
  t.equal(formatCidr(next.subnet), '10.244.2.0/24', 'taken ones are skipped')
  const high = await manager({ publicIp: '198.18.0.3', random: () => 0.9999 }).start()
  t.equal(formatCidr(high.subnet), '10.244.102.0/24', 'random ~1 -> the 100th free one, never beyond')
})

t.test('SubnetMin and SubnetMax bound the choice', async (t) => {
  const config = parseNetworkConfig({ Network: '10.244.0.0/16', SubnetMin: '10.244.50.0', SubnetMax: '10.244.51.0' })
  const { manager } = setup(t, config)
  const a = await manager({ publicIp: '198.18.0.1', random: () => 0.99 }).start()
  const b = await manager({ publicIp: '198.18.0.2', random: () => 0.99 }).start()
  t.same([formatCidr(a.subnet), formatCidr(b.subnet)].sort(), ['10.244.50.0/24', '10.244.51.0/24'])
  await t.rejects(manager({ publicIp: '198.18.0.3' }).start(), { code: 'TARTAN_ERR_NO_FREE_SUBNET', message: /no free \/24 left/ })
})

t.test('a node that restarts finds its lease by PublicIP and refreshes its attrs', async (t) => {
  const vx = parseNetworkConfig({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } })
  const { manager, open } = setup(t, vx)
  const first = await manager({ attrs: leaseAttrsFor(vx, '198.18.0.1', 'aa:bb:cc:00:00:01') }).start()
  const again = await manager({ attrs: leaseAttrsFor(vx, '198.18.0.1', 'aa:bb:cc:00:00:02'), random: () => 0.5 }).start()
  t.equal(again.key, first.key, 'same lease')
  t.ok(again.revision > first.revision, 'rewritten')
  const stored = await open().get(first.key)
  t.same(stored?.attrs.backendData, { VNI: 1, VtepMAC: 'aa:bb:cc:00:00:02' }, 'with the new VTEP MAC')
})

t.test('a lease for our PublicIP that no longer fits the config is deleted and replaced', async (t) => {
  const { manager, open } = setup(t)
  const admin = open()
  await admin.create('10.244.0.0-24', leaseAttrsFor(udpConfig, '198.18.0.1'), 60_000) // below SubnetMin
  const l = await manager({ publicIp: '198.18.0.1', random: () => 0 }).start()
  t.equal(formatCidr(l.subnet), '10.244.1.0/24')
  t.equal(await admin.get('10.244.0.0-24'), null, 'the misfit is gone')
})

t.test('the previous subnet is reused when free, skipped when taken or not in the config', async (t) => {
  const { manager } = setup(t)
  const prev = await manager({ publicIp: '198.18.0.1', previousSubnet: net('10.244.77.0/24') }).start()
  t.equal(formatCidr(prev.subnet), '10.244.77.0/24')
  const taken = await manager({ publicIp: '198.18.0.2', previousSubnet: net('10.244.77.0/24'), random: () => 0 }).start()
  t.equal(formatCidr(taken.subnet), '10.244.1.0/24', 'taken: a random one instead')
  const misfit = await manager({ publicIp: '198.18.0.3', previousSubnet: net('10.244.0.0/24'), random: () => 0 }).start()
  t.equal(formatCidr(misfit.subnet), '10.244.2.0/24', 'below SubnetMin: ignored')
  const wrongLen = await manager({ publicIp: '198.18.0.4', previousSubnet: net('10.244.88.0/25'), random: () => 0 }).start()
  t.equal(formatCidr(wrongLen.subnet), '10.244.3.0/24', 'wrong length: ignored')
})

t.test('losing every race gives up after raceRetries with a clear error', async (t) => {
  const { manager, open } = setup(t)
  let creates = 0
  const store = wrap(open(), {
    create: async () => {
      creates++
      return null
    },
  })
  const m = manager({ store, raceRetries: 4, random: () => 0 })
  await t.rejects(m.start(), { code: 'TARTAN_ERR_NO_FREE_SUBNET', message: /after 4 attempts/ })
  t.equal(creates, 4)
  t.equal(m.stats().acquireAttempts, 4)
})

t.test('a store error during acquisition rejects start() with TARTAN_ERR_STORE', async (t) => {
  const { manager, open } = setup(t)
  const store = wrap(open(), {
    list: async () => {
      throw new TartanError('TARTAN_ERR_STORE', 'down')
    },
  })
  await t.rejects(manager({ store }).start(), { code: 'TARTAN_ERR_STORE' })
})

t.test('renewal is scheduled the margin ahead of expiry (injectable timers)', async (t) => {
  const { manager } = setup(t)
  const scheduled: number[] = []
  const timers: Timers = {
    setTimeout: (_fn, ms) => scheduled.push(ms),
    clearTimeout: () => undefined,
    now: () => Date.now(),
  }
  const m = manager({ ttlMs: 600_000, renewMarginMs: 120_000, timers })
  await m.start()
  const ms = scheduled.at(-1)!
  t.ok(ms > 470_000 && ms <= 480_000, `renewal in ${ms} ms, 120 s before the 600 s expiry`)
})

t.test('defaults follow flannel: 24 h TTL renewed 60 min ahead', async (t) => {
  const { manager } = setup(t)
  const scheduled: number[] = []
  const m = manager({ timers: { setTimeout: (_f, ms) => scheduled.push(ms), clearTimeout: () => undefined, now: () => Date.now() } })
  const l = await m.start()
  t.ok(Math.abs(l.expiresAt! - Date.now() - 24 * 3600_000) < 5000, 'expires in 24 h')
  t.ok(Math.abs(scheduled.at(-1)! - 23 * 3600_000) < 5000, 'renews after 23 h')
})

t.test('failed renewals are retried; the store is reported unreachable, then restored', async (t) => {
  const { manager, open } = setup(t)
  const inner = open()
  let failures = 3
  const store = wrap(inner, {
    update: async (key: string, attrs: LeaseAttrs, ttl: number, rev: number) => {
      if (failures > 0) {
        failures--
        throw new TartanError('TARTAN_ERR_STORE', 'etcd is down')
      }
      return inner.update(key, attrs, ttl, rev)
    },
  })
  const m = manager({ store, ...SHORT })
  const events: string[] = []
  m.on('store-unreachable', (e) => events.push(`unreachable:${e.code}`))
  m.on('store-restored', () => events.push('restored'))
  m.on('lease-renewed', () => events.push('renewed'))
  m.on('lease-lost', () => events.push('lost'))
  await m.start()
  await waitUntil(() => events.includes('renewed'), 4000, 'a renewal')
  t.same(events.slice(0, 3), ['unreachable:TARTAN_ERR_STORE', 'restored', 'renewed'])
  t.equal(m.stats().renewFailures, 3)
  t.notOk(events.includes('lost'))
})

t.test('a renewal whose revision went stale (our own earlier write) recovers without losing the lease', async (t) => {
  const { manager, open } = setup(t)
  const m = manager({ ...SHORT })
  const l = await m.start()
  const lost: unknown[] = []
  m.on('lease-lost', (e) => lost.push(e))
  // As if a renewal reached the store but its reply was lost: the key moved on, still carrying our attrs.
  const admin = open()
  await admin.update(l.key, m.attrs, 2000, l.revision)
  await admin.update(l.key, m.attrs, 2000, (await admin.get(l.key))!.revision)
  const before = m.stats().renewals
  await waitUntil(() => m.stats().renewals > before, 3000, 'the next renewal')
  t.same(lost, [])
  t.equal(m.lease?.key, l.key)
})

t.test('peers: added, changed (attrs differ) and removed are reported; renewals are not changes', async (t) => {
  const { manager, open } = setup(t)
  const m = manager({ publicIp: '198.18.0.1' })
  const events: string[] = []
  m.on('peer-added', (l) => events.push(`added ${l.attrs.publicIp}`))
  m.on('peer-changed', (l, prev) => events.push(`changed ${prev.attrs.publicIp}->${l.attrs.publicIp}`))
  m.on('peer-removed', (l) => events.push(`removed ${l.attrs.publicIp}`))
  const batches: number[] = []
  m.on('peers-changed', (b) => batches.push(b.added.length + b.changed.length + b.removed.length))
  await m.start()
  const admin = open()
  const a = (await admin.create('10.244.200.0-24', leaseAttrsFor(udpConfig, '198.18.0.2'), 60_000))!
  const renewed = (await admin.update(a.key, a.attrs, 60_000, a.revision))!
  const moved = (await admin.update(a.key, leaseAttrsFor(udpConfig, '198.18.0.3'), 60_000, renewed.revision))!
  await admin.delete(moved.key)
  await waitUntil(() => events.length >= 3, 2000, 'three peer events')
  await new Promise((r) => setTimeout(r, 100))
  t.same(events, ['added 198.18.0.2', 'changed 198.18.0.2->198.18.0.3', 'removed 198.18.0.3'])
  t.equal(m.peers.size, 0)
  t.ok(batches.every((n) => n > 0), 'batches only when something changed')
})

t.test('stop({release: true}) frees the subnet at once; stop() keeps it', async (t) => {
  const { manager, open } = setup(t)
  const kept = await manager({ publicIp: '198.18.0.1' }).start()
  const m2 = manager({ publicIp: '198.18.0.2' })
  const freed = await m2.start()
  await m2.stop({ release: true })
  const admin = open()
  t.equal(await admin.get(freed.key), null)
  t.ok(await admin.get(kept.key))
  t.equal(m2.lease, null)
})

t.test('misuse is reported: start twice, bad timing', async (t) => {
  const { manager } = setup(t)
  const m = manager({})
  await m.start()
  await t.rejects(m.start(), { code: 'TARTAN_ERR_STATE' })
  t.throws(() => manager({ ttlMs: 500 }), { code: 'TARTAN_ERR_INVALID_ARGUMENT' })
  t.throws(() => manager({ ttlMs: 2000, renewMarginMs: 2000 }), { code: 'TARTAN_ERR_INVALID_ARGUMENT', message: /margin/ })
})

t.test('several processes share one SQLite file safely', async (t) => {
  // Four node processes acquire at once on the same file: distinct subnets, one consistent history.
  const dir = mkdtempSync(join(tmpdir(), 'tartan-mp-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'leases.db')
  const admin = new SqliteLeaseStore({ path })
  t.teardown(() => admin.close())
  await admin.putNetworkConfig('{"Network":"10.244.0.0/16"}')
  const { spawn } = await import('node:child_process')
  const script = new URL('./fixtures/acquire-many.ts', import.meta.url).pathname
  // (Their V8 coverage stays out of the report: see test/helpers/no-child-coverage.mjs.)
  const runs = [0, 1, 2, 3].map(
    (i) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', script, path, String(i)], { stdio: ['ignore', 'pipe', 'inherit'] })
        let out = ''
        child.stdout.on('data', (b) => (out += b))
        child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`child ${i} exited ${code}`))))
      }),
  )
  const outputs = await Promise.all(runs)
  const subnets = outputs.flatMap((o) => o.trim().split('\n'))
  t.equal(subnets.length, 20)
  t.equal(new Set(subnets).size, 20, 'all distinct across processes')
  const list = await admin.list()
  t.equal(list.leases.length, 20)
})

