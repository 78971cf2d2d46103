/**
 * Multi-host test topologies in Linux network namespaces, built with iproute2 (`ip`), for tests, `tartan
 * demo` and the end-to-end benchmark. Needs root (CAP_NET_ADMIN + CAP_SYS_ADMIN).
 *
 * Layout for `nodes: N` (i = 0..N-1, n = i + 1), every name prefixed with `<prefix>-`:
 *
 *   <prefix>-u   underlay: bridge br0 (up), one port h<i> per host; no addresses.
 *   <prefix>-h<i> host i: lo up, ip_forward=1, rp_filter=0 (all/default/each device);
 *                 eth0 = veth to <prefix>-u/h<i>, 198.18.0.n/24 (RFC 2544 benchmarking range), mtu underlayMtu;
 *                 cni0 = bridge, 10.244.n.1/24 (flannel's default network, cni0 as flannel's CNI names it);
 *                 veth0 = port of cni0, peer of the pod's eth0.
 *   <prefix>-p<i> pod i: lo up; eth0 = 10.244.n.2/24, mtu podMtu, default via 10.244.n.1.
 *
 * Nothing in the root namespace changes: every link is created inside a namespace, veth peers are put
 * straight into their namespace (`ip -n A link add X type veth peer name Y netns B`). Between hosts
 * there is only the underlay; how pod subnets reach each other is up to the caller (kernel-vxlan.ts,
 * veth-direct.ts, or a tartan engine).
 *
 * API:
 *   const topo = await Topology.create({ nodes: 2, underlayMtu?: 1500, podMtu?: underlayMtu, prefix? })
 *   topo.prefix, topo.underlayNs, topo.nodes[i] (see TopologyNode), topo.namespaces()
 *   await topo.exec(ns, argv, { timeoutMs? })   -> { stdout, stderr, code, signal, timedOut } (never throws on exit code)
 *   await topo.execChecked(ns, argv)            -> stdout, throws TartanError on failure
 *   await topo.ip(ns, args)                     -> `ip -n ns ...args`, throws on failure
 *   topo.spawn(ns, argv, spawnOptions?)         -> ChildProcess, tracked by pid and killed on destroy
 *   await topo.setPodMtu(mtu)                   -> pod eth0 + host veth0 of every node
 *   await topo.destroy()                        -> TERM tracked processes, KILL after a grace, delete every
 *                                                  namespace it made; idempotent, safe after a failed create
 *   listLeftovers(prefix)                       -> namespaces named `prefix` or `prefix-...`
 *   canCreateTopology()                         -> null when possible, else the reason (for test skips)
 *
 * `exec`/`spawn` accept only namespaces of this topology, so a typo cannot run a command elsewhere.
 * Live topologies are destroyed synchronously on process exit, SIGINT and SIGTERM (registry.ts).
 */
import { spawn as spawnChild, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { existsSync } from 'node:fs'
import { TartanError } from '../errors.js'
import { runChecked, runCommand, runSyncQuiet, type CommandOptions, type CommandResult } from './command.js'
import { register, unregister } from './registry.js'

/** One host of a topology and its single pod. */
export interface TopologyNode {
  /** 0-based position; the host's addresses use index + 1. */
  readonly index: number
  /** Host namespace name. */
  readonly hostNs: string
  /** /var/run/netns/<hostNs>, for setns() by a process started elsewhere. */
  readonly netnsPath: string
  /** Host-side underlay interface (veth to the underlay bridge). */
  readonly underlayIf: string
  /** 198.18.0.(index+1). */
  readonly underlayIp: string
  /** Prefix length of the underlay address (24). */
  readonly underlayPrefixLen: number
  /** Pod namespace name. */
  readonly podNs: string
  readonly podNetnsPath: string
  /** Interface name inside the pod namespace. */
  readonly podIf: string
  /** 10.244.(index+1).2. */
  readonly podIp: string
  /** The cni0 bridge in the host namespace. */
  readonly bridgeIf: string
  /** 10.244.(index+1).1, the pod's default gateway. */
  readonly bridgeIp: string
  /** Host-side end of the pod's veth (a cni0 port). */
  readonly podVethHostIf: string
  /** 10.244.(index+1).0/24. */
  readonly subnet: string
  /** 10.244.(index+1).0, the subnet's network address (flannel puts it on its device as /32). */
  readonly subnetAddress: string
}

export interface TopologyOptions {
  /** Number of hosts, 1..250. */
  nodes: number
  /** MTU of the underlay links (68..65535); default 1500. */
  underlayMtu?: number
  /** MTU of the pod links; default underlayMtu. Overlays usually want less (see setPodMtu). */
  podMtu?: number
  /** Namespace name prefix; default `tt<pid base 36>-<counter base 36>`. Letters, digits, '-', '_'; max 32. */
  prefix?: string
  /** Timeout of each setup command in ms; default 10 000. */
  commandTimeoutMs?: number
}

/** How long destroy() waits after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 2_000
const NETNS_DIR = '/var/run/netns'
const MAX_NODES = 250
const PREFIX_RE = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,31}$/

let counter = 0

/** Returns this process's default prefix stem `tt<pid base 36>`; topology prefixes are `<stem>-<n>`. */
export function processPrefix(): string {
  return `tt${process.pid.toString(36)}`
}

/** Returns a fresh default prefix, unique within this process and (via the pid) among live processes. */
export function uniquePrefix(): string {
  counter += 1
  return `${processPrefix()}-${counter.toString(36)}`
}

/** Returns null if this process can build topologies, else a sentence saying what is missing. */
export function canCreateTopology(): string | null {
  if (process.platform !== 'linux') return 'needs Linux network namespaces'
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)'
  if (runSyncQuiet(['ip', '-V']) !== 0) return 'needs iproute2 (`ip`)'
  return null
}

