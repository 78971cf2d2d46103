/**
 * Registry of live topologies, so that a process which exits, is interrupted (SIGINT) or terminated
 * (SIGTERM) still deletes the namespaces it made and kills the processes it started in them.
 * Handlers are installed while at least one topology is live and removed when the last one is gone.
 */

/** Something that can tear itself down synchronously (used from 'exit', where no async work can run). */
export interface SyncDestroyable {
  destroySync(): void
}

const live = new Set<SyncDestroyable>()
let installed = false

/** Adds a topology to the registry; its destroySync runs if the process exits while it is still live. */
export function register(t: SyncDestroyable): void {
  live.add(t)
  if (!installed) install()
}

/** Removes a topology from the registry (after it destroyed itself). */
export function unregister(t: SyncDestroyable): void {
  live.delete(t)
  if (live.size === 0 && installed) uninstall()
}

/** Number of live topologies in this process (for tests and diagnostics). */
export function liveCount(): number {
  return live.size
}

function destroyAllSync(): void {
  for (const t of [...live]) {
    try {
      t.destroySync()
    } catch {
      // Keep going: one topology failing to clean up must not keep the others alive.
    }
    live.delete(t)
  }
}

function onExit(): void {
  destroyAllSync()
}

function onSignal(signal: NodeJS.Signals): void {
  destroyAllSync()
  uninstall()
  // If nobody else handles this signal, die of it as the default disposition would have.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
}

function install(): void {
  installed = true
  process.on('exit', onExit)
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
}

function uninstall(): void {
  installed = false
  process.removeListener('exit', onExit)
  process.removeListener('SIGINT', onSignal)
  process.removeListener('SIGTERM', onSignal)
}
