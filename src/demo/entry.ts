/**
 * How to start one of tartan's own programs (the CLI, the probe) as a child process, from wherever this
 * code runs: from source (src/*.ts, through tsx) during development and tests, from dist/*.js when
 * installed. Paths are resolved relative to this module, never to the working directory.
 */
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(import.meta.url)
const fromSource = here.endsWith('.ts')

/** The package's root directory (holding package.json, src/ and dist/). */
export const PACKAGE_ROOT = resolve(dirname(here), '..', '..')

/** argv that runs module `rel` (relative to src/ or dist/, without extension, e.g. 'cli/main') with Node. */
export function programArgv(rel: string): string[] {
  if (!fromSource) return [process.execPath, join(PACKAGE_ROOT, 'dist', `${rel}.js`)]
  return [process.execPath, '--import', import.meta.resolve('tsx'), join(PACKAGE_ROOT, 'src', `${rel}.ts`)]
}
