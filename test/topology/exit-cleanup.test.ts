import t from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { canCreateTopology, listLeftovers } from '../../src/topology/index.js'

const skip = canCreateTopology() ?? false
const fixture = fileURLToPath(new URL('./fixtures/abandon.ts', import.meta.url))

/** True while pid exists and is not a zombie (an orphan may wait a moment for its new parent to reap it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

async function aliveAfter(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (alive(pid) && Date.now() < end) await sleep(20)
  return alive(pid)
}

async function runAbandon(how: 'exit' | 'signal'): Promise<{ prefix: string; pid: number; code: number | null; signal: string | null }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, how], { stdio: ['ignore', 'pipe', 'inherit'] })
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  let out = ''
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString()
    if (how === 'signal' && out.includes('\n')) child.kill('SIGTERM')
  })
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])))
  clearTimeout(killer)
  const info = JSON.parse(out.split('\n')[0]) as { prefix: string; pid: number }
  return { ...info, code, signal }
}

for (const how of ['exit', 'signal'] as const) {
  t.test(`a process that ${how === 'exit' ? 'exits' : 'gets SIGTERM'} without destroy() leaves nothing`, { skip }, async (t) => {
    const r = await runAbandon(how)
    t.teardown(async () => {
      if (alive(r.pid)) process.kill(r.pid, 'SIGKILL')
    })
    if (how === 'signal') t.equal(r.signal, 'SIGTERM', 'the process still dies of the signal')
    else t.equal(r.code, 0)
    t.same(await listLeftovers(r.prefix), [], 'namespaces deleted')
    t.notOk(await aliveAfter(r.pid, 1000), 'spawned process killed')
  })
}
