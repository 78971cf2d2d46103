/**
 * flannel's lease key and value formats, byte for byte.
 *
 * Keys: `<prefix>/subnets/A.B.C.D-LEN`, optionally followed by `&<ipv6>-<len>` on dual-stack flannel nodes
 * (pkg/subnet/subnet.go: MakeSubnetKey / ParseSubnetKey).
 *
 * Values: Go's json.Marshal of lease.LeaseAttrs (pkg/lease/lease.go), fields in declaration order:
 *   PublicIP      ip.IP4          always, as "A.B.C.D"
 *   PublicIPv6    *ip.IP6         always (no omitempty), null when unset
 *   BackendType   string          omitempty: absent when "" (flannel's udp backend never sets it)
 *   BackendData   json.RawMessage omitempty: absent when unset; otherwise compact JSON
 *   BackendV6Data json.RawMessage omitempty
 * e.g. udp   {"PublicIP":"198.18.0.7","PublicIPv6":null}
 *      vxlan {"PublicIP":"198.18.0.7","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:ff"}}
 */
import { isIPv6 } from 'node:net'
import { type Ipv4Prefix, intToIpv4, tryParseIpv4, parseCidr } from '../config/cidr.js'
import type { BackendType, NetworkConfig } from '../config/network-config.js'
import { TartanError } from '../errors.js'

/** What a node publishes about itself in its lease. */
export interface LeaseAttrs {
  /** The underlay address peers send encapsulated traffic to. */
  readonly publicIp: string
  /** flannel's dual-stack underlay address; tartan writes null. */
  readonly publicIpv6: string | null
  /** '' when absent, which is what flannel's udp backend writes. */
  readonly backendType: string
  /** The parsed BackendData JSON, or undefined when absent. */
  readonly backendData?: unknown
  /** The parsed BackendV6Data JSON, or undefined when absent. */
  readonly backendV6Data?: unknown
}

export interface SubnetKey {
  /** The key below `<prefix>/subnets/`, exactly as stored (e.g. '10.244.7.0-24'). */
  readonly key: string
  readonly subnet: Ipv4Prefix
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string }

/** The key (below `<prefix>/subnets/`) of a subnet: 'A.B.C.D-LEN', as flannel's MakeSubnetKey. */
export function subnetKey(subnet: Ipv4Prefix): string {
  return `${intToIpv4(subnet.addr)}-${subnet.len}`
}

const KEY = /^([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})-([0-9]{1,2})(?:&([0-9a-f:]+)-([0-9]{1,3}))?$/

/**
 * Parses a subnet key (the part after `<prefix>/subnets/`). Stricter than flannel's regexp: the whole key
 * must match, the address must be a network address, and an IPv6 part must be a valid prefix.
 */
export function parseSubnetKey(key: string): Decoded<SubnetKey> {
  const m = KEY.exec(key)
  if (m === null) return { ok: false, reason: `key ${JSON.stringify(key)} is not of the form A.B.C.D-LEN` }
  const cidr = parseCidr(`${m[1]}/${m[2]}`)
  if (!cidr.ok) return { ok: false, reason: `key ${JSON.stringify(key)}: ${cidr.reason}` }
  if (m[3] !== undefined && (!isIPv6(m[3]) || Number(m[4]) > 128)) {
    return { ok: false, reason: `key ${JSON.stringify(key)}: bad IPv6 part` }
  }
  return { ok: true, value: { key, subnet: cidr.net } }
}

/** Serialises lease attributes exactly as flannel's json.Marshal(LeaseAttrs) does. */
export function encodeLeaseValue(attrs: LeaseAttrs): string {
  let s = `{"PublicIP":${JSON.stringify(attrs.publicIp)},"PublicIPv6":${attrs.publicIpv6 === null ? 'null' : JSON.stringify(attrs.publicIpv6)}`
  if (attrs.backendType !== '') s += `,"BackendType":${JSON.stringify(attrs.backendType)}`
  if (attrs.backendData !== undefined) s += `,"BackendData":${JSON.stringify(attrs.backendData)}`
  if (attrs.backendV6Data !== undefined) s += `,"BackendV6Data":${JSON.stringify(attrs.backendV6Data)}`
  return s + '}'
}

/**
 * Parses a lease value. PublicIP must be a valid IPv4 address; the other fields must have their flannel
 * types when present. Unknown fields are ignored, as Go's decoder does, so that newer flannel values still
 * read.
 */
