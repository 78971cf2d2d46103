/**
 * A dependency-free SVG bar chart of a BenchResult: one panel per metric, one horizontal bar per
 * contender (same colour for a contender across panels), each panel scaled to its own maximum.
 */
import type { BenchResult } from './harness.js'
import { formatValue } from './metrics.js'

const COLOURS = ['#7f7f7f', '#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e']
const WIDTH = 860
const LABEL_W = 230
const BAR_H = 16
const BAR_GAP = 3
const PANEL_GAP = 18
const VALUE_W = 110

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** Renders the chart as a standalone SVG document. */
export function renderSvg(result: BenchResult): string {
  const cs = result.contenders
  const barArea = WIDTH - LABEL_W - VALUE_W - 20
  const legendH = 24 + Math.ceil(cs.length / 3) * 18
  const panelH = cs.length * (BAR_H + BAR_GAP) + PANEL_GAP
  const height = 40 + legendH + result.metrics.length * panelH + 10
  const out: string[] = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
      `font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(`tartan end-to-end benchmark (${result.date.slice(0, 10)}, median of ${result.config.rounds}, ${result.config.durationS} s each)`)}</text>`,
  )
  cs.forEach((c, i) => {
    const x = 10 + (i % 3) * 280
    const y = 40 + Math.floor(i / 3) * 18
    const label = c.status === 'ok' ? c.label : `${c.label} (${c.status})`
    out.push(
      `<rect x="${x}" y="${y}" width="12" height="12" fill="${COLOURS[i % COLOURS.length]}"/>`,
      `<text x="${x + 18}" y="${y + 10}">${esc(label)}</text>`,
    )
  })
  let y = 40 + legendH
  for (const m of result.metrics) {
    const values = cs.map((c) => (c.status === 'ok' ? c.median[m.key] : null))
    const max = Math.max(0, ...values.filter((v): v is number => v !== null))
    out.push(`<text x="10" y="${y + BAR_H - 3}" font-weight="bold">${esc(m.label)}</text>`)
    out.push(`<text x="10" y="${y + 2 * BAR_H}" fill="#555">${esc(`${m.unit}, ${m.better} is better`)}</text>`)
    cs.forEach((c, i) => {
      const v = values[i]
      const by = y + i * (BAR_H + BAR_GAP)
      const w = v === null || max === 0 ? 0 : Math.max(1, (v / max) * barArea)
      out.push(`<rect x="${LABEL_W}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${COLOURS[i % COLOURS.length]}"/>`)
      const q = c.ratioToBaseline[m.key]
      const text = v === null ? 'n/a' : q === null || c.name === result.config.baseline ? formatValue(v) : `${formatValue(v)} (x${q.toFixed(2)})`
      out.push(`<text x="${LABEL_W + w + 5}" y="${by + BAR_H - 4}">${esc(text)}</text>`)
    })
    y += panelH
  }
  out.push('</svg>')
  return `${out.join('\n')}\n`
}
