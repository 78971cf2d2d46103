/**
 * Every flag of every tartan command, in one table each, and one strict parser for them. Flags follow Go's
 * flag package, as flanneld's do: `-name value`, `--name value`, `--name=value`; booleans `--name` or
 * `--name=false`; `--` ends the flags. Each flag can also come from the environment: TARTAN_<NAME> (upper
 * case, '-' -> '_'), and flags flanneld has also from FLANNELD_<NAME>, so a flanneld unit file keeps working.
 * Precedence: command line, then TARTAN_*, then FLANNELD_*, then the default. An unknown flag or a malformed
 * value is a UsageError (exit 2).
 */
import { UsageError } from './usage-error.js'

export type FlagType = 'string' | 'int' | 'bool' | 'list'
export type FlagValue = string | number | boolean | string[]

export interface FlagSpec {
  name: string
  type: FlagType
  /** Shown in help as the value's placeholder. */
  value?: string
  default?: FlagValue
  help: string
  /** A flanneld flag with the same meaning: also read from FLANNELD_<NAME>. */
  flannel?: boolean
  /** Inclusive bounds for int flags. */
  min?: number
  max?: number
  /** Other spellings (e.g. mk-docker-opts.sh's one-letter options). */
  aliases?: string[]
}

/** The environment variable tartan reads a flag from. */
export function envName(flag: string, prefix = 'TARTAN'): string {
  return `${prefix}_${flag.toUpperCase().replace(/-/g, '_')}`
}

// ---- the tables ----

export const RUN_FLAGS: readonly FlagSpec[] = [
  { name: 'etcd-endpoints', type: 'string', value: 'URLS', default: 'http://127.0.0.1:4001,http://127.0.0.1:2379', flannel: true,
    help: 'a comma-delimited list of etcd endpoints (setting it selects the etcd store unless --store says otherwise)' },
  { name: 'etcd-prefix', type: 'string', value: 'PATH', default: '/coreos.com/network', flannel: true, help: 'etcd prefix' },
  { name: 'etcd-keyfile', type: 'string', value: 'FILE', default: '', flannel: true, help: 'SSL key file used to secure etcd communication' },
  { name: 'etcd-certfile', type: 'string', value: 'FILE', default: '', flannel: true, help: 'SSL certification file used to secure etcd communication' },
  { name: 'etcd-cafile', type: 'string', value: 'FILE', default: '', flannel: true, help: 'SSL Certificate Authority file used to secure etcd communication' },
  { name: 'etcd-username', type: 'string', value: 'NAME', default: '', flannel: true, help: 'username for BasicAuth to etcd' },
  { name: 'etcd-password', type: 'string', value: 'PASSWORD', default: '', flannel: true, help: 'password for BasicAuth to etcd' },
  { name: 'iface', type: 'list', value: 'NAME|IP', default: [], flannel: true,
    help: 'interface to use (IP or name) for inter-host communication; repeat to try several in order (default: the default route\'s)' },
  { name: 'iface-regex', type: 'list', value: 'REGEX', default: [], flannel: true,
    help: 'regex expression to match the first interface to use (IP or name) for inter-host communication; repeat to try several in order; checked after --iface' },
  { name: 'iface-can-reach', type: 'string', value: 'IP', default: '', flannel: true,
    help: 'use the interface the routing table sends this IP through (as `ip route get IP`); checked after --iface and --iface-regex' },
  { name: 'public-ip', type: 'string', value: 'IP', default: '', flannel: true, help: 'IP accessible by other nodes for inter-host communication' },
  { name: 'subnet-file', type: 'string', value: 'FILE', default: '/run/flannel/subnet.env', flannel: true,
    help: 'filename where env variables (subnet, MTU, ...) will be written to' },
  { name: 'subnet-lease-renew-margin', type: 'int', value: 'MINUTES', default: 60, min: 1, max: 1439, flannel: true,
    help: 'subnet lease renewal margin, in minutes, ranging from 1 to 1439' },
  { name: 'ip-masq', type: 'bool', default: false, flannel: true, help: 'setup IP masquerade rule (nftables) for traffic destined outside of overlay network' },
  { name: 'healthz-ip', type: 'string', value: 'IP', default: '0.0.0.0', flannel: true, help: 'the IP address for the healthz (and metrics) server to listen on' },
  { name: 'healthz-port', type: 'int', value: 'PORT', default: 0, min: 0, max: 65535, flannel: true,
    help: 'the port for the healthz server (/healthz, /readyz) to listen on (0 to disable)' },
  { name: 'store', type: 'string', value: 'STORE', default: '',
    help: 'lease store: sqlite:FILE (or a path ending in .db) for the embedded store, or etcd (default sqlite:/var/lib/tartan/leases.db, or etcd when --etcd-endpoints is set)' },
  { name: 'network', type: 'string', value: 'CONFIG',
    help: 'network config to write into an empty store: JSON (flannel\'s net-conf.json), @FILE, or a CIDR such as 10.244.0.0/16' },
  { name: 'backend', type: 'string', value: 'udp|vxlan',
    help: 'the backend this node runs; with a CIDR --network it picks the Backend.Type (default vxlan), else it must match the stored config' },
  { name: 'tun-name', type: 'string', value: 'NAME', default: 'tartan0', help: 'name of the TUN device this node creates' },
  { name: 'offload', type: 'bool', default: true,
    help: 'use TUN offloads (TSO/USO) and UDP GSO/GRO when the kernel has them, probed at start with a fallback; --offload=false turns them off' },
  { name: 'busy-poll-us', type: 'int', value: 'MICROSECONDS', default: 50, min: 0, max: 1000,
    help: 'after traffic, keep polling for this long before sleeping, only while no other task wants the core (lower latency); 0 turns it off' },
  { name: 'metrics-port', type: 'int', value: 'PORT', default: 8286, min: 0, max: 65535,
    help: 'the port for /metrics (Prometheus), /status, /healthz and /readyz, on --healthz-ip (0 to disable)' },
  { name: 'log-level', type: 'string', value: 'LEVEL', default: 'info', help: 'debug, info, warn or error' },
]

