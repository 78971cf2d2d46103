/**
 * Turning raw store entries (subnet key + value bytes) into Leases, shared by both stores: entries that do
 * not decode are skipped, counted once per (key, revision), and reported with one warning each.
 */
import { decodeLeaseValue, parseSubnetKey } from './lease-codec.js'
import type { Lease, StoreLogger } from './lease-store.js'

/** A logger that writes warnings to stderr; stores use it unless given another. */
export const stderrLogger: StoreLogger = {
  warn: (message) => process.stderr.write(`tartan: warning: ${message}\n`),
}

export class EntryDecoder {
  private readonly warned = new Set<string>()
  private skipped = 0

  constructor(
    private readonly logger: StoreLogger,
    private readonly where: string,
  ) {}

  /** The number of distinct garbage entries seen so far. */
  get garbageSkipped(): number {
    return this.skipped
  }

  /** Decodes one entry; undefined (after counting and warning once) when the key or value is garbage. */
  decode(key: string, value: string, revision: number, expiresAt?: number): Lease | undefined {
    const k = parseSubnetKey(key)
    const v = k.ok ? decodeLeaseValue(value) : undefined
    if (k.ok && v !== undefined && v.ok) {
      const lease: Lease = { key, subnet: k.value.subnet, attrs: v.value, revision }
      return expiresAt === undefined ? lease : { ...lease, expiresAt }
    }
    const reason = !k.ok ? k.reason : v !== undefined && !v.ok ? v.reason : 'undecodable'
    this.skip(key, revision, reason)
    return undefined
  }

  /** Counts and warns about a garbage entry that failed for another reason (e.g. a bad key on delete). */
  skip(key: string, revision: number, reason: string): void {
    const id = `${key}@${revision}`
    if (this.warned.has(id)) return
    if (this.warned.size > 10_000) this.warned.clear() // bound memory against a store full of garbage
    this.warned.add(id)
    this.skipped++
    this.logger.warn(`${this.where}: skipping subnet entry ${JSON.stringify(key)} (revision ${revision}): ${reason}`)
  }
}
