/**
 * flannel's UDP backend format: the UDP payload is exactly the inner IPv4 packet, nothing else
 * (flannel pkg/backend/udp: the proxy writes the TUN frame to the socket as is).
 */
import type { Encapsulation } from './encapsulation.js'

/** flannel's default UDP backend port (pkg/backend/udp: defaultPort = 8285). */
export const FLANNEL_UDP_PORT = 8285
/** Outer IPv4 header (20) + UDP header (8): flannel sets the TUN MTU to the underlay MTU minus 28. */
export const FLANNEL_UDP_OVERHEAD = 28

export const flannelUdp: Encapsulation = {
  backendType: 'udp',
  name: 'flannel-udp',
  defaultPort: FLANNEL_UDP_PORT,
  overhead: FLANNEL_UDP_OVERHEAD,
  headerLength: 0,
  encapsulate(_bytes, off) {
    return off
  },
  decapsulate() {
    return 0
  },
}
