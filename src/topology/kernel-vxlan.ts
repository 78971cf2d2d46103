/**
 * Configures the Linux kernel's own vxlan device on every host of a Topology exactly as flannel's vxlan
 * backend does, so tests and benchmarks can compare tartan against (and interoperate with) the real thing.
 *
 * Matched against flannel's source (github.com/flannel-io/flannel, pkg/backend/vxlan/{vxlan.go,device.go,
 * vxlan_network.go}, pkg/mac/mac.go, Documentation/backends.md; read at commit cdf76059) and the netlink
 * library it uses (vishvananda/netlink addVxlanAttrs):
 *   - device name `flannel.<VNI>`, VNI default 1;
 *   - MAC: random, locally administered unicast (first byte = (b & 0xfe) | 0x02, pkg/mac NewHardwareAddr),
 *     set at creation; it is the VtepMAC published in the node's lease;
 *   - MTU = external interface MTU - 50 (encapOverhead: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14);
 *   - VtepDevIndex = external interface, SrcAddr (local) = its IPv4 address;
 *   - port: flannel leaves it unset by default so the kernel default applies, 8472 (vxlan module's
 *     vxlan_port; backends.md "defaults to kernel default, currently 8472"); we pass dstport 8472 explicitly;
 *   - learning off (`nolearning`, Learning default false), GBP off, proxy/rsc/l2miss/l3miss off, TTL 0
 *     (inherit), TOS 0;
 *   - UDP checksum: flannel sends no IFLA_VXLAN_UDP_CSUM attribute (netlink only adds it when true), so the
 *     kernel default applies, which on current kernels is checksums ON (the kernel sets ZERO_CSUM_TX only
 *     when the attribute is present and 0). `ip link add type vxlan` without udpcsum options does the same;
 *   - net.ipv6.conf.flannel/1.accept_ra = 0 (errors ignored, as flannel does);
 *   - address = lease subnet network address /32 (e.g. 10.244.1.0/32, "so that no broadcast routes are
 *     created"), then link up;
 *   - per remote lease, in this order: ARP/neighbour entry (remote subnet address -> remote VtepMAC,
 *     NUD_PERMANENT, NeighSet = replace), FDB entry (remote VtepMAC -> dst remote public IP, AF_BRIDGE,
 *     NTF_SELF, NUD_PERMANENT), route (dst remote subnet, gw remote subnet address, dev flannel.1, onlink,
 *     scope universe, RouteReplace);
 *   - pods get MTU = the device MTU (FLANNEL_MTU in subnet.env, applied by flannel's CNI plugin).
 * Not modelled: DirectRouting (off by default), IPv6, flannel's iptables rules (not needed for pod-to-pod).
 */
import { randomBytes } from 'node:crypto'
import { TartanError } from '../errors.js'
import type { Topology, TopologyNode } from './topology.js'

/** flannel vxlan's per-packet overhead (pkg/backend/vxlan/device.go: MTU - 50). */
export const FLANNEL_VXLAN_OVERHEAD = 50
/** The Linux vxlan module's default UDP port, which flannel uses by default. */
export const FLANNEL_VXLAN_PORT = 8472
export const FLANNEL_VXLAN_VNI = 1

export interface KernelVxlanOptions {
  /** VXLAN network identifier; default 1 (flannel's default). */
  vni?: number
  /** UDP destination port; default 8472. */
  port?: number
  /** Also set every pod's MTU to the device MTU, as flannel's CNI would; default true for applyKernelVxlan, false for configureKernelVxlanHost (which configures one host of a mixed topology). */
  setPodMtu?: boolean
}

/** What was configured on one host. */
export interface KernelVxlanHost {
  readonly index: number
  /** `flannel.<vni>`. */
  readonly device: string
  /** The device's MAC (flannel's VtepMAC), aa:bb:cc:dd:ee:ff. */
  readonly vtepMac: string
  readonly mtu: number
}

/** Returns a random locally administered unicast MAC, the way flannel's pkg/mac NewHardwareAddr does. */
export function flannelVtepMac(): string {
  const b = randomBytes(6)
  b[0] = (b[0] & 0xfe) | 0x02
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':')
}

