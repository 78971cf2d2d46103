/**
 * Registry of live topologies, so that a process which exits, is interrupted (SIGINT) or terminated
 * (SIGTERM) still deletes the namespaces it made and kills the processes it started in them.
 * Handlers are installed while at least one topology is live and removed when the last one is gone.
 * On SIGINT/SIGTERM the handler cleans up, removes itself and re-raises the signal (see onSignal).
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
  // Re-raise so the process ends as the signal intends. With no other listener the default disposition
  // kills the process; other listeners (for example signal-exit, which only re-raises when it is the
  // last listener, and it ran before us) get the signal a second time, now without us in the way.
  process.kill(process.pid, signal)
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
