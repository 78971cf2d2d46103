/**
 * The demo's side of a probe (probe.ts) running in a pod namespace: starts it, sends it commands, reads
 * its one-line JSON answers.
 */
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { Topology } from '../topology/index.js'
import { PACKAGE_ROOT, programArgv } from './entry.js'

export interface RttResult {
  count: number
  lost: number
  minMs: number | null
  p50Ms: number | null
  p90Ms: number | null
  p99Ms: number | null
  maxMs: number | null
}

export interface TcpResult {
  bytes: number
  seconds: number
  bitsPerSecond: number
}

type Answer = Record<string, unknown> & { event?: string; message?: string }

export class ProbeAgent {
  private readonly answers: Answer[] = []
  private wake: (() => void) | null = null
  private stderr = ''

  private constructor(private readonly child: ChildProcess, readonly ip: string, readonly port: number) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.answers.push(JSON.parse(line) as Answer)
      } catch {
        return
      }
      this.wake?.()
    })
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4096)
    })
    child.once('close', () => this.wake?.())
  }

  /** Starts a probe listening on ip:port in pod namespace `ns`; resolves once it listens. `tag` marks the
   * process (visible in its command line) for leftover checks. */
  static async start(topo: Topology, ns: string, ip: string, port: number, tag: string): Promise<ProbeAgent> {
    const child = topo.spawn(ns, [...programArgv('demo/probe'), ip, String(port), tag], { cwd: PACKAGE_ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
    const agent = new ProbeAgent(child, ip, port)
    const first = await agent.next(15_000)
    if (first.event !== 'listening') throw new Error(`probe in ${ns} failed: ${first.message ?? agent.stderr.trim()}`)
    return agent
  }

  private async next(timeoutMs: number): Promise<Answer> {
    const deadline = Date.now() + timeoutMs
    while (this.answers.length === 0) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        return { event: 'error', message: `probe exited: ${this.stderr.trim() || this.child.exitCode}` }
      }
      const left = deadline - Date.now()
      if (left <= 0) return { event: 'error', message: `probe did not answer within ${timeoutMs} ms` }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.wake = () => {
          clearTimeout(t)
          resolve()
        }
      })
      this.wake = null
    }
    return this.answers.shift()!
  }

  private async ask(cmd: object, timeoutMs: number): Promise<Answer> {
    this.child.stdin!.write(`${JSON.stringify(cmd)}\n`)
    const a = await this.next(timeoutMs)
    if (a.event === 'error') throw new Error(a.message ?? 'probe failed')
    return a
  }

  /** UDP echo round trips to a probe at dst:port. */
  async rtt(dst: string, port: number, count: number): Promise<RttResult> {
    return (await this.ask({ cmd: 'rtt', dst, port, count }, 60_000)) as unknown as RttResult
  }

  /** A TCP bulk transfer of `ms` to a probe at dst:port. */
  async tcp(dst: string, port: number, ms: number): Promise<TcpResult> {
    return (await this.ask({ cmd: 'tcp', dst, port, ms }, ms + 45_000)) as unknown as TcpResult
  }

  /** Ends the probe (stdin closed; the topology kills it if it lingers). */
  close(): void {
    this.child.stdin!.end()
  }
}