export const DEMO_FLAGS: readonly FlagSpec[] = [
  { name: 'nodes', type: 'int', value: 'N', default: 3, min: 2, max: 16, help: 'number of nodes in the cluster' },
  { name: 'duration', type: 'int', value: 'SECONDS', default: 10, min: 1, max: 3600,
    help: 'total measurement time, shared by the pod pairs (at least ~0.5 s of TCP per pair)' },
  { name: 'backend', type: 'string', value: 'udp|vxlan', default: 'vxlan', help: 'the backend the cluster runs' },
  { name: 'keep', type: 'bool', default: false, help: 'keep the cluster running after the table, print how to reach it, clean up on Ctrl-C' },
]

export const STATUS_FLAGS: readonly FlagSpec[] = [
  { name: 'url', type: 'string', value: 'URL', default: 'http://127.0.0.1:8286', help: 'the node\'s metrics/status address (see tartan run --metrics-port)' },
  { name: 'json', type: 'bool', default: false, help: 'print the raw JSON instead of tables' },
]

export const DOCKER_OPTS_FLAGS: readonly FlagSpec[] = [
  { name: 'subnet-file', aliases: ['f'], type: 'string', value: 'FILE', default: '/run/flannel/subnet.env', help: 'the subnet.env to read (mk-docker-opts.sh -f)' },
  { name: 'output', aliases: ['d'], type: 'string', value: 'FILE', default: '', help: 'write to FILE instead of standard output (mk-docker-opts.sh -d)' },
  { name: 'individual', aliases: ['i'], type: 'bool', default: false, help: 'print each option as its own variable, DOCKER_OPT_BIP="--bip=..." (mk-docker-opts.sh -i)' },
  { name: 'combined', aliases: ['c'], type: 'bool', default: false, help: 'print all options as one KEY="..." line (mk-docker-opts.sh -c)' },
  { name: 'key', aliases: ['k'], type: 'string', value: 'KEY', default: 'DOCKER_OPTS', help: 'the variable name of the combined line (mk-docker-opts.sh -k)' },
  { name: 'no-ip-masq', aliases: ['m'], type: 'bool', default: false, help: 'leave out --ip-masq, for old Docker versions (mk-docker-opts.sh -m)' },
]

// ---- the parser ----

export interface ParsedFlags {
  values: Record<string, FlagValue | undefined>
  /** Flags given on the command line or through the environment (not defaulted). */
  explicit: Set<string>
  positional: string[]
  help: boolean
}

