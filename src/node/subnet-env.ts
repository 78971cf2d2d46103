/**
 * subnet.env: what the container runtime (flannel's CNI plugin) reads to configure pods, in flannel's exact
 * format (pkg/subnet/subnet.go: WriteSubnetFile):
 *   FLANNEL_NETWORK=10.244.0.0/16
 *   FLANNEL_SUBNET=10.244.7.1/24      the lease's first host address, with the lease's prefix length
 *   FLANNEL_MTU=1450
 *   FLANNEL_IPMASQ=false
 * Written atomically (temporary file in the same directory, then rename; mode 0644 whatever the umask, as
 * flannel's renameio.WriteFile(..., IgnoreUmask)). Read back at start-up for the previous subnet
 * (main.go: ReadCIDRFromSubnetFile, which masks the host bits).
 */
import { closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { type Ipv4Prefix, formatCidr, intToIpv4, parseCidr } from '../config/cidr.js'
import type { BackendType } from '../config/network-config.js'
import { TartanError } from '../errors.js'

/** flannel's --subnet-file default. */
export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env'

/** Bytes of encapsulation per packet: outer IPv4 (20) + UDP (8); VXLAN adds its header (8) and the inner Ethernet header (14). */
const OVERHEAD: Record<BackendType, number> = { udp: 28, vxlan: 50 }

/** The overlay MTU for a backend over an underlay of `underlayMtu` (flannel: udp -28, vxlan -50). */
export function overlayMtu(backend: BackendType, underlayMtu: number): number {
  return underlayMtu - OVERHEAD[backend]
}

export interface SubnetEnv {
  network: Ipv4Prefix
  subnet: Ipv4Prefix
  mtu: number
  ipMasq: boolean
}

/** The file's bytes, exactly as flannel writes them for an IPv4-only network. */
export function formatSubnetEnv(env: SubnetEnv): string {
  const firstHost = `${intToIpv4(env.subnet.addr + 1)}/${env.subnet.len}`
  return (
    `FLANNEL_NETWORK=${formatCidr(env.network)}\n` +
    `FLANNEL_SUBNET=${firstHost}\n` +
    `FLANNEL_MTU=${env.mtu}\n` +
    `FLANNEL_IPMASQ=${env.ipMasq ? 'true' : 'false'}\n`
  )
}

/** Writes subnet.env atomically (creating its directory, mode 0755); throws TARTAN_ERR_SUBNET_FILE. */
export function writeSubnetEnv(path: string, env: SubnetEnv): void {
  const dir = dirname(path)
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`)
  let fd: number | undefined
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 })
    fd = openSync(tmp, 'wx', 0o644)
    fchmodSync(fd, 0o644) // ignore the umask, as flannel does
    writeSync(fd, formatSubnetEnv(env))
    fsyncSync(fd)
    closeSync(fd)
    fd = undefined
    renameSync(tmp, path)
  } catch (err) {
    if (fd !== undefined) closeSync(fd)
    try {
      unlinkSync(tmp)
    } catch {
      // not created, or already renamed
    }
    throw new TartanError(
      'TARTAN_ERR_SUBNET_FILE',
      `cannot write ${path}: ${(err as Error).message}; the container runtime reads pod network settings from it, ` +
        'so make its directory writable (or choose another path)',
      { cause: err },
    )
  }
}

/**
 * Parses an env file the way flannel's godotenv does for these files: KEY=VALUE lines, optional `export `,
 * optional single or double quotes, blank lines and # comments ignored.
 */
export function parseEnvFile(text: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim()
    if (line === '' || line.startsWith('#')) continue
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*[=:]\s*(.*)$/.exec(line)
    if (m === null) continue
    let value = m[2]!
    const q = value[0]
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) value = value.slice(1, -1)
    else value = value.replace(/\s+#.*$/, '')
    out.set(m[1]!, value)
  }
  return out
}

export type PreviousSubnet = { subnet: Ipv4Prefix | null; warning?: string }

/**
 * The subnet recorded in an existing subnet.env (FLANNEL_SUBNET, host bits masked), or null when the file is
 * missing or holds no usable value (with a warning saying why, for the log).
 */
export function readPreviousSubnet(path: string): PreviousSubnet {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { subnet: null }
    return { subnet: null, warning: `cannot read ${path}: ${(err as Error).message}` }
  }
  const value = parseEnvFile(text).get('FLANNEL_SUBNET')
  if (value === undefined) return { subnet: null, warning: `${path} has no FLANNEL_SUBNET` }
  if (value.includes(',')) return { subnet: null, warning: `${path}: more than one FLANNEL_SUBNET entry (${value})` }
  const c = parseCidr(value, true)
  if (!c.ok) return { subnet: null, warning: `${path}: FLANNEL_SUBNET ${JSON.stringify(value)}: ${c.reason}` }
  return { subnet: c.net }
}