/** Lists the network namespaces named `prefix` or starting with `prefix-` (whole dash-separated segments). */
export async function listLeftovers(prefix: string): Promise<string[]> {
  const out = await runChecked(['ip', 'netns', 'list'])
  const names = out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n): n is string => n !== undefined && n !== '')
  return names.filter((n) => n === prefix || n.startsWith(`${prefix}-`))
}

/** A built topology; see the module header for its layout and API. */
export class Topology {
  readonly prefix: string
  readonly underlayNs: string
  readonly nodes: readonly TopologyNode[]
  readonly underlayMtu: number
  private podMtuValue: number
  private readonly timeoutMs: number
  /** Namespaces this object created, in creation order; only these are ever deleted. */
  private readonly created: string[] = []
  private readonly children = new Set<ChildProcess>()
  private destroyPromise: Promise<void> | null = null

  private constructor(prefix: string, nodes: number, underlayMtu: number, podMtu: number, timeoutMs: number) {
    this.prefix = prefix
    this.underlayNs = `${prefix}-u`
    this.underlayMtu = underlayMtu
    this.podMtuValue = podMtu
    this.timeoutMs = timeoutMs
    const list: TopologyNode[] = []
    for (let i = 0; i < nodes; i++) {
      const n = i + 1
      const hostNs = `${prefix}-h${i}`
      const podNs = `${prefix}-p${i}`
      list.push({
        index: i,
        hostNs,
        netnsPath: `${NETNS_DIR}/${hostNs}`,
        underlayIf: 'eth0',
        underlayIp: `198.18.0.${n}`,
        underlayPrefixLen: 24,
        podNs,
        podNetnsPath: `${NETNS_DIR}/${podNs}`,
        podIf: 'eth0',
        podIp: `10.244.${n}.2`,
        bridgeIf: 'cni0',
        bridgeIp: `10.244.${n}.1`,
        podVethHostIf: 'veth0',
        subnet: `10.244.${n}.0/24`,
        subnetAddress: `10.244.${n}.0`,
      })
    }
    this.nodes = list
  }

