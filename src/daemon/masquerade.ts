/**
 * --ip-masq: NAT for pod traffic leaving the overlay, with nftables (`nft -f -`), in a table of its own per
 * node (`ip tartan-<tun>`), so installing is one atomic transaction and removing is deleting the table.
 * Semantics as flannel's nftables masquerade rules (pkg/trafficmngr/nftables): traffic between overlay
 * addresses is never rewritten, nor traffic to multicast (224.0.0.0/4); anything else from the overlay is
 * masqueraded to the host's address on the way out.
 */
import { spawn } from 'node:child_process'
import { formatCidr, type Ipv4Prefix } from '../config/cidr.js'
import { TartanError } from '../errors.js'

/** The nftables table a node with TUN device `tun` owns. */
export function masqueradeTable(tun: string): string {
  return `tartan-${tun.replace(/[^A-Za-z0-9_]/g, '_')}`
}

/** The nft script that (re)creates the table: `add`+`delete` first, so a leftover table is replaced whole. */
export function masqueradeScript(table: string, network: Ipv4Prefix): string {
  const net = formatCidr(network)
  return [
    `add table ip ${table}`,
    `delete table ip ${table}`,
    `table ip ${table} {`,
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ip saddr ${net} ip daddr ${net} return`,
    `    ip saddr ${net} ip daddr 224.0.0.0/4 return`,
    `    ip saddr ${net} masquerade`,
    '  }',
    '}',
    '',
  ].join('\n')
}

function nft(args: string[], input: string): Promise<{ code: number | null; stderr: string; missing: boolean }> {
  return new Promise((resolve) => {
    const child = spawn('nft', args, { stdio: ['pipe', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => {
      if (stderr.length < 4096) stderr += b.toString()
    })
    child.on('error', (e: NodeJS.ErrnoException) => resolve({ code: null, stderr: e.message, missing: e.code === 'ENOENT' }))
    child.on('close', (code) => resolve({ code, stderr: stderr.trim(), missing: false }))
    child.stdin.on('error', () => undefined)
    child.stdin.end(input)
  })
}

/** Installs the masquerade table for `network`; throws TARTAN_ERR_INVALID_CONFIG saying what is missing. */
export async function installMasquerade(table: string, network: Ipv4Prefix): Promise<void> {
  const r = await nft(['-f', '-'], masqueradeScript(table, network))
  if (r.missing) {
    throw new TartanError('TARTAN_ERR_INVALID_CONFIG', '--ip-masq needs the nft command: install nftables (Debian/Ubuntu: apt-get install nftables)')
  }
  if (r.code !== 0) {
    throw new TartanError(
      'TARTAN_ERR_INVALID_CONFIG',
      `--ip-masq: nft could not install table ip ${table}: ${r.stderr || `exit ${r.code}`} (needs root and nf_tables in the kernel)`,
    )
  }
}

/** Deletes the table; resolves false (never throws) when it could not, e.g. it was already gone. */
export async function removeMasquerade(table: string): Promise<boolean> {
  const r = await nft(['-f', '-'], `delete table ip ${table}\n`)
  return r.code === 0
}
