/**
 * Test double for the engine's side of "routes follow leases": records the current route view (subnet ->
 * peer) and every atomic update, with the time it arrived.
 */
import type { PeerSink, PeerSpec } from '../../src/node/peer-sink.js'

export interface RecordedUpdate {
  at: number
  add: PeerSpec[]
  remove: string[]
}

export class FakeSink implements PeerSink {
  readonly routes = new Map<string, PeerSpec>()
  readonly updates: RecordedUpdate[] = []

  updatePeers(changes: { add: PeerSpec[]; remove: string[] }): void {
    for (const s of changes.remove) this.routes.delete(s)
    for (const p of changes.add) this.routes.set(p.subnet, p)
    this.updates.push({ at: Date.now(), add: changes.add, remove: changes.remove })
  }

  /** The routed subnets, sorted. */
  subnets(): string[] {
    return [...this.routes.keys()].sort()
  }
}

/** Polls `pred` every 10 ms; resolves with the time it first held, rejects after `timeoutMs`. */
export async function waitUntil(pred: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (pred()) return Date.now()
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
