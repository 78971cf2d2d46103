#!/usr/bin/env node
/**
 * The `tartan` command: dispatches to run | demo | status | docker-opts | help | version and turns the
 * outcome into an exit code: 0 success, 2 a usage mistake (unknown flag, malformed value), 1 anything
 * else, always with one line on stderr saying what went wrong. Arguments that start with a flag and no
 * command mean `run`, so `tartan --etcd-endpoints=...` replaces `flanneld --etcd-endpoints=...`.
 */
import { readFileSync, realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { DEMO_FLAGS, DOCKER_OPTS_FLAGS, RUN_FLAGS, STATUS_FLAGS, formatFlagHelp, type FlagSpec } from './flags.js'
import { UsageError } from './usage-error.js'

interface Command {
  summary: string
  usage: string
  flags: readonly FlagSpec[]
  run: (argv: readonly string[], env: NodeJS.ProcessEnv) => Promise<number>
}

const COMMANDS: Record<string, Command> = {
  run: {
    summary: 'run a node: lease a subnet, carry pod traffic, write subnet.env (a drop-in for flanneld)',
    usage: 'tartan run [flags]',
    flags: RUN_FLAGS,
    run: async (a, e) => (await import('./run.js')).run(a, e),
  },
  demo: {
    summary: 'build a cluster in network namespaces on this machine, measure it, print the results',
    usage: 'tartan demo [--nodes N] [--duration SECONDS] [--backend udp|vxlan] [--keep]',
    flags: DEMO_FLAGS,
    run: async (a, e) => (await import('../demo/demo.js')).demo(a, e),
  },
  status: {
    summary: 'show a running node\'s lease, peers, routes and counters',
    usage: 'tartan status [--url http://127.0.0.1:8286] [--json]',
    flags: STATUS_FLAGS,
    run: async (a, e) => (await import('./status.js')).status(a, e),
  },
  'docker-opts': {
    summary: 'print Docker daemon options from subnet.env (flannel\'s mk-docker-opts.sh)',
    usage: 'tartan docker-opts [-f SUBNET_FILE] [-d OUTPUT] [-i] [-c] [-k KEY] [-m]',
    flags: DOCKER_OPTS_FLAGS,
    run: async (a, e) => (await import('./docker-opts.js')).dockerOptsCommand(a, e),
  },
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }
    return pkg.version ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

function overview(): string {
  const names = Object.keys(COMMANDS)
  const w = Math.max(...names.map((n) => n.length))
  return [
    'tartan: a flannel-compatible overlay network',
    '',
    'usage: tartan <command> [flags]',
    '',
    'commands:',
    ...names.map((n) => `  ${n.padEnd(w)}  ${COMMANDS[n]!.summary}`),
    `  ${'help'.padEnd(w)}  show help for a command`,
    `  ${'version'.padEnd(w)}  print the version`,
    '',
    'Run `tartan <command> --help` for its flags; docs/cli.md describes them all.',
  ].join('\n')
}

function commandHelp(name: string): string {
  const c = COMMANDS[name]!
  return [`usage: ${c.usage}`, '', c.summary, '', 'flags:', formatFlagHelp(c.flags)].join('\n')
}

/** Runs the tartan command line; resolves with the process exit code. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let [name, ...rest] = argv
  if (name === undefined) {
    process.stderr.write(`${overview()}\n`)
    return 2
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined
    if (topic !== undefined && COMMANDS[topic] === undefined) {
      process.stderr.write(`tartan: unknown command ${JSON.stringify(topic)}; commands: ${Object.keys(COMMANDS).join(', ')}\n`)
      return 2
    }
    process.stdout.write(`${topic === undefined ? overview() : commandHelp(topic)}\n`)
    return 0
  }
  if (name === 'version' || name === '--version' || name === '-version') {
    process.stdout.write(`tartan ${version()}\n`)
    return 0
  }
  if (name.startsWith('-')) {
    rest = [name, ...rest]
    name = 'run'
  }
  const command = COMMANDS[name]
  if (command === undefined) {
    process.stderr.write(`tartan: unknown command ${JSON.stringify(name)}; commands: ${Object.keys(COMMANDS).join(', ')} (see tartan --help)\n`)
    return 2
  }
  if (rest.includes('--help') || rest.includes('-help') || rest.includes('-h')) {
    process.stdout.write(`${commandHelp(name)}\n`)
    return 0
  }
  try {
    return await command.run(rest, env)
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`tartan ${name}: ${err.message} (see tartan ${name} --help)\n`)
      return 2
    }
    process.stderr.write(`tartan ${name}: ${err instanceof Error ? err.message : String(err)}\n`)
    return 1
  }
}

/** Runs main() with this process's arguments and exits with its code (stdout drained first). */
export function runMain(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
      // Leave once stdout has drained, even if a library (gRPC, timers) keeps a handle open.
      setTimeout(() => process.exit(code), 50).unref()
    },
    (err: unknown) => {
      process.stderr.write(`tartan: ${err instanceof Error ? err.message : String(err)}\n`)
      process.exit(1)
    },
  )
}

// Run when executed directly (node dist/cli/main.js, node --import tsx src/cli/main.ts); bin/tartan.js
// imports this module and calls runMain() itself.
const entry = process.argv[1]
if (entry !== undefined && isThisModule(entry)) runMain()

function isThisModule(path: string): boolean {
  try {
    return realpathSync(path) === fileURLToPath(import.meta.url)
  } catch {
    return false
  }
}
