/**
 * The cluster network configuration in flannel's JSON format (the value of `<prefix>/config`, or
 * net-conf.json), parsed strictly: a field tartan does not know or cannot honour is an error that names the
 * field and value, never silently ignored. Defaults and range rules follow flannel's CheckNetworkConfig
 * (pkg/subnet/config.go).
 */
import { TartanError } from '../errors.js'
import {
  type Ipv4Prefix,
  formatCidr,
  intToIpv4,
  tryParseIpv4,
  prefixContains,
  parseCidr,
  prefixMask,
  prefixSize,
} from './cidr.js'

export type BackendType = 'udp' | 'vxlan'

/** flannel's UDP backend port (pkg/backend/udp: defaultPort = 8285). */
export const FLANNEL_UDP_PORT = 8285
/** The Linux vxlan driver's default destination port, which flannel's vxlan backend uses when Port is 0. */
export const VXLAN_DEFAULT_PORT = 8472
/** flannel's default VNI on Linux (pkg/backend/vxlan: defaultVNI = 1). */
export const VXLAN_DEFAULT_VNI = 1
/** VXLAN Network Identifiers are 24 bits (RFC 7348 section 5). */
export const VXLAN_MAX_VNI = 0xffffff

export type BackendConfig =
  | { readonly type: 'udp'; readonly port: number }
  | { readonly type: 'vxlan'; readonly port: number; readonly vni: number; readonly mtu?: number }

export interface NetworkConfig {
  /** The whole overlay, for example 10.244.0.0/16. */
  readonly network: Ipv4Prefix
  /** The prefix length of each node's lease. */
  readonly subnetLen: number
  /** The network address of the lowest subnet that may be leased. */
  readonly subnetMin: number
  /** The network address of the highest subnet that may be leased. */
  readonly subnetMax: number
  readonly backend: BackendConfig
}

const TOP_FIELDS = [
  'Network',
  'SubnetLen',
  'SubnetMin',
  'SubnetMax',
  'Backend',
  'EnableIPv4',
  'EnableIPv6',
  'EnableNFTables',
  'IPv6Network',
  'IPv6SubnetLen',
  'IPv6SubnetMin',
  'IPv6SubnetMax',
] as const
const BACKEND_FIELDS = ['Type', 'Port', 'VNI', 'MTU', 'GBP', 'DirectRouting', 'Learning'] as const

function invalid(source: string, field: string, value: unknown, why: string): TartanError {
  return new TartanError(
    'TARTAN_ERR_INVALID_CONFIG',
    `${source}: ${field} ${JSON.stringify(value)} is invalid: ${why}`,
  )
}

/**
 * Maps an object's keys onto canonical field names the way Go's encoding/json does (exact or
 * case-insensitive match), rejecting unknown keys and keys that name the same field twice. A JSON null
 * counts as absent, as in Go.
 */
function canonicalFields<F extends string>(
  obj: Record<string, unknown>,
  fields: readonly F[],
  source: string,
  where: string,
): Partial<Record<F, unknown>> {
  const out: Partial<Record<F, unknown>> = {}
  const seen = new Map<F, string>()
  for (const [key, value] of Object.entries(obj)) {
    const field = fields.find((f) => f === key) ?? fields.find((f) => f.toLowerCase() === key.toLowerCase())
    if (field === undefined) {
      throw new TartanError(
        'TARTAN_ERR_INVALID_CONFIG',
        `${source}: unknown field ${where}${JSON.stringify(key)}; known fields are ${fields.join(', ')}`,
      )
    }
    const prev = seen.get(field)
    if (prev !== undefined) {
      throw new TartanError(
        'TARTAN_ERR_INVALID_CONFIG',
        `${source}: fields ${JSON.stringify(prev)} and ${JSON.stringify(key)} both set ${where}${field}; keep one`,
      )
    }
    seen.set(field, key)
    if (value !== null) out[field] = value
  }
  return out
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function intField(source: string, field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalid(source, field, v, `must be an integer ${min}..${max}`)
  }
  return v
}

function boolField(source: string, field: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw invalid(source, field, v, 'must be true or false')
  return v
}

