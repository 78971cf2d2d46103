import t from 'tap'
import { flowHash } from '../../src/wire/flow-hash.js'
import { ipv4, udpPacket } from '../helpers/packets.js'

t.test('the same flow always hashes the same, whatever the payload', async (t) => {
  const a = udpPacket('10.244.1.2', '10.244.2.3', 4000, 53, Buffer.from('one'))
  const b = udpPacket('10.244.1.2', '10.244.2.3', 4000, 53, Buffer.from('a different payload'))
  t.equal(flowHash(a, 0, a.length), flowHash(b, 0, b.length))
})

t.test('flows differing only in source port spread over 8 lanes', async (t) => {
  const lanes = new Set<number>()
  for (let port = 1000; port < 1256; port++) {
    const p = udpPacket('10.244.1.2', '10.244.2.3', port, 53, Buffer.from('x'))
    lanes.add(flowHash(p, 0, p.length) % 8)
  }
  t.equal(lanes.size, 8)
})

t.test('addresses and protocol take part in the hash', async (t) => {
  const h = (src: string, dst: string, proto: number) => { const p = ipv4({ src, dst, protocol: proto }); return flowHash(p, 0, p.length) }
  t.not(h('10.244.1.2', '10.244.2.3', 1), h('10.244.1.3', '10.244.2.3', 1))
  t.not(h('10.244.1.2', '10.244.2.3', 1), h('10.244.1.2', '10.244.2.4', 1))
  t.not(h('10.244.1.2', '10.244.2.3', 1), h('10.244.1.2', '10.244.2.3', 47))
})

t.test('a non-first fragment hashes without ports (they are not there), like its protocol peers', async (t) => {
  const frag = ipv4({ src: '10.244.1.2', dst: '10.244.2.3', protocol: 17, flagsFragment: 0x0010, payload: Buffer.from('12345678') })
  const other = ipv4({ src: '10.244.1.2', dst: '10.244.2.3', protocol: 17, flagsFragment: 0x0020, payload: Buffer.from('abcdefgh') })
  t.equal(flowHash(frag, 0, frag.length), flowHash(other, 0, other.length))
})

t.test('a truncated TCP/UDP header hashes on addresses only, reading nothing past the packet', async (t) => {
  const p = ipv4({ src: '10.244.1.2', dst: '10.244.2.3', protocol: 6, payload: Buffer.from('ab') })
  t.type(flowHash(p, 0, p.length), 'number')
})
