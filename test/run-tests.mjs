#!/usr/bin/env node
// The test command (`npm test`): runs every tap test with coverage, enforces the coverage thresholds set in
// package.json ("tartan".coverage) and ends by printing one line `N passed, N failed[, N skipped]` from
// tap's own result. Exit code: 0 only when every test passed and coverage meets the thresholds.
// Arguments are passed to tap (e.g. a subset of test files).
import { spawn } from 'node:child_process'
import { readFileSync, existsSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const thresholds = pkg.tartan?.coverage ?? {}
const summaryPath = join(root, '.tap', 'report', 'coverage-summary.json')
rmSync(summaryPath, { force: true })

const args = [
  join(root, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs'),
  '--allow-incomplete-coverage', // thresholds are enforced below, explicitly
  '--coverage-report=json-summary', '--coverage-report=text-summary',
  '--reporter=tap',
  ...process.argv.slice(2),
]
const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
let tail = ''
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk)
  tail = (tail + chunk.toString()).slice(-65536)
})
const code = await new Promise((resolve) => child.on('close', (c, s) => resolve(c ?? (s ? 1 : 0))))

// tap's closing summary line looks like `# { total: 85, pass: 84, fail: 1, skip: 2 }`.
const m = [...tail.matchAll(/^# \{ total: (\d+)(.*)\}$/gm)].pop()
const field = (name) => Number(new RegExp(`${name}: (\\d+)`).exec(m?.[2] ?? '')?.[1] ?? 0)
const passed = m ? field('pass') : 0
const failed = m ? field('fail') : 1
const skipped = m ? field('skip') + field('todo') : 0

let coverageOk = true
if (process.argv.length <= 2 && existsSync(summaryPath)) {
  const total = JSON.parse(readFileSync(summaryPath, 'utf8')).total
  for (const [metric, min] of Object.entries(thresholds)) {
    const pct = total[metric]?.pct ?? 0
    if (pct < min) {
      coverageOk = false
      console.log(`# coverage: ${metric} ${pct}% is below the threshold ${min}% (package.json tartan.coverage)`)
    }
  }
} else if (Object.keys(thresholds).length > 0 && process.argv.length <= 2) {
  coverageOk = false
  console.log('# coverage: no coverage summary was produced')
}

if (!m) console.log('# tap printed no summary line; counting the run as failed')
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(code === 0 && failed === 0 && coverageOk && m ? 0 : 1)
