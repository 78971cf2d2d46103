/** Renders a BenchResult as a console table and as Markdown, and writes the result files. */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { BenchResult, ContenderResult } from './harness.js'
import { formatValue, type MetricDef } from './metrics.js'
import { renderSvg } from './svg.js'

function cell(r: ContenderResult, m: MetricDef, baseline: string): string {
  if (r.status !== 'ok') return r.status
  const v = formatValue(r.median[m.key])
  const q = r.ratioToBaseline[m.key]
  return q === null || r.name === baseline ? v : `${v} (x${q.toFixed(2)})`
}

function rows(result: BenchResult): string[][] {
  const header = ['metric', ...result.contenders.map((c) => c.label)]
  const body = result.metrics.map((m) => [`${m.label} [${m.unit}]`, ...result.contenders.map((c) => cell(c, m, result.config.baseline))])
  return [header, ...body]
}

/** A plain-text table for the console: medians, with (xRatio) to the baseline. */
export function renderTable(result: BenchResult): string {
  const all = rows(result)
  const widths = all[0].map((_, j) => Math.max(...all.map((r) => r[j].length)))
  const line = (r: string[]): string => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ')
  const out = [line(all[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)]
  for (const c of result.contenders) if (c.status !== 'ok') out.push(`${c.label}: ${c.status}: ${c.reason ?? ''}`)
  return out.join('\n')
}

/** The Markdown report: setup, the table, notes on each metric. */
export function renderMarkdown(result: BenchResult): string {
  const all = rows(result)
  const md = [
    `# tartan end-to-end benchmark, ${result.date}`,
    '',
    `Host: Linux ${result.host.kernel}, ${result.host.cpus} x ${result.host.cpuModel}, Node ${result.host.node}, ` +
      `${result.host.iperf3}, sockperf ${result.host.sockperf}.`,
    `Two hosts in network namespaces on a bridged veth underlay (MTU ${result.config.underlayMtu}), one pod each; ` +
      `${result.config.rounds} round(s) of ${result.config.durationS} s per measurement, contenders interleaved; ` +
      `medians over rounds, (xN) = ratio to ${result.config.baseline} from the same run. Total ${result.totalSeconds.toFixed(0)} s.`,
    '',
    `| ${all[0].join(' | ')} |`,
    `|${all[0].map((_, j) => (j === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...all.slice(1).map((r) => `| ${r.join(' | ')} |`),
    '',
    'Pod MTU: ' + result.contenders.map((c) => `${c.label} ${c.podMtu}`).join(', ') + '.',
    '',
    ...result.metrics.map((m) => `- **${m.label}** (${m.better} is better): ${m.how}.`),
  ]
  for (const c of result.contenders) if (c.status !== 'ok') md.push(`- ${c.label}: ${c.status}: ${c.reason ?? ''}`)
  const errs = result.contenders.flatMap((c) => c.rounds.flatMap((r) => r.errors.map((e) => `${c.name} round ${r.round + 1}: ${e}`)))
  if (errs.length > 0) md.push('', '## Errors', '', ...errs.map((e) => `- ${e}`))
  return `${md.join('\n')}\n`
}

/** Writes <outDir>/<stamp>.json, <stamp>.md and latest.svg; returns their paths. */
export function writeResults(result: BenchResult, outDir: string): { json: string; markdown: string; svg: string } {
  mkdirSync(outDir, { recursive: true })
  const stamp = result.date.replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')
  const json = join(outDir, `${stamp}.json`)
  const markdown = join(outDir, `${stamp}.md`)
  const svg = join(outDir, 'latest.svg')
  writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`)
  writeFileSync(markdown, renderMarkdown(result))
  writeFileSync(svg, renderSvg(result))
  return { json, markdown, svg }
}