  /** Builds a topology; on failure deletes whatever it made and throws a TartanError naming the failed command. */
  static async create(options: TopologyOptions): Promise<Topology> {
    const nodes = options.nodes
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES) {
      throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `nodes must be an integer in 1..${MAX_NODES}, got ${nodes}.`)
    }
    const underlayMtu = options.underlayMtu ?? 1500
    const podMtu = options.podMtu ?? underlayMtu
    checkMtu('underlayMtu', underlayMtu)
    checkMtu('podMtu', podMtu)
    const prefix = options.prefix ?? uniquePrefix()
    if (!PREFIX_RE.test(prefix)) {
      throw new TartanError(
        'TARTAN_ERR_INVALID_ARGUMENT',
        `prefix ${JSON.stringify(prefix)} is not usable: use 1..32 letters, digits, '-' or '_'.`,
      )
    }
    const reason = canCreateTopology()
    if (reason !== null) throw new TartanError('TARTAN_ERR_NOT_ROOT', `cannot build a topology: ${reason}.`)
    const topo = new Topology(prefix, nodes, underlayMtu, podMtu, options.commandTimeoutMs ?? 10_000)
    register(topo)
    try {
      await topo.build()
    } catch (e) {
      await topo.destroy().catch(() => undefined)
      throw e
    }
    return topo
  }

  /** Current MTU of the pod links. */
  get podMtu(): number {
    return this.podMtuValue
  }

  /** Every namespace name this topology uses (underlay first, then host and pod of each node). */
  namespaces(): string[] {
    const names = [this.underlayNs]
    for (const n of this.nodes) names.push(n.hostNs, n.podNs)
    return names
  }

  /** Runs argv inside namespace ns (`ip netns exec`), bounded by a timeout; resolves with exit status and output. */
  exec(ns: string, argv: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    this.checkNs(ns)
    return runCommand(['ip', 'netns', 'exec', ns, ...argv], { timeoutMs: this.timeoutMs, ...options })
  }

  /** Like exec, but resolves with stdout and throws a TartanError on a non-zero exit or timeout. */
  execChecked(ns: string, argv: readonly string[], options: CommandOptions = {}): Promise<string> {
    this.checkNs(ns)
    return runChecked(['ip', 'netns', 'exec', ns, ...argv], { timeoutMs: this.timeoutMs, ...options })
  }

  /** Runs `ip -n ns ...args` and resolves with stdout; throws a TartanError on failure. */
  ip(ns: string, args: readonly string[]): Promise<string> {
    this.checkNs(ns)
    return runChecked(['ip', '-n', ns, ...args], { timeoutMs: this.timeoutMs })
  }

  /** Starts argv inside namespace ns; the child is tracked by pid and ended by destroy() (TERM, then KILL). */
  spawn(ns: string, argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
    this.checkNs(ns)
    if (this.destroyPromise !== null) {
      throw new TartanError('TARTAN_ERR_STATE', `topology ${this.prefix} is destroyed; create a new one to spawn in.`)
    }
    if (argv.length === 0) throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', 'spawn needs a non-empty argv.')
    // `ip netns exec` execs the command, so the child's pid is the command's own pid.
    const child = spawnChild('ip', ['netns', 'exec', ns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'], ...options })
    this.children.add(child)
    child.once('exit', () => this.children.delete(child))
    child.once('error', () => this.children.delete(child))
    return child
  }

  /** Sets the MTU of every pod's eth0 and its host-side veth (cni0 follows its ports). */
  async setPodMtu(mtu: number): Promise<void> {
    checkMtu('podMtu', mtu)
    for (const n of this.nodes) {
      await this.ip(n.podNs, ['link', 'set', n.podIf, 'mtu', String(mtu)])
      await this.ip(n.hostNs, ['link', 'set', n.podVethHostIf, 'mtu', String(mtu)])
    }
    this.podMtuValue = mtu
  }

  /** Ends tracked processes (TERM, KILL after a grace) and deletes every namespace made; idempotent. */
  destroy(): Promise<void> {
    if (this.destroyPromise === null) this.destroyPromise = this.doDestroy()
    return this.destroyPromise
  }

  /** Synchronous teardown for process exit: SIGKILL tracked processes, delete namespaces. Never throws. */
  destroySync(): void {
    for (const c of this.children) {
      if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
        try {
          process.kill(c.pid, 'SIGKILL')
        } catch {
          // Already gone.
        }
      }
    }
    this.children.clear()
    for (const ns of [...this.created].reverse()) runSyncQuiet(['ip', 'netns', 'del', ns])
    this.created.length = 0
    this.destroyPromise ??= Promise.resolve()
    unregister(this)
  }

  private async doDestroy(): Promise<void> {
    await Promise.all([...this.children].map((c) => stopChild(c, KILL_GRACE_MS)))
    this.children.clear()
    const failed: string[] = []
    for (const ns of [...this.created].reverse()) {
      const r = await runCommand(['ip', 'netns', 'del', ns], { timeoutMs: this.timeoutMs })
      if (r.code !== 0 && existsSync(`${NETNS_DIR}/${ns}`)) failed.push(`${ns}: ${r.stderr.trim() || `exit ${r.code}`}`)
    }
    this.created.length = 0
    unregister(this)
    if (failed.length > 0) {
      throw new TartanError(
        'TARTAN_ERR_NETLINK',
        `could not delete namespaces ${failed.join('; ')}. Delete them by hand with \`ip netns del NAME\`.`,
      )
    }
  }

  private checkNs(ns: string): void {
    if (ns !== this.underlayNs && !this.nodes.some((n) => n.hostNs === ns || n.podNs === ns)) {
      throw new TartanError(
        'TARTAN_ERR_INVALID_ARGUMENT',
        `namespace ${JSON.stringify(ns)} is not part of topology ${this.prefix}; use topo.underlayNs or a node's hostNs/podNs.`,
      )
    }
  }

  private async addNs(ns: string): Promise<void> {
    await runChecked(['ip', 'netns', 'add', ns], { timeoutMs: this.timeoutMs })
    this.created.push(ns)
    await this.ip(ns, ['link', 'set', 'lo', 'up'])
  }

  private async sysctl(ns: string, settings: readonly string[]): Promise<void> {
    await this.execChecked(ns, ['sysctl', '-q', '-w', ...settings])
  }

  private async build(): Promise<void> {
    const u = this.underlayNs
    const mtu = String(this.underlayMtu)
    const podMtu = String(this.podMtuValue)
    await this.addNs(u)
    await this.ip(u, ['link', 'add', 'br0', 'mtu', mtu, 'type', 'bridge'])
    await this.ip(u, ['link', 'set', 'br0', 'up'])
    for (const n of this.nodes) {
      const h = n.hostNs
      const p = n.podNs
      await this.addNs(h)
      await this.addNs(p)
      await this.sysctl(h, [
        'net.ipv4.ip_forward=1',
        'net.ipv4.conf.all.rp_filter=0',
        'net.ipv4.conf.default.rp_filter=0',
      ])
      // Underlay: host eth0 <-> underlay h<i>, a port of br0.
      const port = `h${n.index}`
      await this.ip(h, ['link', 'add', n.underlayIf, 'mtu', mtu, 'type', 'veth', 'peer', 'name', port, 'mtu', mtu, 'netns', u])
      await this.ip(u, ['link', 'set', port, 'master', 'br0'])
      await this.ip(u, ['link', 'set', port, 'up'])
      await this.ip(h, ['addr', 'add', `${n.underlayIp}/${n.underlayPrefixLen}`, 'dev', n.underlayIf])
      await this.ip(h, ['link', 'set', n.underlayIf, 'up'])
      // Pod side: cni0 bridge in the host, veth0 <-> pod eth0.
      await this.ip(h, ['link', 'add', n.bridgeIf, 'type', 'bridge'])
      await this.ip(h, ['addr', 'add', `${n.bridgeIp}/24`, 'dev', n.bridgeIf])
      await this.ip(h, ['link', 'set', n.bridgeIf, 'up'])
      await this.ip(h, ['link', 'add', n.podVethHostIf, 'mtu', podMtu, 'type', 'veth', 'peer', 'name', n.podIf, 'mtu', podMtu, 'netns', p])
      await this.ip(h, ['link', 'set', n.podVethHostIf, 'master', n.bridgeIf])
      await this.ip(h, ['link', 'set', n.podVethHostIf, 'up'])
      await this.ip(p, ['addr', 'add', `${n.podIp}/24`, 'dev', n.podIf])
      await this.ip(p, ['link', 'set', n.podIf, 'up'])
      await this.ip(p, ['route', 'add', 'default', 'via', n.bridgeIp])
      // rp_filter uses max(all, dev); set the devices too in case a default leaked in before 'default' was set.
      await this.sysctl(h, [
        `net.ipv4.conf.${n.underlayIf}.rp_filter=0`,
        `net.ipv4.conf.${n.bridgeIf}.rp_filter=0`,
      ])
    }
  }
}

/** Ends a child: SIGTERM, then SIGKILL if it is still running after graceMs; resolves once it has exited. */
export function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    let killTimer: NodeJS.Timeout | undefined
    let hardStop: NodeJS.Timeout | undefined
    const done = (): void => {
      if (killTimer !== undefined) clearTimeout(killTimer)
      if (hardStop !== undefined) clearTimeout(hardStop)
      resolve()
    }
    child.once('exit', done)
    killTimer = setTimeout(() => {
      child.kill('SIGKILL')
      // A process in uninterruptible sleep may outlive SIGKILL for a while; do not wait for it forever.
      hardStop = setTimeout(done, graceMs)
    }, graceMs)
    child.kill('SIGTERM')
  })
}

function checkMtu(name: string, mtu: number): void {
  // 68 is the minimum IPv4 MTU (RFC 791); 65535 is ETH_MAX_MTU, the largest a veth accepts.
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `${name} must be an integer in 68..65535, got ${mtu}.`)
  }
}