/** Creates flannel.<vni> on every host and installs neighbour, FDB and route entries for every other host. */
export async function applyKernelVxlan(topo: Topology, options: KernelVxlanOptions = {}): Promise<KernelVxlanHost[]> {
  const macs = topo.nodes.map(() => flannelVtepMac())
  const hosts: KernelVxlanHost[] = []
  for (const n of topo.nodes) {
    const remotes = topo.nodes.filter((r) => r.index !== n.index).map((r) => ({ node: r, vtepMac: macs[r.index]! }))
    hosts.push(await configureKernelVxlanHost(topo, n, macs[n.index]!, remotes, { ...options, setPodMtu: false }))
  }
  if (options.setPodMtu ?? true) await topo.setPodMtu(hosts[0]?.mtu ?? topo.underlayMtu - FLANNEL_VXLAN_OVERHEAD)
  return hosts
}

/** A remote VTEP as flannel learns it from a lease: the node (underlay address, subnet) and its VtepMAC. */
export interface KernelVxlanRemote {
  node: TopologyNode
  vtepMac: string
}

/** Creates flannel.<vni> on one host with MAC `vtepMac`, with entries for each remote VTEP (which may be
 * anything that speaks VXLAN, such as a tartan node), exactly as flannel's vxlan backend would. */
export async function configureKernelVxlanHost(
  topo: Topology, n: TopologyNode, vtepMac: string, remotes: readonly KernelVxlanRemote[], options: KernelVxlanOptions = {},
): Promise<KernelVxlanHost> {
  const vni = options.vni ?? FLANNEL_VXLAN_VNI
  const port = options.port ?? FLANNEL_VXLAN_PORT
  if (!Number.isInteger(vni) || vni < 1 || vni > 0xffffff) {
    throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `vni must be an integer in 1..16777215 (24 bits), got ${vni}.`)
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `port must be an integer in 1..65535, got ${port}.`)
  }
  const host: KernelVxlanHost = { index: n.index, device: `flannel.${vni}`, vtepMac, mtu: topo.underlayMtu - FLANNEL_VXLAN_OVERHEAD }
  await createDevice(topo, n, host, vni, port)
  for (const r of remotes) await addRemote(topo, n, r.node, r.vtepMac, host.device)
  if (options.setPodMtu ?? false) await topo.setPodMtu(host.mtu)
  return host
}

async function createDevice(topo: Topology, n: TopologyNode, host: KernelVxlanHost, vni: number, port: number): Promise<void> {
  const h = n.hostNs
  await topo.ip(h, [
    'link', 'add', host.device, 'address', host.vtepMac, 'mtu', String(host.mtu),
    'type', 'vxlan', 'id', String(vni), 'local', n.underlayIp, 'dev', n.underlayIf,
    'dstport', String(port), 'nolearning',
  ])
  // flannel: sysctl net/ipv6/conf/<dev>/accept_ra = 0, result ignored (IPv6 may be disabled).
  await topo.exec(h, ['sysctl', '-q', '-w', `net.ipv6.conf.${host.device.replace('.', '/')}.accept_ra=0`])
  await topo.ip(h, ['addr', 'add', `${n.subnetAddress}/32`, 'dev', host.device])
  await topo.ip(h, ['link', 'set', host.device, 'up'])
}

async function addRemote(topo: Topology, n: TopologyNode, remote: TopologyNode, remoteMac: string, device: string): Promise<void> {
  const h = n.hostNs
  await topo.ip(h, ['neigh', 'replace', remote.subnetAddress, 'lladdr', remoteMac, 'dev', device, 'nud', 'permanent'])
  await topo.execChecked(h, ['bridge', 'fdb', 'replace', remoteMac, 'dev', device, 'dst', remote.underlayIp, 'self', 'permanent'])
  await topo.ip(h, ['route', 'replace', remote.subnet, 'via', remote.subnetAddress, 'dev', device, 'onlink'])
}
