/**
 * The engine side of "routes follow leases": Node tells a PeerSink (the Engine, or a test double) which
 * peers to forward to. Each call is one atomic change: the sink applies all removals, then all additions,
 * and lookups see either none or all of it. A changed lease arrives as remove + add of the same subnet.
 */

/** One peer node, as the data plane needs it. */
export interface PeerSpec {
  /** The peer's underlay address (its lease's PublicIP). */
  publicIp: string
  /** The UDP port to send to (the network config's Backend.Port; every node uses the same). */
  port?: number
  /** The peer's pod subnet, e.g. '10.244.2.0/24'. */
  subnet: string
  /** vxlan only: the peer's VTEP MAC (inner Ethernet destination). */
  vtepMac?: string
}

export interface PeerSink {
  /** Applies removals (by subnet) then additions, atomically. */
  updatePeers(changes: { add: PeerSpec[]; remove: string[] /* subnets */ }): void
}
