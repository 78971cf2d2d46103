import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { canCreateTopology, listLeftovers } from '../../src/topology/index.js'

const skip = canCreateTopology() ?? false
const fixture = fileURLToPath(new URL('./fixtures/abandon.ts', import.meta.url))

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
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
    t.notOk(alive(r.pid), 'spawned process killed')
  })
}
