/**
 * The "no overlay" ceiling: pod subnets are routed between hosts directly over the underlay, one route
 * per remote node (`10.244.M.0/24 via 198.18.0.M dev eth0`), which is what flannel's host-gw backend
 * installs. Packets cross the same veths and bridges as with an overlay but are never encapsulated.
 */
import type { Topology } from './topology.js'

/** Installs, on every host, a route to every other host's pod subnet via that host's underlay address. */
export async function applyVethDirect(topo: Topology): Promise<void> {
  for (const n of topo.nodes) {
    for (const remote of topo.nodes) {
      if (remote.index === n.index) continue
      await topo.ip(n.hostNs, ['route', 'replace', remote.subnet, 'via', remote.underlayIp, 'dev', n.underlayIf])
    }
  }
}
