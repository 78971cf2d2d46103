/**
 * Drives `src/cli/engine-process.ts` (one engine per process) inside a topology host namespace: waits for
 * it to be ready, asks for counters, stops it. The process is tracked by the topology (killed by pid on
 * destroy).
 */
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Topology } from '../../src/topology/index.js'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export class EngineProcess {
  private waiters: ((msg: Record<string, unknown>) => void)[] = []
  readonly lines: Record<string, unknown>[] = []
  stderr = ''

  private constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let msg: Record<string, unknown>
      try { msg = JSON.parse(line) as Record<string, unknown> } catch { return }
      this.lines.push(msg)
      for (const w of this.waiters.splice(0)) w(msg)
    })
    child.stderr!.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-8192) })
  }

  /** Starts an engine process in host namespace `ns` with `config` and waits for "ready". */
  static async start(topo: Topology, ns: string, config: Record<string, unknown>, timeoutMs = 20_000): Promise<EngineProcess> {
    const child = topo.spawn(ns, [process.execPath, '--import', 'tsx', `${ROOT}src/cli/engine-process.ts`, JSON.stringify(config)],
      { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
    const p = new EngineProcess(child)
    const first = await p.next((m) => m.event === 'ready' || m.event === 'error', timeoutMs)
    if (first.event !== 'ready') throw new Error(`engine in ${ns} failed: ${JSON.stringify(first)} ${p.stderr}`)
    return p
  }

  /** Resolves with the next message matching `pred` (or an already-seen one). */
  next(pred: (m: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const seen = this.lines.find(pred)
    if (seen) {
      this.lines.splice(this.lines.indexOf(seen), 1)
      return Promise.resolve(seen)
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`engine process: no matching message in ${timeoutMs} ms; stderr: ${this.stderr}`)), timeoutMs)
      const onExit = () => { clearTimeout(timer); reject(new Error(`engine process exited; stderr: ${this.stderr}`)) }
      this.child.once('exit', onExit)
      const w = (m: Record<string, unknown>) => {
        if (!pred(m)) { this.waiters.push(w); return }
        this.lines.splice(this.lines.indexOf(m), 1)
        clearTimeout(timer)
        this.child.off('exit', onExit)
        resolve(m)
      }
      this.waiters.push(w)
    })
  }

  /** The engine's counters and peers. */
  async counters(): Promise<{ counters: Record<string, any>; peers: Record<string, any>[] }> {
    this.child.stdin!.write('counters\n')
    const m = await this.next((x) => x.event === 'counters')
    return { counters: m.counters as Record<string, any>, peers: m.peers as Record<string, any>[] }
  }

  /** Asks the engine to stop and waits for the process to exit. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode
    const exited = new Promise<number | null>((r) => this.child.once('exit', (c) => r(c)))
    this.child.stdin!.end('stop\n')
    return await exited
  }
}
