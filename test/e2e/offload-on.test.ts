/**
 * Two tartan nodes with offloads on (TUN TSO/USO, UDP GSO/GRO): ping, 256 MiB TCP transfers both ways with
 * matching SHA-256, TCP and UDP at once, and counters showing the offload paths carried the traffic. Node 2
 * also busy-polls (50 us), which must not change any of it.
 */
import t from 'tap'
import { e2eUnavailable } from '../helpers/two-node-suite.js'
import { assertIntact, assertMixedTraffic, offloadRig, ping, tcpTransfer } from '../offload/fixtures/e2e.js'

const why = e2eUnavailable()
if (why) t.pass(`SKIPPED: ${why}`, { skip: `end-to-end tests ${why}` })
else {
  const rig = await offloadRig(t, { offload: [true, true], busyPollUs: [0, 50] })
  const { h1, h2 } = rig
  const MiB = 1024 * 1024

  t.test('both engines run with TUN offloads and UDP GSO/GRO on', async (t) => {
    for (const c of rig.ready) {
      t.same(c.offload.tun.features, { vnetHdr: true, tso: true, uso: c.offload.tun.features.uso }, 'IFF_VNET_HDR + TSO')
      t.same(c.offload.udp.features, { gso: true, gro: true })
    }
  })

  t.test('busy polling shows in the counters of the engine that has it (busyPollUs 50), not of the one without (0)', async (t) => {
    t.equal(rig.ready[0].busyPoll, undefined)
    t.match(rig.ready[1].busyPoll, { spins: Number, spinMs: Number, bulk: Number, contended: Number })
  })

  t.test('ping both ways, small and near-MTU', async (t) => {
    for (const [a, b] of [[h1, h2], [h2, h1]] as const) {
      for (const size of [56, 1444]) {
        const r = await ping(rig, a, b, size)
        t.equal(r.code, 0, `${a.podIp} -> ${b.podIp} size ${size}: ${r.stdout}${r.stderr}`)
      }
    }
  })

  t.test('256 MiB from pod 1 to pod 2 arrives intact', async (t) => assertIntact(t, await tcpTransfer(rig, h1, h2, 5001, 256 * MiB), 256 * MiB))
  t.test('256 MiB from pod 2 to pod 1 arrives intact', async (t) => assertIntact(t, await tcpTransfer(rig, h2, h1, 5002, 256 * MiB), 256 * MiB))

  t.test('TCP and UDP at once: the transfer is intact and every UDP datagram that arrives is intact', async (t) =>
    assertMixedTraffic(t, rig, { from: h1, to: h2, port: 5003, bytes: 64 * MiB }, { from: h1, to: h2, port: 6001, count: 20_000 }))

  t.test('the offload paths carried the traffic: super-packets split, GSO sends, GRO receives, merged writes', async (t) => {
    const { counters: c1 } = await rig.e1.counters()
    const { counters: c2 } = await rig.e2.counters()
    for (const c of [c1, c2]) {
      t.ok(c.offload.tun.counters.superPackets > 1000, `super-packets split: ${c.offload.tun.counters.superPackets}`)
      t.ok(c.offload.tun.counters.mergedWrites > 1000, `merged TUN writes: ${c.offload.tun.counters.mergedWrites}`)
      t.ok(c.offload.udp.counters.gsoSends > 1000, `GSO sends: ${c.offload.udp.counters.gsoSends}`)
      t.ok(c.offload.udp.counters.groReceives > 100, `GRO receives: ${c.offload.udp.counters.groReceives}`)
      t.equal(c.offload.udp.counters.gsoFallbacks, 0)
      t.equal(c.offload.tun.counters.badFrames, 0)
      t.equal(c.drops.tx_error, 0)
      t.equal(c.drops.rx_error, 0)
      t.equal(c.drops.tun_too_big, 0, 'no segment exceeded the MTU')
    }
  })
}
