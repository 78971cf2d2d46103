/**
 * The contenders of the end-to-end benchmark. Each one turns a fresh two-node Topology into a network where
 * pod 0 reaches pod 1, and says which processes (if any) are its own so their CPU and memory are counted.
 * Add a contender by appending to CONTENDERS (or pass one to runBenchmark): nothing else needs to change.
 */
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import {
  applyKernelVxlan,
  applyVethDirect,
  FLANNEL_VXLAN_OVERHEAD,
  FLANNEL_VXLAN_PORT,
  stopChild,
  type Topology,
} from '../../src/topology/index.js'

/** A contender set up on one topology, for one round. */
export interface ContenderSession {
  /** Processes that are this contender's data plane (their CPU and peak RSS are reported); may be empty. */
  readonly pids: readonly number[]
  /** Anything worth keeping from the run (counters, versions), read just before teardown. */
  collect(): Promise<Record<string, unknown>>
  /** Stops what setup started; the topology itself is destroyed by the harness. */
  teardown(): Promise<void>
}

export interface Contender {
  /** Stable key used in results and on the command line. */
  readonly name: string
  /** Human label for tables and charts. */
  readonly label: string
  /** Pod MTU this contender's real deployment would give pods (flannel's FLANNEL_MTU). */
  podMtu(underlayMtu: number): number
  /** Null when the contender can run here, else a sentence saying why not. */
  unavailable(): Promise<string | null>
  /** Configures the topology; rejects when the contender fails to come up. */
  setup(topo: Topology): Promise<ContenderSession>
}

const noProcesses: ContenderSession = {
  pids: [],
  collect: async () => ({}),
  teardown: async () => undefined,
}

/** The ceiling: plain routing over the underlay (flannel host-gw), no encapsulation. */
export const vethContender: Contender = {
  name: 'veth',
  label: 'veth (no overlay)',
  podMtu: (underlayMtu) => underlayMtu,
  unavailable: async () => null,
  setup: async (topo) => {
    await applyVethDirect(topo)
    return noProcesses
  },
}

