/**
 * Turns `tartan run`'s parsed flags into what the daemon, the HTTP servers and the logger take, checking
 * every value up front so that a mistake is reported (exit 2) before anything is created.
 */
import { readFileSync } from 'node:fs'
import { parseNetworkConfig } from '../config/network-config.js'
import { tryParseIpv4 } from '../config/cidr.js'
import { DEFAULT_STORE_PATH, type StoreSpec } from '../daemon/store.js'
import { compileIfaceRegex } from '../daemon/underlay.js'
import type { ParsedFlags } from './flags.js'
import { UsageError } from './usage-error.js'

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface RunOptions {
  store: StoreSpec
  /** Network config JSON to bootstrap an empty store with. */
  network?: string
  backend?: 'udp' | 'vxlan'
  iface: string[]
  ifaceRegex: string[]
  ifaceCanReach?: string
  publicIp?: string
  subnetFile: string
  renewMarginMs: number
  ipMasq: boolean
  /** TUN offloads and UDP GSO/GRO (probed, with a fallback); false turns them off. */
  offload: boolean
  /** Busy polling after traffic, in microseconds (Engine option `busyPollUs`); 0 turns it off. */
  busyPollUs: number
  tunName: string
  healthzIp: string
  healthzPort: number
  metricsPort: number
  logLevel: LogLevel
}

const ETCD_FLAGS = ['etcd-endpoints', 'etcd-prefix', 'etcd-keyfile', 'etcd-certfile', 'etcd-cafile', 'etcd-username', 'etcd-password']

function fail(message: string): never {
  throw new UsageError(message, 'run')
}

function str(f: ParsedFlags, name: string): string {
  return String(f.values[name] ?? '')
}

/** Parses --store: 'etcd', 'sqlite:FILE', or a path ending in .db; '' picks etcd if any --etcd-* flag was set. */
function storeSpec(f: ParsedFlags): StoreSpec {
  let store = str(f, 'store')
  if (store === '') store = ETCD_FLAGS.some((n) => f.explicit.has(n)) ? 'etcd' : `sqlite:${DEFAULT_STORE_PATH}`
  if (store === 'etcd') {
    const endpoints = str(f, 'etcd-endpoints').split(',').map((s) => s.trim()).filter((s) => s !== '')
    if (endpoints.length === 0) fail('--etcd-endpoints is empty; give at least one URL such as http://127.0.0.1:2379')
    for (const e of endpoints) {
      let url: URL
      try {
        url = new URL(e)
      } catch {
        fail(`--etcd-endpoints: ${JSON.stringify(e)} is not a URL (e.g. https://10.0.0.1:2379)`)
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`--etcd-endpoints: ${e} must be an http:// or https:// URL`)
    }
    const prefix = str(f, 'etcd-prefix')
    if (!prefix.startsWith('/')) fail(`--etcd-prefix ${JSON.stringify(prefix)} must start with "/"`)
    const tls = { caFile: str(f, 'etcd-cafile') || undefined, certFile: str(f, 'etcd-certfile') || undefined, keyFile: str(f, 'etcd-keyfile') || undefined }
    if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) fail('--etcd-certfile and --etcd-keyfile go together; give both or neither')
    const username = str(f, 'etcd-username')
    const spec: StoreSpec = { kind: 'etcd', endpoints, prefix }
    if (tls.caFile !== undefined || tls.certFile !== undefined) spec.tls = tls
    if (username !== '') spec.auth = { username, password: str(f, 'etcd-password') }
    return spec
  }
  if (store.startsWith('sqlite:')) {
    const path = store.slice('sqlite:'.length)
    if (path === '') fail('--store=sqlite: needs a file, e.g. --store=sqlite:/var/lib/tartan/leases.db')
    return { kind: 'sqlite', path }
  }
  if (store.endsWith('.db')) return { kind: 'sqlite', path: store }
  return fail(`--store ${JSON.stringify(store)}: use sqlite:FILE, a path ending in .db, or etcd`)
}

