/**
 * Two tartan nodes speaking VXLAN to each other (port 8472, VNI 1, MTU 1450): the same specification as the
 * UDP format, plus VXLAN-specific crafted frames on the underlay.
 */
import t from 'tap'
import { SUITE_MACS, e2eUnavailable, twoNodeSuite } from '../helpers/two-node-suite.js'
import { udpPacket } from '../helpers/packets.js'

const mac = (m: string) => m.replace(/:/g, '')
/** VXLAN header (flags, VNI) + Ethernet (to node 2, from node 1) + inner packet. */
function vxlanFrame(inner: Uint8Array, opts: { flags?: string; vni?: string; dst?: string; type?: string } = {}): Uint8Array {
  const hdr = Buffer.from(`${opts.flags ?? '08'}000000${opts.vni ?? '000001'}00${opts.dst ?? mac(SUITE_MACS.node2)}${mac(SUITE_MACS.node1)}${opts.type ?? '0800'}`, 'hex')
  return Buffer.concat([hdr, inner])
}

const why = e2eUnavailable()
if (why) t.pass(`SKIPPED: ${why}`, { skip: `end-to-end tests ${why}` })
else {
  const inner = udpPacket('10.244.1.2', '10.244.2.2', 4444, 9, Buffer.from('tartan-inject'))
  await twoNodeSuite(t, {
    encapsulation: 'vxlan', port: 8472, overhead: 50,
    wrap: (p) => vxlanFrame(p),
    extraInjections: [
      ['vxlan_wrong_vni', vxlanFrame(inner, { vni: '000002' }), '198.18.0.1'],
      ['vxlan_wrong_mac', vxlanFrame(inner, { dst: '0a0000000001' }), '198.18.0.1'],
      ['vxlan_not_ipv4', vxlanFrame(inner, { type: '86dd' }), '198.18.0.1'],
      ['vxlan_truncated', Buffer.from('08000000000001', 'hex'), '198.18.0.1'],
      ['vxlan_bad_flags', vxlanFrame(inner, { flags: '0c' }), '198.18.0.1'],
    ],
  })
}