/** The reference: the kernel's vxlan device configured exactly as flannel's vxlan backend does. */
export const kernelVxlanContender: Contender = {
  name: 'kernel-vxlan',
  label: 'kernel VXLAN (flannel)',
  podMtu: (underlayMtu) => underlayMtu - FLANNEL_VXLAN_OVERHEAD,
  unavailable: async () => null,
  setup: async (topo) => {
    await applyKernelVxlan(topo, { setPodMtu: false })
    return noProcesses
  },
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const ENGINE_SCRIPT = 'src/cli/engine-process.ts'
/** How long an engine may take to print {"event":"ready"} (node + tsx start-up, native addon load). */
const ENGINE_READY_TIMEOUT_MS = 20_000
const ENGINE_STOP_GRACE_MS = 3_000

export interface TartanContenderOptions {
  name: string
  label: string
  encapsulation: string
  port: number
  /** Encapsulation overhead: pod MTU = underlay MTU - overhead (flannel-udp 28, vxlan 50). */
  overhead: number
  /** TUN offloads and UDP GSO/GRO (engine option `offload`); default on. */
  offload?: boolean
  /** Engine option `busyPollUs` (bounded busy polling after traffic); default the engine's. */
  busyPollUs?: number
}

/** A tartan engine per host (`node --import tsx src/cli/engine-process.ts '<json>'`) with one encapsulation. */
export function tartanContender(o: TartanContenderOptions): Contender {
  return {
    name: o.name,
    label: o.label,
    podMtu: (underlayMtu) => underlayMtu - o.overhead,
    unavailable: async () => {
      if (!existsSync(`${ROOT}${ENGINE_SCRIPT}`)) return `${ENGINE_SCRIPT} is not there yet`
      return null
    },
    setup: (topo) => startEngines(topo, o),
  }
}

/** tartan with flannel's UDP encapsulation (flannel udp backend: port 8285, overhead 20 IPv4 + 8 UDP). */
export const tartanUdpContender = tartanContender({
  name: 'tartan-udp',
  label: 'tartan flannel-UDP',
  encapsulation: 'flannel-udp',
  port: 8285,
  overhead: 28,
})

/** tartan with VXLAN encapsulation (port 8472, VNI 1, MTU 1450), wire-compatible with the kernel contender. */
export const tartanVxlanContender = tartanContender({
  name: 'tartan-vxlan',
  label: 'tartan VXLAN',
  encapsulation: 'vxlan',
  port: FLANNEL_VXLAN_PORT,
  overhead: FLANNEL_VXLAN_OVERHEAD,
})

/** tartan flannel-UDP with offloads off (plain frames and one datagram per message): the fallback path. */
export const tartanUdpNoOffloadContender = tartanContender({
  name: 'tartan-udp-nooffload',
  label: 'tartan flannel-UDP, offloads off',
  encapsulation: 'flannel-udp',
  port: 8285,
  overhead: 28,
  offload: false,
})

/** tartan flannel-UDP with busy polling off (busyPollUs 0): every packet after a pause costs a process wakeup. */
export const tartanUdpNoBusyPollContender = tartanContender({
  name: 'tartan-udp-nobusypoll',
  label: 'tartan flannel-UDP, busy poll off',
  encapsulation: 'flannel-udp',
  port: 8285,
  overhead: 28,
  busyPollUs: 0,
})

/** Every known contender, by name. */
export const CONTENDERS: readonly Contender[] = [
  vethContender, kernelVxlanContender, tartanUdpContender, tartanVxlanContender, tartanUdpNoOffloadContender,
  tartanUdpNoBusyPollContender,
]
/** The contenders a plain `npm run bench` runs. */
export const DEFAULT_CONTENDERS: readonly string[] = ['veth', 'kernel-vxlan', 'tartan-udp', 'tartan-vxlan', 'tartan-udp-nooffload']

/** A locally administered VTEP MAC for node i of a benchmark topology. */
function benchVtepMac(i: number): string {
  return `02:74:61:00:00:${(i + 1).toString(16).padStart(2, '0')}`
}

interface Engine {
  child: import('node:child_process').ChildProcess
  lines: AsyncIterator<string>
  stderr: string[]
}

async function startEngines(topo: Topology, o: TartanContenderOptions): Promise<ContenderSession> {
  const engines: Engine[] = []
  const teardown = async (): Promise<void> => {
    await Promise.all(
      engines.map((e) => {
        e.child.stdin?.end()
        return stopChild(e.child, ENGINE_STOP_GRACE_MS)
      }),
    )
  }
  try {
    for (const n of topo.nodes) {
      const config = {
        tunName: 'tartan0',
        network: '10.244.0.0/16',
        subnet: n.subnet,
        underlayAddress: n.underlayIp,
        underlayMtu: topo.underlayMtu,
        encapsulation: o.encapsulation,
        port: o.port,
        // Fixed VTEP MACs, so each engine knows its peers' without a lease store (ignored by flannel-udp).
        vtepMac: benchVtepMac(n.index),
        ...(o.offload === false ? { offload: false } : {}),
        ...(o.busyPollUs !== undefined ? { busyPollUs: o.busyPollUs } : {}),
        peers: topo.nodes
          .filter((m) => m.index !== n.index)
          .map((m) => ({ publicIp: m.underlayIp, subnet: m.subnet, port: o.port, vtepMac: benchVtepMac(m.index) })),
      }
      const child = topo.spawn(n.hostNs, [process.execPath, '--import', 'tsx', ENGINE_SCRIPT, JSON.stringify(config)], {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'pipe'],
      })
      const stderr: string[] = []
      child.stderr?.on('data', (b: Buffer) => {
        stderr.push(b.toString())
        if (stderr.length > 50) stderr.shift()
      })
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
      const e: Engine = { child, lines, stderr }
      engines.push(e)
      await waitEvent(e, 'ready', ENGINE_READY_TIMEOUT_MS)
      await ensureRoute(topo, n.hostNs)
    }
  } catch (err) {
    await teardown()
    throw err
  }
  return {
    pids: engines.map((e) => e.child.pid).filter((p): p is number => p !== undefined),
    collect: async () => {
      const counters: unknown[] = []
      for (const e of engines) {
        e.child.stdin?.write('counters\n')
        counters.push(await waitEvent(e, 'counters', 3_000).catch((err: Error) => ({ error: err.message })))
      }
      return { counters }
    },
    teardown,
  }
}

/** Waits for the next stdout line of the engine whose "event" is `event`; an "error" event rejects. */
async function waitEvent(e: Engine, event: string, timeoutMs: number): Promise<Record<string, unknown>> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`engine pid ${e.child.pid} sent no "${event}" within ${timeoutMs} ms${stderrTail(e)}`)), timeoutMs)
  })
  const read = (async (): Promise<Record<string, unknown>> => {
    for (;;) {
      const r = await e.lines.next()
      if (r.done === true) throw new Error(`engine pid ${e.child.pid} exited before "${event}"${stderrTail(e)}`)
      let msg: Record<string, unknown>
      try {
        msg = JSON.parse(r.value) as Record<string, unknown>
      } catch {
        continue // not a protocol line (a stray log line)
      }
      if (msg.event === event) return msg
      if (msg.event === 'error') throw new Error(`engine error ${String(msg.code)}: ${String(msg.message)}`)
    }
  })()
  // If the timeout wins, the read still settles later: keep that from becoming an unhandled rejection.
  read.catch(() => undefined)
  try {
    return await Promise.race([read, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function stderrTail(e: Engine): string {
  const s = e.stderr.join('').trim()
  return s === '' ? '' : `; stderr: ${s.slice(-600)}`
}

/**
 * flannel's udp backend routes the whole network to its TUN device; if the engine did not (or not yet),
 * add the same route so the comparison is about the data plane, not about route set-up.
 */
async function ensureRoute(topo: Topology, hostNs: string): Promise<void> {
  const out = await topo.ip(hostNs, ['route', 'show', 'dev', 'tartan0']).catch(() => '')
  if (!out.includes('10.244.0.0/16')) await topo.ip(hostNs, ['route', 'replace', '10.244.0.0/16', 'dev', 'tartan0'])
}