const TRUE = new Set(['true', '1', 't', 'TRUE', 'True', 'T'])
const FALSE = new Set(['false', '0', 'f', 'FALSE', 'False', 'F'])

function convert(spec: FlagSpec, raw: string, where: string, command: string): FlagValue {
  switch (spec.type) {
    case 'bool':
      if (TRUE.has(raw)) return true
      if (FALSE.has(raw)) return false
      throw new UsageError(`${where}: ${JSON.stringify(raw)} is not a boolean (true or false)`, command)
    case 'int': {
      if (!/^-?\d+$/.test(raw)) throw new UsageError(`${where}: ${JSON.stringify(raw)} is not an integer`, command)
      const n = Number(raw)
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw new UsageError(`${where}: ${n} is out of range (${spec.min}..${spec.max})`, command)
      }
      return n
    }
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter((s) => s !== '')
    default:
      return raw
  }
}

/**
 * Parses argv (after the command name) against `specs`, filling in the environment and defaults; throws a
 * UsageError naming the flag and what is wrong with it.
 */
export function parseFlags(specs: readonly FlagSpec[], argv: readonly string[], env: NodeJS.ProcessEnv, command: string): ParsedFlags {
  const byName = new Map<string, FlagSpec>()
  for (const s of specs) {
    byName.set(s.name, s)
    for (const a of s.aliases ?? []) byName.set(a, s)
  }
  const values: Record<string, FlagValue | undefined> = {}
  const explicit = new Set<string>()
  const positional: string[] = []
  let help = false
  const set = (spec: FlagSpec, v: FlagValue): void => {
    if (spec.type === 'list' && explicit.has(spec.name)) values[spec.name] = [...(values[spec.name] as string[]), ...(v as string[])]
    else values[spec.name] = v
    explicit.add(spec.name)
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') {
      positional.push(...argv.slice(i + 1))
      break
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg)
      continue
    }
    const body = arg.replace(/^--?/, '')
    const eq = body.indexOf('=')
    const name = eq < 0 ? body : body.slice(0, eq)
    if (name === 'help' || name === 'h') {
      help = true
      continue
    }
    const spec = byName.get(name)
    if (spec === undefined) throw new UsageError(`unknown flag ${arg.slice(0, eq < 0 ? undefined : arg.indexOf('='))}`, command)
    const where = `--${spec.name}`
    if (eq >= 0) {
      set(spec, convert(spec, body.slice(eq + 1), where, command))
    } else if (spec.type === 'bool') {
      set(spec, true)
    } else {
      if (i + 1 >= argv.length) throw new UsageError(`${where} needs a value (${spec.value ?? spec.type})`, command)
      set(spec, convert(spec, argv[++i]!, where, command))
    }
  }
  for (const spec of specs) {
    if (explicit.has(spec.name)) continue
    for (const prefix of spec.flannel === true ? ['TARTAN', 'FLANNELD'] : ['TARTAN']) {
      const key = envName(spec.name, prefix)
      const raw = env[key]
      if (raw !== undefined && raw !== '') {
        values[spec.name] = convert(spec, raw, key, command)
        explicit.add(spec.name)
        break
      }
    }
    if (!explicit.has(spec.name)) values[spec.name] = spec.default
  }
  return { values, explicit, positional, help }
}

/** The flags section of a command's help text, one flag per entry. */
export function formatFlagHelp(specs: readonly FlagSpec[]): string {
  const lines: string[] = []
  for (const s of specs) {
    const names = [`--${s.name}`, ...(s.aliases ?? []).map((a) => `-${a}`)].join(', ')
    const value = s.type === 'bool' ? '' : ` ${s.value ?? s.type.toUpperCase()}`
    const def = s.default === undefined || s.default === '' || (Array.isArray(s.default) && s.default.length === 0) || s.default === false
      ? '' : ` (default ${Array.isArray(s.default) ? s.default.join(',') : String(s.default)})`
    const env = [envName(s.name), ...(s.flannel === true ? [envName(s.name, 'FLANNELD')] : [])].join(', ')
    lines.push(`  ${names}${value}`, `      ${s.help}${def}`, `      env: ${env}`)
  }
  return lines.join('\n')
}
