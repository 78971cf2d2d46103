/**
 * What flannel's CNI plugin does with subnet.env, for a topology node: the cni0 bridge gets the lease's
 * first address (FLANNEL_SUBNET), the pod the next one with cni0 as its default gateway, and both ends of
 * the pod's link the overlay MTU (FLANNEL_MTU). Returns the pod's new address.
 */
import { readFileSync } from 'node:fs'
import { parseCidr, intToIpv4 } from '../config/cidr.js'
import { parseEnvFile } from '../node/subnet-env.js'
import { TartanError } from '../errors.js'
import type { Topology, TopologyNode } from '../topology/index.js'

export interface PodAddress {
  /** The pod's address, e.g. '10.244.37.2'. */
  podIp: string
  /** cni0's address (the pod's gateway), e.g. '10.244.37.1'. */
  gateway: string
  /** The node's subnet, e.g. '10.244.37.0/24'. */
  subnet: string
  mtu: number
}

/** Reads subnet.env into the pod addressing it implies; throws TARTAN_ERR_SUBNET_FILE when it cannot. */
export function podAddress(subnetEnvPath: string): PodAddress {
  const env = parseEnvFile(readFileSync(subnetEnvPath, 'utf8'))
  const first = env.get('FLANNEL_SUBNET') ?? ''
  const mtu = Number(env.get('FLANNEL_MTU'))
  const c = parseCidr(first, true)
  if (!c.ok || !Number.isInteger(mtu)) {
    throw new TartanError('TARTAN_ERR_SUBNET_FILE', `${subnetEnvPath}: no usable FLANNEL_SUBNET/FLANNEL_MTU (${first}, ${env.get('FLANNEL_MTU')})`)
  }
  const net = c.net
  return {
    podIp: intToIpv4(net.addr + 2),
    gateway: intToIpv4(net.addr + 1),
    subnet: `${intToIpv4(net.addr)}/${net.len}`,
    mtu,
  }
}

/** Re-addresses node `n`'s cni0 and pod from its subnet.env, as the CNI plugin would. */
export async function wirePod(topo: Topology, n: TopologyNode, subnetEnvPath: string): Promise<PodAddress> {
  const a = podAddress(subnetEnvPath)
  const len = a.subnet.split('/')[1]
  await topo.ip(n.hostNs, ['addr', 'flush', 'dev', n.bridgeIf])
  await topo.ip(n.hostNs, ['addr', 'add', `${a.gateway}/${len}`, 'dev', n.bridgeIf])
  await topo.ip(n.hostNs, ['link', 'set', n.podVethHostIf, 'mtu', String(a.mtu)])
  await topo.ip(n.podNs, ['link', 'set', n.podIf, 'mtu', String(a.mtu)])
  await topo.ip(n.podNs, ['addr', 'flush', 'dev', n.podIf])
  await topo.ip(n.podNs, ['addr', 'add', `${a.podIp}/${len}`, 'dev', n.podIf])
  await topo.ip(n.podNs, ['route', 'replace', 'default', 'via', a.gateway])
  return a
}
