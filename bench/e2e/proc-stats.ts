/**
 * CPU and memory accounting from /proc: per-process CPU time (utime + stime, all threads) and peak RSS
 * (VmHWM), and the machine-wide softirq time (where the kernel does most of its packet work, including
 * vxlan encapsulation and veth/bridge forwarding).
 */
import { readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'

let clockTicks: number | null = null

/** USER_HZ, the unit of /proc CPU times (almost always 100). */
export function clkTck(): number {
  if (clockTicks === null) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2_000 })
    const n = Number.parseInt(r.stdout ?? '', 10)
    clockTicks = Number.isInteger(n) && n > 0 ? n : 100
  }
  return clockTicks
}

/** Parses a /proc/<pid>/stat line into CPU seconds (utime + stime, fields 14 and 15); null if malformed. */
export function parseProcStatCpu(stat: string, ticksPerSecond: number): number | null {
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const close = stat.lastIndexOf(')')
  if (close < 0) return null
  const rest = stat.slice(close + 2).trim().split(/\s+/)
  // rest[0] is field 3 (state), so field k is rest[k - 3].
  const utime = Number(rest[11])
  const stime = Number(rest[12])
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null
  return (utime + stime) / ticksPerSecond
}

/** CPU seconds used so far by process pid (all its threads), or null if it is gone. */
export function processCpuSeconds(pid: number): number | null {
  try {
    return parseProcStatCpu(readFileSync(`/proc/${pid}/stat`, 'utf8'), clkTck())
  } catch {
    return null
  }
}

/** Parses the first 'cpu' line of /proc/stat into softirq seconds summed over all CPUs; null if malformed. */
export function parseSoftirqSeconds(procStat: string, ticksPerSecond: number): number | null {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '))
  if (line === undefined) return null
  // cpu user nice system idle iowait irq softirq steal ...
  const softirq = Number(line.trim().split(/\s+/)[7])
  return Number.isFinite(softirq) ? softirq / ticksPerSecond : null
}

/** Machine-wide softirq CPU seconds so far. */
export function softirqSeconds(): number | null {
  try {
    return parseSoftirqSeconds(readFileSync('/proc/stat', 'utf8'), clkTck())
  } catch {
    return null
  }
}

/** Parses VmHWM (peak resident set) from /proc/<pid>/status text, in bytes; null if absent. */
export function parseVmHwmBytes(status: string): number | null {
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)
  return m === null ? null : Number(m[1]) * 1024
}

/** Peak resident set size of pid in bytes, or null if it is gone. */
export function peakRssBytes(pid: number): number | null {
  try {
    return parseVmHwmBytes(readFileSync(`/proc/${pid}/status`, 'utf8'))
  } catch {
    return null
  }
}

/** A CPU snapshot of a set of processes plus machine-wide softirq. */
export interface CpuSnapshot {
  processSeconds: number
  softirqSeconds: number
}

/** Takes a CPU snapshot; processes that are gone count as 0. */
export function cpuSnapshot(pids: readonly number[]): CpuSnapshot {
  let processSeconds = 0
  for (const pid of pids) processSeconds += processCpuSeconds(pid) ?? 0
  return { processSeconds, softirqSeconds: softirqSeconds() ?? 0 }
}
