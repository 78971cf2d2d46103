import t from 'tap'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { canCreateTopology, listLeftovers, processPrefix } from '../../src/topology/index.js'
import { CONTENDERS, DEFAULT_CONTENDERS } from '../../bench/e2e/contenders.js'
import { runBenchmark, RESULT_SCHEMA } from '../../bench/e2e/harness.js'
import { METRICS } from '../../bench/e2e/metrics.js'
import { renderTable, writeResults } from '../../bench/e2e/report.js'

const tools = ['iperf3', 'sockperf', 'ping'].filter((x) => spawnSync('sh', ['-c', `command -v ${x}`]).status !== 0)
const skip = canCreateTopology() ?? (tools.length > 0 ? `needs ${tools.join(', ')}` : false)

t.setTimeout(120_000)

t.test('quick run: a well-formed result with every default contender, files written, nothing left', { skip }, async (t) => {
  const contenders = DEFAULT_CONTENDERS.map((n) => CONTENDERS.find((c) => c.name === n)!)
  const result = await runBenchmark({ contenders, rounds: 1, durationS: 2 })
  t.equal(result.schema, RESULT_SCHEMA)
  t.same(result.contenders.map((c) => c.name), [...DEFAULT_CONTENDERS], 'every contender present, in order')
  t.same(result.metrics.map((m) => m.key), METRICS.map((m) => m.key))
  for (const c of result.contenders) {
    t.ok(['ok', 'unavailable', 'failed'].includes(c.status), `${c.name}: status ${c.status}`)
    if (c.status !== 'ok') t.type(c.reason, 'string', `${c.name} says why: ${c.reason}`)
    if (c.status === 'unavailable') t.equal(c.rounds.length, 0)
    else t.equal(c.rounds.length, 1, `${c.name} ran one round`)
    for (const m of METRICS) {
      const v = c.median[m.key]
      t.ok(v === null || (typeof v === 'number' && Number.isFinite(v)), `${c.name}.${m.key} is a number or null`)
    }
  }
  for (const name of ['veth', 'kernel-vxlan']) {
    const c = result.contenders.find((x) => x.name === name)!
    t.equal(c.status, 'ok', `${name} ran`)
    t.ok(METRICS.some((m) => c.median[m.key] !== null), `${name} produced measurements`)
  }
  const base = result.contenders.find((c) => c.name === 'kernel-vxlan')!
  if (base.median.tcp1Gbps !== null) t.equal(base.ratioToBaseline.tcp1Gbps, 1, 'the baseline is 1x itself')

  t.match(renderTable(result), 'kernel VXLAN')
  const dir = mkdtempSync(join(tmpdir(), 'tartan-bench-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const files = writeResults(result, dir)
  t.ok(existsSync(files.json) && existsSync(files.markdown) && existsSync(files.svg))
  t.same(JSON.parse(readFileSync(files.json, 'utf8')).schema, RESULT_SCHEMA)
  t.match(readFileSync(files.svg, 'utf8'), /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"[\s\S]*<\/svg>\n$/)
  t.match(readFileSync(files.markdown, 'utf8'), /\| metric \|/)

  t.same(await listLeftovers(processPrefix()), [], 'no namespace left behind')
})
