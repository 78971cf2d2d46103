/**
 * The offload probe at TUN open, against a stand-in for the three native calls (this machine's kernel takes
 * every offload, so the refusals cannot be produced for real): USO refused -> TSO only; TSO_ECN refused ->
 * wireguard-go's set; everything refused, or IFF_VNET_HDR refused -> the fd is closed and a plain device
 * opened. The plain-frame data path it falls back to is the one the offload-off end-to-end tests run.
 */
import t from 'tap'
import { openWithOffloads } from '../../src/io/tun-device.js'
import { TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN, TUN_F_USO4 } from '../../src/io/native.js'

const EINVAL = 22

/** A stand-in that accepts TUNSETOFFLOAD only for flag sets `accept` says yes to, and records every call. */
function standIn(accept: (flags: number) => boolean, vnetHdrOk = true) {
  const calls: string[] = []
  let next = 10
  return {
    calls,
    addon: {
      tunOpen(name: string, vnetHdr?: boolean): number {
        calls.push(`open ${name}${vnetHdr === true ? ' vnet_hdr' : ''}`)
        return vnetHdr === true && !vnetHdrOk ? -EINVAL : next++
      },
      tunSetOffload(fd: number, flags: number): number {
        const ok = accept(flags)
        calls.push(`setoffload ${fd} ${(flags & TUN_F_USO4) !== 0 ? 'uso' : (flags & TUN_F_TSO_ECN) !== 0 ? 'tso+ecn' : 'tso'} ${ok ? 'ok' : 'EINVAL'}`)
        return ok ? 0 : -EINVAL
      },
      close(fd: number): number {
        calls.push(`close ${fd}`)
        return 0
      },
    },
  }
}

t.test('a kernel that takes everything: TSO and USO on the vnet_hdr fd', async (t) => {
  const s = standIn(() => true)
  t.same(openWithOffloads(s.addon, 'tartan0', true), { fd: 10, offloads: { vnetHdr: true, tso: true, uso: true } })
  t.same(s.calls, ['open tartan0 vnet_hdr', 'setoffload 10 uso ok'])
})

t.test('USO refused (kernels before 6.2): TSO with ECN, no USO', async (t) => {
  const s = standIn((f) => (f & TUN_F_USO4) === 0)
  t.same(openWithOffloads(s.addon, 'tartan0', true), { fd: 10, offloads: { vnetHdr: true, tso: true, uso: false } })
  t.same(s.calls, ['open tartan0 vnet_hdr', 'setoffload 10 uso EINVAL', 'setoffload 10 tso+ecn ok'])
})

t.test('TSO_ECN refused too: checksum + TSO4/6 alone (wireguard-go\'s set)', async (t) => {
  const s = standIn((f) => f === (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6))
  t.same(openWithOffloads(s.addon, 'tartan0', true), { fd: 10, offloads: { vnetHdr: true, tso: true, uso: false } })
  t.same(s.calls, ['open tartan0 vnet_hdr', 'setoffload 10 uso EINVAL', 'setoffload 10 tso+ecn EINVAL', 'setoffload 10 tso ok'])
})

t.test('every offload refused: the vnet_hdr fd is closed and a plain device opened', async (t) => {
  const s = standIn(() => false)
  t.same(openWithOffloads(s.addon, 'tartan0', true), { fd: 11, offloads: { vnetHdr: false, tso: false, uso: false } })
  t.same(s.calls.slice(-2), ['close 10', 'open tartan0'])
})

t.test('IFF_VNET_HDR refused: a plain device, no TUNSETOFFLOAD tried', async (t) => {
  const s = standIn(() => true, false)
  t.same(openWithOffloads(s.addon, 'tartan0', true), { fd: 10, offloads: { vnetHdr: false, tso: false, uso: false } })
  t.same(s.calls, ['open tartan0 vnet_hdr', 'open tartan0'])
})

t.test('offloads not wanted: a plain device straight away', async (t) => {
  const s = standIn(() => true)
  t.same(openWithOffloads(s.addon, 'tartan0', false), { fd: 10, offloads: { vnetHdr: false, tso: false, uso: false } })
  t.same(s.calls, ['open tartan0'])
})

t.test('a plain open that fails is an error that says why', async (t) => {
  const s = standIn(() => false)
  s.addon.tunOpen = () => -1 // EPERM
  t.throws(() => openWithOffloads(s.addon, 'tartan0', true), { code: 'TARTAN_ERR_TUN', message: /EPERM.*Run as root/ })
})
