import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import { type LeaseStore } from '../../src/lease/lease-store.js'
import { SqliteLeaseStore } from '../../src/lease/sqlite-store.js'
import { NETWORK, type StoreHarness, conformance } from './conformance.js'

/** Each test: a fresh database file; every client a separate connection (as separate processes have). */
async function sqliteHarness(t: Test): Promise<StoreHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'tartan-sqlite-'))
  const path = join(dir, 'leases.db')
  const warnings: string[] = []
  const stores: LeaseStore[] = []
  const open = () => {
    const s = new SqliteLeaseStore({ path, pollIntervalMs: 50, logger: { warn: (m) => warnings.push(m) } })
    stores.push(s)
    return s
  }
  t.teardown(async () => {
    for (const s of stores) await s.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const admin = open() as SqliteLeaseStore
  await admin.putNetworkConfig(NETWORK)
  return {
    name: 'sqlite',
    open,
    warnings,
    compact: (rev) => admin.compact(rev),
    putRaw: async (key, value) => {
      // As another program writing the file directly: a lease row plus its event, at a new revision.
      const db = new Database(path, { timeout: 5000 })
      db.transaction(() => {
        db.prepare('UPDATE state SET revision = revision + 1').run()
        const rev = (db.prepare('SELECT revision FROM state').get() as { revision: number }).revision
        db.prepare('INSERT OR REPLACE INTO leases (key, value, revision, expires_at) VALUES (?, ?, ?, NULL)').run(key, value, rev)
        db.prepare("INSERT INTO events (revision, key, type, value, expires_at) VALUES (?, ?, 'put', ?, NULL)").run(rev, key, value)
      }).immediate()
      db.close()
    },
    getRaw: async (key) => {
      const db = new Database(path, { readonly: true })
      const row = db.prepare('SELECT value FROM leases WHERE key = ?').get(key) as { value: string } | undefined
      db.close()
      return row?.value
    },
    fullKey: () => null,
  }
}

t.test('embedded SQLite store conformance', async (t) => conformance(t, sqliteHarness))