function addressField(source: string, field: string, v: unknown): number {
  const n = typeof v === 'string' ? tryParseIpv4(v) : undefined
  if (n === undefined) throw invalid(source, field, v, 'must be an IPv4 address such as "10.244.1.0"')
  return n
}

function parseBackend(source: string, raw: unknown): BackendConfig {
  // flannel: a missing Backend means the udp backend (parseBackendType in pkg/subnet/config.go).
  if (raw === undefined) return { type: 'udp', port: FLANNEL_UDP_PORT }
  if (!isObject(raw)) throw invalid(source, 'Backend', raw, 'must be an object such as {"Type":"vxlan"}')
  const f = canonicalFields(raw, BACKEND_FIELDS, source, 'Backend.')
  const type = f.Type
  if (type !== 'udp' && type !== 'vxlan') {
    throw invalid(source, 'Backend.Type', type ?? null, 'tartan supports "udp" and "vxlan"')
  }
  const port = f.Port === undefined ? 0 : intField(source, 'Backend.Port', f.Port, 0, 65535)
  if (type === 'udp') {
    for (const k of ['VNI', 'MTU', 'GBP', 'DirectRouting', 'Learning'] as const) {
      if (f[k] !== undefined) throw invalid(source, `Backend.${k}`, f[k], 'is only valid with Backend.Type "vxlan"')
    }
    return { type, port: port === 0 ? FLANNEL_UDP_PORT : port }
  }
  const vni = f.VNI === undefined ? VXLAN_DEFAULT_VNI : intField(source, 'Backend.VNI', f.VNI, 0, VXLAN_MAX_VNI)
  for (const k of ['GBP', 'DirectRouting'] as const) {
    if (f[k] !== undefined && boolField(source, `Backend.${k}`, f[k])) {
      throw invalid(source, `Backend.${k}`, f[k], 'tartan does not implement this vxlan option; remove it or set false')
    }
  }
  if (f.Learning !== undefined) boolField(source, 'Backend.Learning', f.Learning) // kernel fdb learning: no effect here
  // 68 is the minimum IPv4 MTU (RFC 791); 65535 the largest an IPv4 packet can be.
  const mtu = f.MTU === undefined ? undefined : intField(source, 'Backend.MTU', f.MTU, 68, 65535)
  const backend: BackendConfig = { type, port: port === 0 ? VXLAN_DEFAULT_PORT : port, vni }
  return mtu === undefined ? backend : { ...backend, mtu }
}

/**
 * Parses and validates a network config (JSON text or an already-parsed value), filling in flannel's
 * defaults; throws TARTAN_ERR_INVALID_CONFIG naming the offending field and value. `source` names where the
 * config came from in messages (for example the etcd key or file path).
 */
