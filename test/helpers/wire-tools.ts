/**
 * The independent judges of what is on the wire: `cap` (libpcap) captures inside a namespace and
 * `raw-socket` injects crafted IPv4 datagrams from one. Both sockets are opened inside the namespace (the
 * thread moves there with setns and back), so nothing touches the root namespace.
 */
import { createRequire } from 'node:module'
import { withNetns } from '../../src/io/netns.js'

const require = createRequire(import.meta.url)

export interface Captured {
  /** The whole frame as captured (Ethernet header first on veth devices). */
  frame: Buffer
}

/** Starts a capture on `ifname` in namespace `ns` with a BPF filter; call stop() to end it. */
export function capture(ns: string, ifname: string, filter: string): { packets: Captured[]; linkType: string; stop: () => void } {
  const { Cap } = require('cap') as { Cap: new () => any }
  const c = new Cap()
  const buffer = Buffer.alloc(65535)
  const linkType = withNetns(ns, () => c.open(ifname, filter, 4 * 1024 * 1024, buffer) as string)
  if (c.setMinBytes) c.setMinBytes(0)
  const packets: Captured[] = []
  c.on('packet', (nbytes: number) => packets.push({ frame: Buffer.from(buffer.subarray(0, nbytes)) }))
  return { packets, linkType, stop: () => c.close() }
}

/** A raw IPv4 socket in namespace `ns` that sends whole IPv4 packets (IP_HDRINCL): the outer source is ours to forge. */
export function rawIpv4Sender(ns: string): { send: (packet: Uint8Array, dst: string) => Promise<void>; close: () => void } {
  const raw = require('raw-socket') as any
  const socket = withNetns(ns, () => {
    const s = raw.createSocket({ protocol: raw.Protocol.UDP })
    s.setOption(raw.SocketLevel.IPPROTO_IP, raw.SocketOption.IP_HDRINCL, 1)
    return s
  })
  socket.on('error', () => {})
  return {
    send: (packet, dst) => new Promise((resolve, reject) => {
      socket.send(Buffer.from(packet), 0, packet.length, dst, null, (err: Error | null) => (err ? reject(err) : resolve()))
    }),
    close: () => socket.close(),
  }
}
