/**
 * `tartan docker-opts`: flannel's mk-docker-opts.sh. Reads subnet.env and prints the container runtime's
 * options in mk-docker-opts.sh's order and format:
 *   plain (default):  --bip=10.244.7.1/24 --ip-masq=true --mtu=1450
 *   -i (individual):  DOCKER_OPT_BIP="--bip=10.244.7.1/24"  (one line per option)
 *   -c (combined):    DOCKER_OPTS=" --bip=10.244.7.1/24 --ip-masq=true --mtu=1450"
 * --ip-masq is the opposite of FLANNEL_IPMASQ (when the node masquerades, Docker must not); -m leaves it
 * out. The combined line starts with the current value of the KEY variable, as the script's does.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { parseEnvFile } from '../node/subnet-env.js'
import { TartanError } from '../errors.js'
import { DOCKER_OPTS_FLAGS, parseFlags } from './flags.js'
import { UsageError } from './usage-error.js'

export interface DockerOptsOptions {
  individual: boolean
  combined: boolean
  key: string
  ipMasq: boolean
  /** The environment's current value of `key` (prepended to the combined line). */
  existing?: string
}

/** The options as [variable, value] pairs in mk-docker-opts.sh's (alphabetical) order. */
export function dockerOpts(subnetEnv: string, ipMasq: boolean): [string, string][] {
  const env = parseEnvFile(subnetEnv)
  const out: [string, string][] = []
  const subnet = env.get('FLANNEL_SUBNET')
  const mtu = env.get('FLANNEL_MTU')
  const masq = env.get('FLANNEL_IPMASQ')
  if (subnet) out.push(['DOCKER_OPT_BIP', `--bip=${subnet}`])
  if (masq && ipMasq) {
    if (masq === 'true') out.push(['DOCKER_OPT_IPMASQ', '--ip-masq=false'])
    else if (masq === 'false') out.push(['DOCKER_OPT_IPMASQ', '--ip-masq=true'])
    else throw new TartanError('TARTAN_ERR_SUBNET_FILE', `invalid value of FLANNEL_IPMASQ: ${masq} (expected true or false)`)
  }
  if (mtu) out.push(['DOCKER_OPT_MTU', `--mtu=${mtu}`])
  return out
}

/** The text to print for `opts` (ends with a newline). */
export function formatDockerOpts(opts: [string, string][], o: DockerOptsOptions): string {
  if (!o.individual && !o.combined) return `${opts.map(([, v]) => v).join(' ')}\n`
  const lines: string[] = []
  if (o.individual) for (const [k, v] of opts) lines.push(`${k}="${v}"`)
  if (o.combined) {
    let combined = o.existing ? `${o.existing} ` : ''
    for (const [, v] of opts) combined += ` ${v}`
    lines.push(`${o.key}="${combined}"`)
  }
  return `${lines.join('\n')}\n`
}

/** Runs `tartan docker-opts`; resolves with the exit code. */
export async function dockerOptsCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const f = parseFlags(DOCKER_OPTS_FLAGS, argv, env, 'docker-opts')
  if (f.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(f.positional[0])}`, 'docker-opts')
  const key = String(f.values.key)
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new UsageError(`--key ${JSON.stringify(key)} is not a shell variable name`, 'docker-opts')
  const file = String(f.values['subnet-file'])
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new TartanError(
      'TARTAN_ERR_SUBNET_FILE',
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; is \`tartan run\` (or flanneld) running and ready?`,
    )
  }
  const opts = dockerOpts(text, f.values['no-ip-masq'] !== true)
  if (opts.length === 0) throw new TartanError('TARTAN_ERR_SUBNET_FILE', `${file} has no FLANNEL_SUBNET, FLANNEL_MTU or FLANNEL_IPMASQ`)
  const out = formatDockerOpts(opts, {
    individual: f.values.individual === true,
    combined: f.values.combined === true,
    key,
    ipMasq: f.values['no-ip-masq'] !== true,
    existing: env[key],
  })
  const dest = String(f.values.output)
  if (dest === '') process.stdout.write(out)
  else {
    try {
      writeFileSync(dest, out)
    } catch (err) {
      throw new TartanError('TARTAN_ERR_SUBNET_FILE', `cannot write ${dest}: ${(err as Error).message}`)
    }
  }
  return 0
}
