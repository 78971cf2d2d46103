import { Etcd3 } from 'etcd3'
import t, { type Test } from 'tap'
import { EtcdLeaseStore } from '../../src/lease/etcd-store.js'
import { type EtcdServer, etcdSkip, freePort, startEtcd } from '../helpers/etcd.js'
import { type HarnessFactory, NETWORK, conformance } from './conformance.js'

const skip = etcdSkip()
if (skip) t.comment(`etcd tests skipped: ${skip}`)

let seq = 0

/** Each test: its own key prefix on the shared etcd (emptied first); every client a separate connection. */
function etcdHarness(etcd: EtcdServer): HarnessFactory {
  return async (t: Test, options?: { prefix?: string }) => {
    const prefix = options?.prefix ?? `/tartan-test/${process.pid}-${++seq}`
    const raw = new Etcd3({ hosts: etcd.endpoint })
    await raw.delete().prefix(`${prefix}/`)
    const warnings: string[] = []
    const stores: EtcdLeaseStore[] = []
    const open = () => {
      const s = new EtcdLeaseStore({
        endpoints: [etcd.endpoint],
        prefix,
        logger: { warn: (m) => warnings.push(m) },
        reconnectMaxMs: 500,
      })
      stores.push(s)
      return s
    }
    t.teardown(async () => {
      for (const s of stores) await s.close()
      raw.close()
    })
    const admin = open()
    await admin.putNetworkConfig(NETWORK)
    return {
      name: 'etcd',
      open,
      warnings,
      compact: (rev) => admin.compact(rev),
      putRaw: async (key, value) => {
        await raw.put(`${prefix}/subnets/${key}`).value(value)
      },
      getRaw: async (key) => (await raw.get(`${prefix}/subnets/${key}`).string()) ?? undefined,
      fullKey: (key) => `${prefix}/subnets/${key}`,
    }
  }
}

t.test('etcd v3 store conformance (real etcd)', { skip }, async (t) => {
  const etcd = await startEtcd(t)
  conformance(t, etcdHarness(etcd))
})

t.test('etcd store specifics (real etcd)', { skip }, async (t) => {
  const etcd = await startEtcd(t)
  const open = (prefix: string) => {
    const s = new EtcdLeaseStore({ endpoints: [etcd.endpoint], prefix, logger: { warn: () => undefined } })
    t.teardown(() => s.close())
    return s
  }

  t.test('a missing network config says where it should be and how to put it', async (t) => {
    await t.rejects(open('/tartan-empty').getNetworkConfig(), {
      code: 'TARTAN_ERR_INVALID_CONFIG',
      message: /\/tartan-empty\/config.*etcdctl put/,
    })
  })

  t.test('an invalid network config in etcd is a config error naming the key', async (t) => {
    const raw = new Etcd3({ hosts: etcd.endpoint })
    t.teardown(() => raw.close())
    await raw.put('/tartan-bad/config').value('{"Network":"10.244.0.0/16","Backend":{"Type":"host-gw"}}')
    await t.rejects(open('/tartan-bad').getNetworkConfig(), {
      code: 'TARTAN_ERR_INVALID_CONFIG',
      message: /\/tartan-bad\/config.*Backend\.Type.*host-gw/,
    })
  })

  t.test('the prefix is cleaned as flannel does (path.Join)', async (t) => {
    const s = open('/tartan-clean//net/')
    t.equal(s.prefix, '/tartan-clean/net')
    t.equal(s.fullKey('10.244.1.0-24'), '/tartan-clean/net/subnets/10.244.1.0-24')
  })

  t.test('leases are bound to etcd leases with the TTL', async (t) => {
    const s = open('/tartan-ttl')
    const raw = new Etcd3({ hosts: etcd.endpoint })
    t.teardown(() => raw.close())
    const l = await s.create('10.244.1.0-24', { publicIp: '198.18.0.1', publicIpv6: null, backendType: '' }, 24 * 3600 * 1000)
    t.ok(l)
    const kv = await raw.get(s.fullKey('10.244.1.0-24')).exec()
    const leaseId = kv.kvs[0]!.lease
    t.not(leaseId, '0', 'bound to an etcd lease')
    const ttl = await raw.leaseClient.leaseTimeToLive({ ID: leaseId })
    t.equal(ttl.grantedTTL, String(24 * 3600), 'granted 24 h')
    const renewed = await s.update('10.244.1.0-24', l!.attrs, 24 * 3600 * 1000, l!.revision)
    t.ok(renewed)
    // Revocation of the superseded etcd lease is best effort, in the background.
    let ttlAfter = ''
    for (let i = 0; i < 100 && ttlAfter !== '-1'; i++) {
      ttlAfter = (await raw.leaseClient.leaseTimeToLive({ ID: leaseId })).TTL
      if (ttlAfter !== '-1') await new Promise((r) => setTimeout(r, 10))
    }
    t.equal(ttlAfter, '-1', 'the superseded etcd lease is revoked')
  })
})

