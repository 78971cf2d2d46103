/**
 * The bridge between a Node (which needs a PeerSink at construction and delivers the first peers while it
 * acquires its lease) and the Engine (which can only be created once the lease, its subnet, is known).
 * Until an engine is attached the sink holds the desired peer set; attach() applies all of it in one
 * atomic update; after that every change goes straight to the engine.
 */
import type { PeerSink, PeerSpec } from '../node/peer-sink.js'

/** What the sink drives: Engine satisfies it. */
export interface PeerTarget {
  updatePeers(changes: { add: PeerSpec[]; remove: string[] }): void
}

/** Called when the target refused a change (e.g. two leases claim one underlay address). */
export type RejectHandler = (spec: PeerSpec | string, error: Error) => void

export class DeferredPeerSink implements PeerSink {
  private readonly desired = new Map<string, PeerSpec>()
  private target: PeerTarget | null = null
  private readonly onReject: RejectHandler

  constructor(onReject: RejectHandler = () => undefined) {
    this.onReject = onReject
  }

  /** The peers the Node wants routed now, by subnet. */
  peers(): PeerSpec[] {
    return [...this.desired.values()]
  }

  /** Records the change and, when a target is attached, applies it. Never throws. */
  updatePeers(changes: { add: PeerSpec[]; remove: string[] }): void {
    for (const s of changes.remove) this.desired.delete(s)
    for (const p of changes.add) this.desired.set(p.subnet, p)
    if (this.target !== null) this.apply(this.target, changes)
  }

  /** Hands the whole desired set to `target` in one update; later changes follow. */
  attach(target: PeerTarget): void {
    this.target = target
    this.apply(target, { add: this.peers(), remove: [] })
  }

  /** Stops forwarding changes (the target is going away); the desired set is kept. */
  detach(): void {
    this.target = null
  }

  /** Applies atomically; if the target refuses the batch, applies what it accepts one by one. */
  private apply(target: PeerTarget, changes: { add: PeerSpec[]; remove: string[] }): void {
    try {
      target.updatePeers(changes)
      return
    } catch {
      // Fall through: find the offending entries.
    }
    for (const s of changes.remove) {
      try {
        target.updatePeers({ add: [], remove: [s] })
      } catch (err) {
        this.onReject(s, err as Error)
      }
    }
    for (const p of changes.add) {
      try {
        target.updatePeers({ add: [p], remove: [] })
      } catch (err) {
        this.onReject(p, err as Error)
      }
    }
  }
}