/** Parses --network: JSON, @FILE or a CIDR, validated as flannel would; returns the JSON to store. */
function networkJson(f: ParsedFlags, backend: 'udp' | 'vxlan' | undefined): string | undefined {
  if (!f.explicit.has('network')) return undefined
  const raw = str(f, 'network').trim()
  let json: string
  if (raw.startsWith('{')) {
    json = raw
  } else if (raw.startsWith('@')) {
    try {
      json = readFileSync(raw.slice(1), 'utf8')
    } catch (err) {
      fail(`--network ${raw}: cannot read ${raw.slice(1)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
  } else {
    json = JSON.stringify({ Network: raw, Backend: { Type: backend ?? 'vxlan' } })
  }
  let type: string
  try {
    type = parseNetworkConfig(json, '--network').backend.type
  } catch (err) {
    fail((err as Error).message)
  }
  if (backend !== undefined && type !== backend) fail(`--network names backend ${type} but --backend is ${backend}; make them agree`)
  return json
}

/** Checks every run flag and builds the options; throws UsageError (exit 2) on the first problem. */
export function runOptions(f: ParsedFlags): RunOptions {
  if (f.positional.length > 0) fail(`unexpected argument ${JSON.stringify(f.positional[0])}`)
  const backendRaw = f.values.backend as string | undefined
  if (backendRaw !== undefined && backendRaw !== 'udp' && backendRaw !== 'vxlan') fail(`--backend ${JSON.stringify(backendRaw)}: use udp or vxlan`)
  const backend = backendRaw as 'udp' | 'vxlan' | undefined
  const publicIp = str(f, 'public-ip')
  if (publicIp !== '' && tryParseIpv4(publicIp) === undefined) fail(`--public-ip ${JSON.stringify(publicIp)} is not an IPv4 address`)
  const ifaceRegex = (f.values['iface-regex'] as string[] | undefined) ?? []
  for (const r of ifaceRegex) {
    try {
      compileIfaceRegex(r)
    } catch (e) {
      fail((e as Error).message)
    }
  }
  const ifaceCanReach = str(f, 'iface-can-reach')
  if (ifaceCanReach !== '' && tryParseIpv4(ifaceCanReach) === undefined) fail(`--iface-can-reach ${JSON.stringify(ifaceCanReach)} is not an IPv4 address`)
  const healthzIp = str(f, 'healthz-ip')
  if (tryParseIpv4(healthzIp) === undefined) fail(`--healthz-ip ${JSON.stringify(healthzIp)} is not an IPv4 address`)
  const tunName = str(f, 'tun-name')
  if (tunName === '' || Buffer.byteLength(tunName) > 15 || /[\s/:%]/.test(tunName)) {
    fail(`--tun-name ${JSON.stringify(tunName)}: use 1..15 bytes without whitespace, '/', ':' or '%'`)
  }
  const logLevel = str(f, 'log-level') as LogLevel
  if (!LOG_LEVELS.includes(logLevel)) fail(`--log-level ${JSON.stringify(logLevel)}: use ${LOG_LEVELS.join(', ')}`)
  const subnetFile = str(f, 'subnet-file')
  if (subnetFile === '') fail('--subnet-file is empty; give a path such as /run/flannel/subnet.env')
  const healthzPort = f.values['healthz-port'] as number
  const metricsPort = f.values['metrics-port'] as number
  const opts: RunOptions = {
    store: storeSpec(f),
    network: networkJson(f, backend),
    backend,
    iface: (f.values.iface as string[] | undefined) ?? [],
    ifaceRegex,
    ifaceCanReach: ifaceCanReach === '' ? undefined : ifaceCanReach,
    publicIp: publicIp === '' ? undefined : publicIp,
    subnetFile,
    renewMarginMs: (f.values['subnet-lease-renew-margin'] as number) * 60_000,
    ipMasq: f.values['ip-masq'] === true,
    offload: f.values.offload !== false,
    busyPollUs: f.values['busy-poll-us'] as number,
    tunName,
    healthzIp,
    healthzPort,
    metricsPort,
    logLevel,
  }
  return opts
}
