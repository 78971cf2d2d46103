/**
 * A strict parser for the Prometheus text exposition format 0.0.4, for asserting that /metrics is valid:
 * every sample belongs to a family declared by # TYPE before it (histograms: _bucket/_sum/_count, buckets
 * with an `le` label, cumulative, ending in +Inf equal to _count), label values are well escaped, values
 * are floats. Throws an Error naming the line on the first violation.
 */
export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Family {
  name: string
  type: string
  help: string
  samples: Sample[]
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

/** Values as Prometheus reads them (Go's strconv.ParseFloat: Inf and NaN in any case). */
function parseValue(text: string, line: string): number {
  if (/^\+?inf$/i.test(text)) return Infinity
  if (/^-inf$/i.test(text)) return -Infinity
  if (/^nan$/i.test(text)) return NaN
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value ${JSON.stringify(text)} in: ${line}`)
  return Number(text)
}

function parseLabels(body: string, line: string): Record<string, string> {
  const out: Record<string, string> = {}
  let i = 0
  while (i < body.length) {
    const eq = body.indexOf('=', i)
    if (eq < 0) throw new Error(`bad labels in: ${line}`)
    const name = body.slice(i, eq).trim()
    if (!LABEL.test(name)) throw new Error(`bad label name ${JSON.stringify(name)} in: ${line}`)
    if (body[eq + 1] !== '"') throw new Error(`unquoted label value in: ${line}`)
    let j = eq + 2
    let value = ''
    for (; j < body.length && body[j] !== '"'; j++) {
      if (body[j] === '\\') {
        const n = body[++j]
        if (n === 'n') value += '\n'
        else if (n === '\\' || n === '"') value += n
        else throw new Error(`bad escape in: ${line}`)
      } else value += body[j]
    }
    if (j >= body.length) throw new Error(`unterminated label value in: ${line}`)
    if (name in out) throw new Error(`duplicate label ${name} in: ${line}`)
    out[name] = value
    i = j + 1
    if (body[i] === ',') i++
    else if (i < body.length) throw new Error(`expected ',' between labels in: ${line}`)
  }
  return out
}

/** Parses and validates exposition text; returns the families by name. */
export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  const helps = new Map<string, string>()
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline')
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
      if (m === null) continue // a comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string]
      if (!NAME.test(name)) throw new Error(`bad metric name in: ${line}`)
      if (kind === 'HELP') helps.set(name, rest)
      else {
        if (!TYPES.has(rest)) throw new Error(`bad type in: ${line}`)
        if (families.has(name)) throw new Error(`second TYPE for ${name}`)
        families.set(name, { name, type: rest, help: helps.get(name) ?? '', samples: [] })
      }
      continue
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line)
    if (m === null) throw new Error(`bad sample line: ${line}`)
    const name = m[1]!
    const labels = m[3] === undefined ? {} : parseLabels(m[3], line)
    const value = parseValue(m[4]!, line)
    const base = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''))
    if (base === undefined) throw new Error(`sample ${name} has no # TYPE before it`)
    if (base.type !== 'histogram' && base.type !== 'summary' && name !== base.name) throw new Error(`sample ${name} does not belong to ${base.type} ${base.name}`)
    base.samples.push({ name, labels, value })
  }
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f)
  return families
}

function checkHistogram(f: Family): void {
  const series = new Map<string, Sample[]>()
  const key = (l: Record<string, string>): string => JSON.stringify(Object.entries(l).filter(([k]) => k !== 'le').sort())
  for (const s of f.samples) {
    const k = key(s.labels)
    if (!series.has(k)) series.set(k, [])
    series.get(k)!.push(s)
  }
  for (const [k, samples] of series) {
    const buckets = samples.filter((s) => s.name === `${f.name}_bucket`)
    const count = samples.find((s) => s.name === `${f.name}_count`)
    const sum = samples.find((s) => s.name === `${f.name}_sum`)
    if (buckets.length === 0 || count === undefined || sum === undefined) throw new Error(`histogram ${f.name}${k} lacks buckets, _sum or _count`)
    let prevLe = -Infinity
    let prev = 0
    for (const b of buckets) {
      const le = parseValue(b.labels.le ?? '', `${f.name} le`)
      if (!(le > prevLe)) throw new Error(`histogram ${f.name}${k}: le not increasing`)
      if (b.value < prev) throw new Error(`histogram ${f.name}${k}: buckets not cumulative`)
      prevLe = le
      prev = b.value
    }
    if (prevLe !== Infinity) throw new Error(`histogram ${f.name}${k}: no +Inf bucket`)
    if (prev !== count.value) throw new Error(`histogram ${f.name}${k}: +Inf bucket ${prev} != _count ${count.value}`)
  }
}

/** The value of the sample `name` whose labels include `labels` (undefined when there is none). */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const base = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''))
  const s = base?.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))
  return s?.value
}
