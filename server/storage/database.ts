import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import BetterSqlite3, { type Database } from 'better-sqlite3'
import { migrate } from './migrate.ts'

export interface OpenOptions {
  readonly?: boolean
  /** How long a writer waits for another writer before SQLITE_BUSY, in ms. */
  busyTimeoutMs?: number
}

/** Opens (creating if needed) a ksft-dashboard database and brings its schema up to date. */
export function openDatabase (path: string, options: OpenOptions = {}): Database {
  if (path !== ':memory:' && !options.readonly) mkdirSync(dirname(path), { recursive: true })
  const db = new BetterSqlite3(path, { readonly: options.readonly ?? false, timeout: options.busyTimeoutMs ?? 5000 })
  try {
    if (!options.readonly) {
      db.pragma('journal_mode = WAL')
      // WAL makes NORMAL durable against a crash of the process; only power loss can lose the last commit
      db.pragma('synchronous = NORMAL')
    }
    db.pragma('foreign_keys = ON')
    if (!options.readonly) migrate(db)
    return db
  } catch (err) {
    db.close()
    throw err
  }
}
