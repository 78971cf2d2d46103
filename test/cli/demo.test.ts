/**
 * `tartan demo` end to end (the command `npm start` runs): it prints its table and exits 0, leaving no
 * namespaces, files or processes; Ctrl-C mid-run cleans up too; what it lacks it says in one sentence.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { programArgv, PACKAGE_ROOT } from '../../src/demo/entry.js'
import { listLeftovers } from '../../src/topology/index.js'
import { e2eUnavailable } from '../helpers/two-node-suite.js'

const skip = e2eUnavailable() ?? false
const TARTAN = programArgv('cli/main')

/** Pids of live processes whose command line mentions `needle`. */
function processesMentioning(needle: string): number[] {
  const out: number[] = []
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(needle)) out.push(Number(p))
    } catch {
      // gone meanwhile
    }
  }
  return out
}

async function assertNothingLeft(t: Test, prefix: string): Promise<void> {
  t.same(await listLeftovers(prefix), [], `no ${prefix}-* namespaces`)
  t.notOk(existsSync(join(tmpdir(), `tartan-demo-${prefix}`)), 'no state directory')
  t.same(processesMentioning(prefix), [], 'no processes')
}

t.test('tartan demo --duration 5: the table, exit 0, nothing left behind', { skip }, async (t) => {
  const r = spawnSync(TARTAN[0]!, [...TARTAN.slice(1), 'demo', '--duration', '5'], { cwd: PACKAGE_ROOT, encoding: 'utf8', timeout: 120_000 })
  t.equal(r.status, 0, r.stderr)
  const prefix = /network namespaces (\S+)-\*/.exec(r.stderr)?.[1]
  t.ok(prefix, 'the demo names its namespaces')
  t.match(r.stderr, /\[2\/5\] starting tartan run on 3 nodes \.\.\. ready/)
  t.match(r.stdout, /^Pod to pod over tartan \(vxlan, 3 nodes/)
  const pairs = r.stdout.split('\n').filter((l) => /^node\d 10\.244\.\d+\.2\s+node\d 10\.244\.\d+\.2\s/.test(l))
  t.equal(pairs.length, 6, 'a row per ordered pod pair')
  for (const row of pairs) t.match(row, /\d ms\s+\d+\.\d+% +[\d.]+ [kMG]?bit\/s$/, `measured: ${row}`)
  const nodes = r.stdout.split('\n').filter((l) => /^node\d\s+198\.18\.0\.\d\s+10\.244\.\d+\.0\/24\s+2\s/.test(l))
  t.equal(nodes.length, 3, 'a counters row per node, each with 2 peers')
  t.match(r.stderr, /removed the cluster/)
  await assertNothingLeft(t, prefix!)
})

t.test('Ctrl-C while measuring: exit 130, nothing left behind', { skip }, async (t) => {
  const child = spawn(TARTAN[0]!, [...TARTAN.slice(1), 'demo', '--duration', '60', '--nodes', '2', '--backend', 'udp'], {
    cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => { child.kill('SIGKILL') })
  let stderr = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`never started measuring: ${stderr}`)), 60_000)
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
      if (stderr.includes('[5/5]')) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
  const prefix = /network namespaces (\S+)-\*/.exec(stderr)![1]!
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  child.kill('SIGINT')
  t.equal(await exited, 130)
  await new Promise((r) => setTimeout(r, 100))
  t.match(stderr, /SIGINT: stopping; removing the cluster/)
  await new Promise((r) => setTimeout(r, 500)) // the nodes, killed by pid on exit, finish dying
  await assertNothingLeft(t, prefix)
})

t.test('what the demo lacks, it says in one sentence (exit 1)', async (t) => {
  const run = (opts: Parameters<typeof spawnSync>[2]) =>
    spawnSync(TARTAN[0]!, [...TARTAN.slice(1), 'demo'], { cwd: PACKAGE_ROOT, encoding: 'utf8', timeout: 30_000, ...opts })
  t.test('not root', { skip: process.getuid?.() === 0 ? false : 'runs as root to drop to nobody' }, async (t) => {
    // Without tap's process hooks (which tap adds to NODE_OPTIONS of every child): nobody cannot write tap's files.
    const r = spawnSync('env', ['-u', 'NODE_OPTIONS', ...TARTAN, 'demo'], {
      cwd: PACKAGE_ROOT, encoding: 'utf8', timeout: 30_000, uid: 65534, gid: 65534, env: { ...process.env, HOME: '/nonexistent' },
    })
    t.equal(r.status, 1, String(r.stderr))
    t.equal(r.stderr, 'tartan demo: root is needed to create network namespaces and TUN devices: run it with sudo (e.g. sudo npm start).\n')
  })
  t.test('no `ip` command', { skip: process.getuid?.() === 0 ? false : 'checks run after the root check' }, async (t) => {
    const r = run({ env: { ...process.env, PATH: '/nonexistent' } })
    t.equal(r.status, 1, String(r.stderr))
    t.equal(r.stderr, 'tartan demo: the `ip` command (iproute2) is missing: install it (Debian/Ubuntu: sudo apt-get install iproute2).\n')
  })
  t.test('a usage mistake is exit 2', async (t) => {
    const r = spawnSync(TARTAN[0]!, [...TARTAN.slice(1), 'demo', '--nodes', '1'], { cwd: PACKAGE_ROOT, encoding: 'utf8' })
    t.equal(r.status, 2)
    t.equal(r.stderr, 'tartan demo: --nodes: 1 is out of range (2..16) (see tartan demo --help)\n')
  })
})
