/**
 * One measurement of one contender, for profiling and quick A/B checks (the full benchmark is run.ts):
 * builds the benchmark topology, starts the contender, runs single-stream TCP (iperf3) or ping-pong latency
 * (sockperf) pod to pod, and prints the result and each tartan engine's busy-poll counters. A command given
 * after `--` runs alongside the measurement (its `PIDS` argument becomes the engines' pids, comma-separated),
 * e.g. a profiler; it must end by itself, and the probe waits for it.
 *
 *   node --import tsx bench/e2e/probe.ts tartan-udp [tcp|latency] [SECONDS] [-- COMMAND ...]
 *   node --import tsx bench/e2e/probe.ts tartan-udp tcp 8 -- perf record -a -g -o /tmp/t.data -- sleep 6
 */
import { spawn } from 'node:child_process'
import { Topology } from '../../src/topology/index.js'
import { CONTENDERS, type ContenderSession } from './contenders.js'
import { latency, startServers, tcpThroughput } from './measure.js'

const usage = (msg: string): never => {
  process.stderr.write(`${msg}\nusage: probe.ts CONTENDER [tcp|latency] [SECONDS] [-- COMMAND ...]\n` +
    `contenders: ${CONTENDERS.map((c) => c.name).join(', ')}\n`)
  process.exit(2)
}
const dash = process.argv.indexOf('--')
const args = dash < 0 ? process.argv.slice(2) : process.argv.slice(2, dash)
const command = dash < 0 ? [] : process.argv.slice(dash + 1)
const contender = CONTENDERS.find((c) => c.name === args[0]) ?? usage(`unknown contender ${JSON.stringify(args[0])}`)
const mode = args[1] ?? 'tcp'
if (mode !== 'tcp' && mode !== 'latency') usage(`unknown measurement ${JSON.stringify(mode)}`)
const seconds = Number(args[2] ?? 5)
if (!Number.isInteger(seconds) || seconds < 1 || seconds > 600) usage('SECONDS must be an integer in 1..600')

const topo = await Topology.create({ nodes: 2, underlayMtu: 1500, podMtu: contender.podMtu(1500) })
let session: ContenderSession | null = null
try {
  session = await contender.setup(topo)
  const ep = { topo, client: topo.nodes[0]!, server: topo.nodes[1]! }
  const servers = await startServers(ep)
  try {
    let alongside: Promise<unknown> = Promise.resolve()
    if (command.length > 0) {
      const pids = session.pids.join(',')
      const child = spawn(command[0]!, command.slice(1).map((a) => (a === 'PIDS' ? pids : a)), { stdio: 'inherit' })
      alongside = new Promise((resolve) => child.on('exit', resolve))
    }
    const result = mode === 'tcp' ? await tcpThroughput(ep, 1, seconds) : await latency(ep, seconds)
    console.log(JSON.stringify({ contender: contender.name, mode, seconds, result }))
    await alongside
    const collected = (await session.collect()) as { counters?: { counters?: { busyPoll?: unknown } }[] }
    console.log(JSON.stringify({ busyPoll: (collected.counters ?? []).map((c) => c.counters?.busyPoll ?? null) }))
  } finally {
    await servers.stop()
  }
} finally {
  await session?.teardown()
  await topo.destroy()
}
