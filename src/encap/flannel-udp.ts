/**
 * flannel's UDP backend format: the UDP payload is exactly the inner IPv4 packet, nothing else
 * (flannel pkg/backend/udp: the proxy writes the TUN frame to the socket as is).
 */
import { DropReason } from '../engine/drop-reasons.js'
import type { Encapsulation, EncapsulationKind } from './encapsulation.js'

/** flannel's default UDP backend port (pkg/backend/udp: defaultPort = 8285). */
export const FLANNEL_UDP_PORT = 8285
/** Outer IPv4 header (20) + UDP header (8): flannel sets the TUN MTU to the underlay MTU minus 28. */
export const FLANNEL_UDP_OVERHEAD = 28

const instance: Encapsulation = {
  get kind() { return flannelUdp },
  encapsulate(_bytes, off) {
    return off
  },
  decapsulate() {
    return 0
  },
  answerControl() {
    return -1 - DropReason.NotIpv4
  },
}

export const flannelUdp: EncapsulationKind = {
  backendType: 'udp',
  name: 'flannel-udp',
  defaultPort: FLANNEL_UDP_PORT,
  overhead: FLANNEL_UDP_OVERHEAD,
  headerLength: 0,
  needsPeerMac: false,
  // flannel's proxy sends everything from its socket bound to 8285.
  sourcePorts: 1,
  create: () => instance,
}
