/**
 * Offloads on, 3 % of the tunnel's datagrams dropped on the underlay (nftables `numgen random mod 100 < 3`,
 * rules only in the test's own host namespaces): TCP transfers both ways still complete with matching
 * SHA-256, the retransmissions going through the same split and coalesce paths.
 */
import t from 'tap'
import { e2eUnavailable } from '../helpers/two-node-suite.js'
import { assertIntact, offloadRig, tcpTransfer } from '../offload/fixtures/e2e.js'

const why = e2eUnavailable() ?? (await import('node:child_process').then((cp) => {
  try { cp.execFileSync('nft', ['--version'], { stdio: 'ignore' }); return null } catch { return 'needs nftables (nft)' }
}))
if (why) t.pass(`SKIPPED: ${why}`, { skip: `end-to-end tests ${why}` })
else {
  const rig = await offloadRig(t, { offload: [true, true] })
  const { h1, h2, topo } = rig
  const MiB = 1024 * 1024

  t.test('3 % loss is installed on both hosts\' underlay input', async (t) => {
    for (const h of [h1, h2]) {
      const rules = [
        'add table inet tartanloss',
        'add chain inet tartanloss input { type filter hook input priority 0 ; }',
        'add rule inet tartanloss input udp dport 8285 numgen random mod 100 < 3 counter drop',
      ]
      for (const r of rules) {
        const res = await topo.exec(h.hostNs, ['nft', ...r.split(' ')])
        t.equal(res.code, 0, `${r}: ${res.stderr}`)
      }
    }
  })

  t.test('64 MiB from pod 1 to pod 2 arrives intact despite the loss', async (t) => assertIntact(t, await tcpTransfer(rig, h1, h2, 5001, 64 * MiB), 64 * MiB))
  t.test('64 MiB from pod 2 to pod 1 arrives intact despite the loss', async (t) => assertIntact(t, await tcpTransfer(rig, h2, h1, 5002, 64 * MiB), 64 * MiB))

  t.test('the rules did drop tunnel datagrams', async (t) => {
    for (const h of [h1, h2]) {
      const r = await topo.exec(h.hostNs, ['nft', 'list', 'chain', 'inet', 'tartanloss', 'input'])
      const m = /counter packets (\d+)/.exec(r.stdout)
      t.ok(m && Number(m[1]) > 0, `dropped on ${h.hostNs}: ${m?.[1]}`)
    }
  })
}