export function parseNetworkConfig(input: string | unknown, source = 'network config'): NetworkConfig {
  let raw: unknown = input
  if (typeof input === 'string') {
    try {
      raw = JSON.parse(input)
    } catch (err) {
      throw new TartanError('TARTAN_ERR_INVALID_CONFIG', `${source}: not valid JSON (${(err as Error).message})`, {
        cause: err,
      })
    }
  }
  if (!isObject(raw)) {
    throw new TartanError('TARTAN_ERR_INVALID_CONFIG', `${source}: must be a JSON object such as {"Network":"10.244.0.0/16"}`)
  }
  const f = canonicalFields(raw, TOP_FIELDS, source, '')

  if (f.EnableIPv4 !== undefined && !boolField(source, 'EnableIPv4', f.EnableIPv4)) {
    throw invalid(source, 'EnableIPv4', f.EnableIPv4, 'tartan is an IPv4 overlay; remove it or set true')
  }
  if (f.EnableIPv6 !== undefined && boolField(source, 'EnableIPv6', f.EnableIPv6)) {
    throw invalid(source, 'EnableIPv6', f.EnableIPv6, 'tartan does not carry IPv6 yet; remove it or set false')
  }
  if (f.EnableNFTables !== undefined) boolField(source, 'EnableNFTables', f.EnableNFTables) // masquerade is not ours
  // IPv6Network & co. are ignored by flannel itself while EnableIPv6 is false; so are they here.

  if (f.Network === undefined) {
    throw new TartanError('TARTAN_ERR_INVALID_CONFIG', `${source}: Network is required, for example "10.244.0.0/16"`)
  }
  const parsed = typeof f.Network === 'string' ? parseCidr(f.Network) : { ok: false as const, reason: 'must be a string' }
  if (!parsed.ok) throw invalid(source, 'Network', f.Network, `${parsed.reason} (expected a CIDR such as "10.244.0.0/16")`)
  const network = parsed.net

  let subnetLen: number
  if (f.SubnetLen !== undefined && f.SubnetLen !== 0) {
    subnetLen = intField(source, 'SubnetLen', f.SubnetLen, 0, 32)
    // flannel: each host needs room for a tunnel and a bridge address, so at most /30.
    if (subnetLen > 30) throw invalid(source, 'SubnetLen', subnetLen, 'must be at most 30')
    // flannel: the Network must hold at least four subnets (the first one is never leased).
    if (subnetLen < network.len + 2) {
      throw invalid(
        source,
        'SubnetLen',
        subnetLen,
        `Network ${formatCidr(network)} must hold at least four subnets, so SubnetLen must be at least ${network.len + 2}`,
      )
    }
  } else {
    // flannel's default: a /24 per host when the Network is /22 or larger; else split it in four;
    // a Network smaller than /28 is rejected.
    if (network.len > 28) {
      throw invalid(source, 'Network', f.Network, 'is too small; the smallest useful network is a /28')
    }
    subnetLen = network.len <= 22 ? 24 : network.len + 2
  }

  const size = prefixSize(subnetLen)
  const mask = prefixMask(subnetLen)
  const networkEnd = network.addr + prefixSize(network.len) // one past the last address
  const boundary = (field: string, v: unknown, n: number): number => {
    if (!prefixContains(network, n)) throw invalid(source, field, v, `is outside Network ${formatCidr(network)}`)
    if (((n & mask) >>> 0) !== n) {
      throw invalid(source, field, v, `is not on a /${subnetLen} boundary (SubnetLen); try ${intToIpv4((n & mask) >>> 0)}`)
    }
    return n
  }
  // flannel skips the first subnet by default: a pod address equal to the network address causes trouble.
  let subnetMin = network.addr + size
  if (f.SubnetMin !== undefined) {
    const n = addressField(source, 'SubnetMin', f.SubnetMin)
    if (n !== 0) subnetMin = boundary('SubnetMin', f.SubnetMin, n) // flannel treats 0.0.0.0 as unset
  }
  let subnetMax = networkEnd - size
  if (f.SubnetMax !== undefined) {
    const n = addressField(source, 'SubnetMax', f.SubnetMax)
    if (n !== 0) subnetMax = boundary('SubnetMax', f.SubnetMax, n)
  }
  if (subnetMin > subnetMax) {
    throw invalid(
      source,
      'SubnetMin',
      intToIpv4(subnetMin),
      `is above SubnetMax ${intToIpv4(subnetMax)}: no subnet can be leased`,
    )
  }
  return { network, subnetLen, subnetMin, subnetMax, backend: parseBackend(source, f.Backend) }
}

/**
 * Serialises a config in flannel's JSON format (the form `etcdctl put <prefix>/config` takes), with every
 * default written out explicitly so that flanneld and tartan derive the same values.
 */
export function formatNetworkConfig(config: NetworkConfig): string {
  const b = config.backend
  const backend =
    b.type === 'udp'
      ? { Type: 'udp', Port: b.port }
      : { Type: 'vxlan', Port: b.port, VNI: b.vni, ...(b.mtu === undefined ? {} : { MTU: b.mtu }) }
  return JSON.stringify({
    Network: formatCidr(config.network),
    SubnetLen: config.subnetLen,
    SubnetMin: intToIpv4(config.subnetMin),
    SubnetMax: intToIpv4(config.subnetMax),
    Backend: backend,
  })
}

/** Whether a subnet may be leased under this config: the right length and between SubnetMin and SubnetMax. */
export function subnetFitsConfig(config: NetworkConfig, subnet: Ipv4Prefix): boolean {
  // As flannel's isSubnetConfigCompat.
  return subnet.len === config.subnetLen && subnet.addr >= config.subnetMin && subnet.addr <= config.subnetMax
}
