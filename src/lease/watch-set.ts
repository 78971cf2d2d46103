/**
 * The watches a lease store has open, shared by both stores: each starts when opened and stops when its
 * handle is closed, or with all the others when the store closes.
 */
import type { StoreWatch } from './lease-store.js'

/** A store's watch loop (polling for SQLite, a gRPC stream for etcd). */
export interface WatchLoop {
  start(): void
  stop(): void
}

export class WatchSet {
  private readonly live = new Set<WatchLoop>()

  /** Starts `w` and returns the handle that stops and forgets it. */
  open(w: WatchLoop): StoreWatch {
    this.live.add(w)
    w.start()
    return {
      close: async () => {
        w.stop()
        this.live.delete(w)
      },
    }
  }

  /** Stops every open watch (the store is closing). */
  stopAll(): void {
    for (const w of this.live) w.stop()
    this.live.clear()
  }
}
