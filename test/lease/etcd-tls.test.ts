/**
 * The etcd store over TLS against a real etcd that serves https only and requires client certificates (the
 * usual flannel set-up: --etcd-cafile, --etcd-certfile, --etcd-keyfile): with the right files leases work;
 * without a client certificate, or trusting another CA, every call fails as TARTAN_ERR_STORE, promptly.
 */
import t from 'tap'
import { briefGrpcError, EtcdLeaseStore, etcdErrorAdvice } from '../../src/lease/etcd-store.js'
import { etcdSkip, makeTestPki, startEtcd } from '../helpers/etcd.js'

const skip = etcdSkip()
const attrs = { publicIp: '198.18.0.1', publicIpv6: null, backendType: 'vxlan' }

t.test('etcd with TLS and client-certificate authentication (real etcd)', { skip }, async (t) => {
  const pki = makeTestPki(t)
  const etcd = await startEtcd(t, pki)
  t.match(etcd.endpoint, /^https:\/\/127\.0\.0\.1:\d+$/)
  const open = (tls: { caFile?: string; certFile?: string; keyFile?: string }): EtcdLeaseStore => {
    const s = new EtcdLeaseStore({ endpoints: [etcd.endpoint], prefix: '/tartan-tls', tls, callTimeoutMs: 2000, logger: { warn: () => undefined } })
    t.teardown(() => s.close())
    return s
  }

  t.test('with the CA and a client certificate it signed, leases are created, read and renewed', async (t) => {
    const s = open({ caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile })
    const created = await s.create('10.244.7.0-24', attrs, 60_000)
    t.ok(created, 'created')
    t.match(await s.get('10.244.7.0-24'), { attrs, revision: created!.revision })
    t.ok(await s.update('10.244.7.0-24', attrs, 60_000, created!.revision), 'renewed')
  })

  t.test('without a client certificate etcd refuses the connection: TARTAN_ERR_STORE', async (t) => {
    const started = Date.now()
    await t.rejects(open({ caFile: pki.caFile }).list(), {
      code: 'TARTAN_ERR_STORE',
      message: /etcd refused the client certificate: give --etcd-certfile and --etcd-keyfile/,
    })
    t.ok(Date.now() - started < 10_000, `failed within ${Date.now() - started} ms`)
  })

  t.test('trusting another CA, the server certificate is rejected: TARTAN_ERR_STORE', async (t) => {
    const started = Date.now()
    await t.rejects(open({ caFile: pki.otherCaFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile }).list(), {
      code: 'TARTAN_ERR_STORE',
      message: /cannot verify etcd's server certificate: give --etcd-cafile/,
    })
    t.ok(Date.now() - started < 10_000, `failed within ${Date.now() - started} ms`)
  })
})

t.test('gRPC failure texts are shortened and get advice that fits them', async (t) => {
  // As @grpc/grpc-js reported them against the etcd above (the OpenSSL line is Node's bundled OpenSSL 3).
  const refused = '14 UNAVAILABLE: No connection established. Last error: 809C2E1F197F0000:error:0A000412:SSL routines:' +
    'ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 42\n' +
    '(2026-11-29T18:21:47.973Z). Resolution note: '
  t.equal(briefGrpcError(refused),
    '14 UNAVAILABLE: No connection established. Last error: TLS: sslv3 alert bad certificate (SSL alert number 42) (2026-11-29T18:21:47.973Z)')
  t.match(etcdErrorAdvice(refused), /^etcd refused the client certificate/)
  t.match(etcdErrorAdvice('Last error: Error: unable to verify the first certificate'), /^cannot verify etcd's server certificate/)
  t.match(etcdErrorAdvice('Last error: Error: self-signed certificate in certificate chain'), /^cannot verify etcd's server certificate/)
  t.match(etcdErrorAdvice('Last error: Failed to connect'), /^check that etcd is running and reachable/)
})
