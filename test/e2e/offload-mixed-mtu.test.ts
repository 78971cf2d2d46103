/**
 * Offloads on one node and off on the other, over a small-MTU underlay (1280, pod MTU 1252): every
 * combination of a splitting sender and a plain receiver (and back) carries ping, 256 MiB TCP both ways and
 * mixed TCP/UDP intact, and no segment exceeds the small MTU.
 */
import t from 'tap'
import { e2eUnavailable } from '../helpers/two-node-suite.js'
import { assertIntact, assertMixedTraffic, offloadRig, ping, tcpTransfer } from '../offload/fixtures/e2e.js'

const why = e2eUnavailable()
if (why) t.pass(`SKIPPED: ${why}`, { skip: `end-to-end tests ${why}` })
else {
  const rig = await offloadRig(t, { offload: [true, false], underlayMtu: 1280 })
  const { h1, h2 } = rig
  const MiB = 1024 * 1024

  t.test('node 1 has offloads, node 2 runs plain frames and datagrams', async (t) => {
    t.equal(rig.ready[0].offload.tun.features.vnetHdr, true)
    t.equal(rig.ready[1].offload.tun.active, false)
    t.equal(rig.ready[1].offload.udp.active, false)
  })

  t.test('ping both ways at the largest size the small MTU allows', async (t) => {
    for (const [a, b] of [[h1, h2], [h2, h1]] as const) {
      const r = await ping(rig, a, b, 1252 - 28)
      t.equal(r.code, 0, r.stdout + r.stderr)
    }
  })

  t.test('256 MiB from the offloading node to the plain one arrives intact', async (t) => assertIntact(t, await tcpTransfer(rig, h1, h2, 5001, 256 * MiB), 256 * MiB))
  t.test('256 MiB from the plain node to the offloading one arrives intact', async (t) => assertIntact(t, await tcpTransfer(rig, h2, h1, 5002, 256 * MiB), 256 * MiB))

  t.test('TCP one way and UDP the other at once', async (t) =>
    assertMixedTraffic(t, rig, { from: h1, to: h2, port: 5003, bytes: 32 * MiB }, { from: h2, to: h1, port: 6001, count: 10_000 }))

  t.test('no packet was too big for the small MTU, nothing was refused', async (t) => {
    for (const e of [rig.e1, rig.e2]) {
      const { counters } = await e.counters()
      t.equal(counters.drops.tun_too_big, 0)
      t.equal(counters.drops.tx_error, 0)
      t.equal(counters.drops.rx_error, 0)
    }
    const { counters } = await rig.e1.counters()
    t.ok(counters.offload.tun.counters.superPackets > 100, 'the offloading node split super-packets')
  })
}