export function decodeLeaseValue(text: string): Decoded<LeaseAttrs> {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return { ok: false, reason: 'value is not JSON' }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'value is not a JSON object' }
  const o = v as Record<string, unknown>
  if (typeof o.PublicIP !== 'string' || tryParseIpv4(o.PublicIP) === undefined) {
    return { ok: false, reason: `PublicIP ${JSON.stringify(o.PublicIP)} is not an IPv4 address` }
  }
  const v6 = o.PublicIPv6
  if (v6 !== undefined && v6 !== null && (typeof v6 !== 'string' || !isIPv6(v6))) {
    return { ok: false, reason: `PublicIPv6 ${JSON.stringify(v6)} is not an IPv6 address` }
  }
  const bt = o.BackendType
  if (bt !== undefined && bt !== null && typeof bt !== 'string') {
    return { ok: false, reason: `BackendType ${JSON.stringify(bt)} is not a string` }
  }
  const attrs: { -readonly [K in keyof LeaseAttrs]: LeaseAttrs[K] } = {
    publicIp: o.PublicIP,
    publicIpv6: typeof v6 === 'string' ? v6 : null,
    backendType: typeof bt === 'string' ? bt : '',
  }
  if (o.BackendData !== undefined) attrs.backendData = o.BackendData
  if (o.BackendV6Data !== undefined) attrs.backendV6Data = o.BackendV6Data
  return { ok: true, value: attrs }
}

/** flannel's vxlan BackendData (pkg/backend/vxlan: vxlanLeaseAttrs {VNI uint32; VtepMAC hardwareAddr}). */
export interface VxlanBackendData {
  readonly vni: number
  /** Lower-case colon-separated MAC, as Go's net.HardwareAddr.String(). */
  readonly vtepMac: string
}

const MAC = /^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/

/** Normalises a 48-bit MAC ('AA-BB-…' or 'aa:bb:…') to lower-case colon form; undefined when invalid. */
export function normalizeMac(text: string): string | undefined {
  return MAC.test(text) ? text.toLowerCase().replaceAll('-', ':') : undefined
}

/** The BackendData value a vxlan node publishes, in flannel's field order. */
export function vxlanBackendData(vni: number, vtepMac: string): { VNI: number; VtepMAC: string } {
  const mac = normalizeMac(vtepMac)
  if (mac === undefined) {
    throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `VtepMAC ${JSON.stringify(vtepMac)} is not a MAC address such as "aa:bb:cc:dd:ee:ff"`)
  }
  return { VNI: vni, VtepMAC: mac }
}

/** Reads a vxlan peer's BackendData. */
export function decodeVxlanBackendData(data: unknown): Decoded<VxlanBackendData> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, reason: 'vxlan BackendData is not an object' }
  }
  const o = data as Record<string, unknown>
  const vni = o.VNI
  if (typeof vni !== 'number' || !Number.isInteger(vni) || vni < 0 || vni > 0xffffffff) {
    return { ok: false, reason: `vxlan BackendData.VNI ${JSON.stringify(vni)} is not a uint32` }
  }
  const mac = typeof o.VtepMAC === 'string' ? normalizeMac(o.VtepMAC) : undefined
  if (mac === undefined) return { ok: false, reason: `vxlan BackendData.VtepMAC ${JSON.stringify(o.VtepMAC)} is not a MAC` }
  return { ok: true, value: { vni, vtepMac: mac } }
}

/**
 * The lease attributes a node publishes under `config`, exactly as a flannel node with that backend would:
 * udp sets only PublicIP (flannel's udp backend leaves BackendType empty); vxlan sets BackendType "vxlan"
 * and BackendData {VNI, VtepMAC}.
 */
export function leaseAttrsFor(config: NetworkConfig, publicIp: string, vtepMac?: string): LeaseAttrs {
  if (tryParseIpv4(publicIp) === undefined) {
    throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', `public IP ${JSON.stringify(publicIp)} is not an IPv4 address`)
  }
  const b = config.backend
  if (b.type === 'udp') return { publicIp, publicIpv6: null, backendType: '' }
  if (vtepMac === undefined) {
    throw new TartanError('TARTAN_ERR_INVALID_ARGUMENT', 'the vxlan backend needs the VTEP MAC address of this node (vtepMac)')
  }
  return { publicIp, publicIpv6: null, backendType: 'vxlan', backendData: vxlanBackendData(b.vni, vtepMac) }
}

/**
 * Whether a peer's lease belongs to the backend we run. flannel's udp backend writes no BackendType, so
 * for udp both '' and 'udp' count; every other backend must match by name.
 */
export function leaseMatchesBackend(attrs: LeaseAttrs, type: BackendType): boolean {
  if (type === 'udp') return attrs.backendType === '' || attrs.backendType === 'udp'
  return attrs.backendType === type
}
