/**
 * A `tartan run` process inside a topology host namespace, watched through its JSON log lines: resolves
 * when it logs "ready", rejects with its error line when it fails. Used by `tartan demo` and by the tests
 * that drive the real CLI. The process is tracked by the topology (ended by pid on destroy).
 */
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { Topology } from '../topology/index.js'
import { programArgv, PACKAGE_ROOT } from './entry.js'

export type LogLine = Record<string, unknown> & { event?: string; msg?: string; level?: string }

export class NodeProcess {
  readonly lines: LogLine[] = []
  stderr = ''
  private closed = false
  private readonly waiters = new Set<() => void>()
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>

  private constructor(readonly child: ChildProcess, readonly ns: string) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as LogLine)
      } catch {
        this.lines.push({ msg: line })
      }
      for (const w of [...this.waiters]) w()
    })
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-16_384)
    })
    // 'close' (not 'exit'): every line the process wrote has been read by then.
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        this.closed = true
        for (const w of [...this.waiters]) w()
        resolve({ code, signal })
      })
    })
  }

  /** Starts `tartan run <args>` in namespace `ns` of `topo` (does not wait). */
  static spawn(topo: Topology, ns: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): NodeProcess {
    const child = topo.spawn(ns, [...programArgv('cli/main'), 'run', ...args], {
      cwd: PACKAGE_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    })
    return new NodeProcess(child, ns)
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** Resolves with the first log line (seen or future) matching `pred`; rejects on exit or timeout. */
  waitFor(pred: (l: LogLine) => boolean, timeoutMs: number, what = 'log line'): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = this.lines.find(pred)
        if (hit !== undefined) return done(() => resolve(hit))
        if (this.closed) return done(() => reject(new Error(`tartan run in ${this.ns} exited before ${what}: ${this.why()}`)))
      }
      const timer = setTimeout(() => done(() => reject(new Error(`tartan run in ${this.ns}: no ${what} within ${timeoutMs} ms: ${this.why()}`))), timeoutMs)
      const done = (f: () => void): void => {
        clearTimeout(timer)
        this.waiters.delete(check)
        f()
      }
      this.waiters.add(check)
      check()
    })
  }

  /** Resolves with the "ready" log line; rejects with the node's own error message when it fails first. */
  ready(timeoutMs = 30_000): Promise<LogLine> {
    return this.waitFor((l) => l.event === 'ready', timeoutMs, 'ready line')
  }

  /** What went wrong, for error messages: the node's error line or stderr. */
  why(): string {
    const failed = this.lines.find((l) => l.event === 'failed' || l.level === 'error' || l.level === 'fatal')
    return String(failed?.msg ?? (this.stderr.trim() || `exit ${this.child.exitCode ?? this.child.signalCode}`))
  }

  /** Sends SIGTERM and resolves with the exit status (SIGKILL after `graceMs`). */
  async stop(graceMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) {
      this.child.kill('SIGTERM')
      const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs)
      const r = await this.exited
      clearTimeout(t)
      return r
    }
    return this.exited
  }
}
