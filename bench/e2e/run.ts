/**
 * `npm run bench` — the end-to-end benchmark (needs root, iperf3, sockperf, iproute2).
 *
 *   node --import tsx bench/e2e/run.ts [--rounds N] [--duration S] [--quick] [--contenders a,b,...]
 *                                      [--out DIR] [--no-write] [--json]
 *
 *   --rounds N        rounds, contenders interleaved (default 5)
 *   --duration S      seconds per measurement (default 3; 4 measurements per contender per round)
 *   --quick           one round of 2 s measurements (a --duration given too wins)
 *   --contenders L    comma-separated names (default veth,kernel-vxlan,tartan-udp,tartan-vxlan,tartan-udp-nooffload; also: tartan-udp-nobusypoll)
 *   --out DIR         where results go (default bench/results): <date>.json, <date>.md, latest.svg
 *   --no-write        print only
 *   --json            print the result JSON on stdout instead of the table (progress goes to stderr)
 *
 * Exit status: 0 when every requested contender that is available produced numbers, 1 otherwise, 2 on bad
 * usage. Every topology and process is removed on the way out, also on failure or Ctrl-C.
 */
import { fileURLToPath } from 'node:url'
import { CONTENDERS, DEFAULT_CONTENDERS, type Contender } from './contenders.js'
import { runBenchmark } from './harness.js'
import { renderTable, writeResults } from './report.js'

interface Args {
  rounds: number
  durationS: number
  contenders: Contender[]
  outDir: string | null
  json: boolean
}

function usage(msg: string): never {
  process.stderr.write(`${msg}\nusage: run.ts [--rounds N] [--duration S] [--quick] [--contenders a,b] [--out DIR] [--no-write] [--json]\n`)
  process.exit(2)
}

function parseArgs(argv: readonly string[]): Args {
  let rounds = 5
  let durationS: number | null = null
  let quick = false
  let names = [...DEFAULT_CONTENDERS]
  let outDir: string | null = fileURLToPath(new URL('../results/', import.meta.url))
  let json = false
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) usage(`${a} needs a value`)
      return v
    }
    if (a === '--rounds') rounds = Number(value())
    else if (a === '--duration') durationS = Number(value())
    else if (a === '--quick') quick = true
    else if (a === '--contenders') names = value().split(',').map((s) => s.trim()).filter((s) => s !== '')
    else if (a === '--out') outDir = value()
    else if (a === '--no-write') outDir = null
    else if (a === '--json') json = true
    else usage(`unknown argument ${a}`)
  }
  if (quick) rounds = 1
  durationS ??= quick ? 2 : 3
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) usage('--rounds must be an integer in 1..100')
  if (!Number.isFinite(durationS) || durationS < 1 || durationS > 600) usage('--duration must be 1..600 seconds')
  const contenders = names.map((n) => CONTENDERS.find((c) => c.name === n) ?? usage(`unknown contender ${n}; known: ${CONTENDERS.map((c) => c.name).join(', ')}`))
  return { rounds, durationS: Math.round(durationS), contenders, outDir, json }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  const log = (line: string): void => void process.stderr.write(`${line}\n`)
  const result = await runBenchmark({ contenders: args.contenders, rounds: args.rounds, durationS: args.durationS, log })
  if (args.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
  else process.stdout.write(`\n${renderTable(result)}\n`)
  if (args.outDir !== null) {
    const files = writeResults(result, args.outDir)
    log(`wrote ${files.json}, ${files.markdown}, ${files.svg}`)
  }
  log(`total ${result.totalSeconds.toFixed(0)} s`)
  return result.contenders.some((c) => c.status === 'failed') ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${(e as Error).message}\n`)
    process.exit(1)
  },
)
