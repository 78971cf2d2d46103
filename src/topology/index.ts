/** Test/benchmark/demo topologies in network namespaces: see topology.ts for the layout and API. */
export {
  Topology,
  canCreateTopology,
  listLeftovers,
  processPrefix,
  uniquePrefix,
  stopChild,
  type TopologyNode,
  type TopologyOptions,
} from './topology.js'
export { runCommand, runChecked, formatArgv, type CommandResult, type CommandOptions } from './command.js'
export {
  applyKernelVxlan,
  configureKernelVxlanHost,
  type KernelVxlanRemote,
  flannelVtepMac,
  FLANNEL_VXLAN_OVERHEAD,
  FLANNEL_VXLAN_PORT,
  FLANNEL_VXLAN_VNI,
  type KernelVxlanHost,
  type KernelVxlanOptions,
} from './kernel-vxlan.js'
export { applyVethDirect } from './veth-direct.js'
export { liveCount } from './registry.js'
