/**
 * `tartan status`: asks a running node (GET /status on its metrics port) and prints its lease, peers,
 * routes and counters as readable tables, or the raw JSON with --json. A node that does not answer is a
 * runtime error (exit 1) saying where it looked.
 */
import type { DaemonStatus } from '../daemon/daemon.js'
import { TartanError } from '../errors.js'
import { STATUS_FLAGS, parseFlags } from './flags.js'
import { formatBytes, formatDuration, formatTable } from './table.js'
import { UsageError } from './usage-error.js'

/** Renders a node's status as text: a summary, the peer table, routes and counters. */
export function formatStatus(s: DaemonStatus, now = Date.now()): string {
  const n = s.node
  const out: string[] = []
  const l = s.lease
  out.push(`node     ${n.publicIp ?? '?'} (${n.iface ?? '?'}, bound to ${n.bindAddress ?? '?'})  ${s.ready ? 'READY' : 'NOT READY'}`)
  out.push(
    `backend  ${n.backend ?? '?'} port ${n.port ?? '?'}${n.vni !== null ? ` VNI ${n.vni}` : ''}` +
      `${n.vtepMac !== null ? ` VtepMAC ${n.vtepMac}` : ''}  tun ${n.tun} mtu ${n.mtu ?? '?'}  network ${n.network ?? '?'}`,
  )
  out.push(
    l === null
      ? 'lease    none'
      : `lease    ${l.subnet}${l.expiresAt !== null ? `  expires ${new Date(l.expiresAt).toISOString()} (in ${formatDuration(l.expiresAt - now)})` : ''}`,
  )
  out.push(`store    ${s.store.description}  ${s.store.reachable ? 'reachable' : 'UNREACHABLE'}  errors ${s.store.errors}  renewals ${s.store.renewals}`)
  out.push('')
  if (s.peers.length === 0) {
    out.push('peers    none')
  } else {
    out.push(
      formatTable(
        ['PEER', 'SUBNET', 'RX PKTS', 'RX BYTES', 'TX PKTS', 'TX BYTES', 'TX ERRORS'],
        s.peers.map((p) => [
          p.publicIp, p.subnet, String(p.rxPackets), formatBytes(p.rxBytes), String(p.txPackets), formatBytes(p.txBytes), String(p.txErrors ?? 0),
        ]),
        [2, 3, 4, 5, 6],
      ),
    )
  }
  out.push('')
  out.push(`routes   ${s.routes.length}${s.routes.length > 0 ? `: ${s.routes.join(', ')}` : ''}`)
  const c = s.counters
  if (c !== null) {
    out.push(`traffic  tx ${c.txPackets} pkts (${formatBytes(c.txBytes)})  rx ${c.rxPackets} pkts (${formatBytes(c.rxBytes)})  ICMP errors sent ${c.icmpSent}`)
    const drops = Object.entries(c.drops).filter(([, v]) => v > 0)
    out.push(`drops    ${drops.length === 0 ? 'none' : drops.map(([k, v]) => `${k}=${v}`).join(' ')}`)
  }
  return out.join('\n')
}

/** Fetches GET /status from `url`; throws TARTAN_ERR_STATE with what to check when the node does not answer. */
export async function fetchStatus(url: string, timeoutMs = 3000): Promise<DaemonStatus> {
  const target = `${url.replace(/\/+$/, '')}/status`
  let res: Response
  try {
    res = await fetch(target, { signal: AbortSignal.timeout(timeoutMs) })
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message
    throw new TartanError('TARTAN_ERR_STATE', `no tartan node answers at ${target} (${cause}); is \`tartan run\` running with --metrics-port there?`)
  }
  if (!res.ok) throw new TartanError('TARTAN_ERR_STATE', `${target} answered ${res.status}; is that a tartan node?`)
  return (await res.json()) as DaemonStatus
}

/** Runs `tartan status`; resolves with the exit code. */
export async function status(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const f = parseFlags(STATUS_FLAGS, argv, env, 'status')
  if (f.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(f.positional[0])}`, 'status')
  const url = String(f.values.url)
  try {
    const u = new URL(url)
    if (u.protocol !== 'http:') throw new Error('not http')
  } catch {
    throw new UsageError(`--url ${JSON.stringify(url)} is not an http:// URL (e.g. http://127.0.0.1:8286)`, 'status')
  }
  const s = await fetchStatus(url)
  process.stdout.write(f.values.json === true ? `${JSON.stringify(s, null, 2)}\n` : `${formatStatus(s)}\n`)
  return 0
}
