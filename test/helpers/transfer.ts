/**
 * A TCP transfer between two pods of a topology, checked end to end by SHA-256 (test/fixtures/tcp-transfer.mjs
 * runs in both pod namespaces; the topology tracks and ends both processes).
 */
import type { Topology } from '../../src/topology/index.js'
import { ROOT } from './engine-process.js'
import { linesOf } from './lines.js'

export interface TransferResult {
  sent: { bytes: number; sha256: string }
  received: { bytes: number; sha256: string }
}

/** Sends `bytes` pseudo-random bytes from namespace `fromNs` to `toIp:port` served in `toNs`. */
export async function tcpTransfer(topo: Topology, fromNs: string, toNs: string, toIp: string, port: number, bytes: number, timeoutMs = 120_000): Promise<TransferResult> {
  const script = `${ROOT}test/fixtures/tcp-transfer.mjs`
  const server = linesOf(topo.spawn(toNs, [process.execPath, script, 'serve', toIp, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] }))
  await server.next((m) => m.event === 'listening', 10_000)
  const client = linesOf(topo.spawn(fromNs, [process.execPath, script, 'send', toIp, String(port), String(bytes), String(port)], { stdio: ['ignore', 'pipe', 'pipe'] }))
  const sent = await client.next((m) => m.event === 'sent' || m.event === 'error', timeoutMs)
  const received = await server.next((m) => m.event === 'received' || m.event === 'error', timeoutMs)
  return { sent, received }
}