t.test('a transaction the client retried after a lost reply is recognised as applied (real etcd)', { skip }, async (t) => {
  const etcd = await startEtcd(t)
  const s = new EtcdLeaseStore({ endpoints: [etcd.endpoint], prefix: '/tartan-retry' })
  t.teardown(() => s.close())
  const attrs = { publicIp: '198.18.0.1', publicIpv6: null, backendType: '' }
  // Send every transaction twice and answer with the second reply, as a retry after a lost reply would.
  const kv = (s as unknown as { client: Etcd3 }).client.kv
  const txn = kv.txn.bind(kv)
  kv.txn = async (req) => {
    await txn(req)
    return txn(req)
  }
  const created = await s.create('10.244.1.0-24', attrs, 60_000)
  t.ok(created, 'the create counts')
  const renewed = await s.update('10.244.1.0-24', attrs, 60_000, created!.revision)
  t.ok(renewed, 'the renewal counts')
  t.equal((await s.get('10.244.1.0-24'))?.revision, renewed!.revision, 'with the revision it wrote')
  t.equal(await s.create('10.244.1.0-24', attrs, 60_000), null, 'a real conflict is still a conflict')
  t.ok(await s.get('10.244.1.0-24'), 'and never deletes the key')
})

t.test('an unreachable etcd is TARTAN_ERR_STORE, promptly', async (t) => {
  const s = new EtcdLeaseStore({ endpoints: [`http://127.0.0.1:${await freePort()}`], callTimeoutMs: 1000 })
  t.teardown(() => s.close())
  const started = Date.now()
  await t.rejects(s.list(), { code: 'TARTAN_ERR_STORE', message: /etcd is running and reachable/ })
  t.ok(Date.now() - started < 5000, `failed within ${Date.now() - started} ms`)
})

t.test('invalid etcd options are config errors', async (t) => {
  t.throws(() => new EtcdLeaseStore({ endpoints: [] }), { code: 'TARTAN_ERR_INVALID_CONFIG' })
  t.throws(() => new EtcdLeaseStore({ endpoints: ['http://127.0.0.1:2379'], prefix: 'relative' }), {
    code: 'TARTAN_ERR_INVALID_CONFIG',
  })
  t.throws(() => new EtcdLeaseStore({ endpoints: ['https://127.0.0.1:2379'], tls: { certFile: '/nonexistent.pem' } }), {
    code: 'TARTAN_ERR_INVALID_CONFIG',
    message: /both a client certificate and its key/,
  })
  t.throws(() => new EtcdLeaseStore({ endpoints: ['https://127.0.0.1:2379'], tls: { caFile: '/nonexistent/ca.pem' } }), {
    code: 'TARTAN_ERR_INVALID_CONFIG',
    message: /\/nonexistent\/ca\.pem/,
  })
})
