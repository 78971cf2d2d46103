/**
 * Bounded command execution for the topology library: every child runs with a timeout and capped output,
 * and failures become TartanErrors that quote the command and its stderr.
 */
import { spawn, spawnSync } from 'node:child_process'
import { TartanError } from '../errors.js'

/** What a finished (or timed-out) command produced. `code` is null when it was ended by a signal. */
export interface CommandResult {
  stdout: string
  stderr: string
  code: number | null
  signal: NodeJS.Signals | null
  timedOut: boolean
}

export interface CommandOptions {
  /** Kill the command (SIGKILL) after this many milliseconds; default 10 000. */
  timeoutMs?: number
  /** Written to the command's stdin, which is then closed. */
  input?: string
}

const DEFAULT_TIMEOUT_MS = 10_000
// Output beyond this is dropped: topology commands print little, and a runaway child must not eat memory.
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024

/** Runs argv[0] with the rest as arguments, bounded in time and output; never throws for a non-zero exit. */
export function runCommand(argv: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  return new Promise((resolve, reject) => {
    if (argv.length === 0) {
      reject(new TartanError('TARTAN_ERR_INVALID_ARGUMENT', 'runCommand needs a non-empty argv.'))
      return
    }
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    let outBytes = 0
    let errBytes = 0
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutMs)
    child.stdout.on('data', (b: Buffer) => {
      if (outBytes < MAX_OUTPUT_BYTES) out.push(b)
      outBytes += b.length
    })
    child.stderr.on('data', (b: Buffer) => {
      if (errBytes < MAX_OUTPUT_BYTES) err.push(b)
      errBytes += b.length
    })
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(spawnError(argv, e))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        code,
        signal,
        timedOut,
      })
    })
    child.stdin.on('error', () => {
      // The command may exit before reading its input; that is its business, not an error here.
    })
    child.stdin.end(options.input ?? '')
  })
}

/** Runs a command and returns its stdout; a non-zero exit or timeout throws a TartanError quoting stderr. */
export async function runChecked(argv: readonly string[], options: CommandOptions = {}): Promise<string> {
  const r = await runCommand(argv, options)
  if (r.code !== 0 || r.timedOut) throw commandError(argv, r)
  return r.stdout
}

/** Synchronous variant for process-exit cleanup, where no event loop turn is left. Never throws. */
export function runSyncQuiet(argv: readonly string[], timeoutMs = 5_000): number | null {
  const r = spawnSync(argv[0], argv.slice(1), { stdio: 'ignore', timeout: timeoutMs })
  return r.status
}

/** Renders argv the way a user would type it, for error messages. */
export function formatArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')
}

/** Builds the TartanError for a failed command: what ran, how it ended, and what it said. */
export function commandError(argv: readonly string[], r: CommandResult): TartanError {
  const how = r.timedOut ? 'timed out' : r.code === null ? `was killed by ${r.signal ?? 'a signal'}` : `exited with ${r.code}`
  const said = r.stderr.trim() || r.stdout.trim() || '(no output)'
  return new TartanError(
    'TARTAN_ERR_NETLINK',
    `\`${formatArgv(argv)}\` ${how}: ${said}. Check that you are root, that iproute2 is installed and that no ` +
      'leftover namespace or device with the same name exists.',
  )
}

function spawnError(argv: readonly string[], e: NodeJS.ErrnoException): TartanError {
  if (e.code === 'ENOENT') {
    return new TartanError(
      'TARTAN_ERR_INVALID_CONFIG',
      `\`${argv[0]}\` was not found on PATH. Install it (Debian: iproute2 for ip/bridge, iperf3, sockperf, iputils-ping).`,
      { cause: e },
    )
  }
  return new TartanError('TARTAN_ERR_STATE', `could not start \`${formatArgv(argv)}\`: ${e.message}.`, { cause: e })
}
