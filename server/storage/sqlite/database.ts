import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import BetterSqlite3, { type Database } from 'better-sqlite3'
import type { Status } from '../../../ingest/vocabulary.ts'
import { infrastructureEvidence } from '../../queries/verdict.ts'
import { migrate } from './migrate.ts'

export interface OpenOptions {
  readonly?: boolean
  /** How long a writer waits for another writer before SQLITE_BUSY, in ms. */
  busyTimeoutMs?: number
}

/** SQLite's page cache per connection, KiB. */
const CACHE_KIB = 64 * 1024
/** WAL pages (4 KiB) after which a commit checkpoints, and what the WAL is cut back to after one. */
const CHECKPOINT_PAGES = 50_000
const WAL_KEPT_BYTES = 64 * 1024 * 1024

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
    // the default 2 MB cache made every run stored into a store of millions of results re-read
    // most of the index pages it updates; pages are allocated only as they are used
    db.pragma(`cache_size = -${CACHE_KIB}`)
    if (!options.readonly) {
      // a run of 10 000 results rewrites some 20 000 scattered index pages of a big store; checkpointing
      // after every such commit (the default, at 1 000 pages) wrote each page again and synced the
      // file every time. Checkpointing every ~200 MB of WAL writes a page once for several runs
      // (a quarter less time a run at 10 million results), and the WAL shrinks back afterwards.
      db.pragma(`wal_autocheckpoint = ${CHECKPOINT_PAGES}`)
      db.pragma(`journal_size_limit = ${WAL_KEPT_BYTES}`)
    }
    db.pragma('foreign_keys = ON')
    registerFunctions(db)
    if (!options.readonly) migrate(db)
    return db
  } catch (err) {
    db.close()
    throw err
  }
}

/**
 * The verdict rules the aggregates need inside SQL, from their one definition: every connection has
 * them, so that ingest, the admin's recounts and the migrations count alike. The counts are kept:
 * a change of a rule (INFRASTRUCTURE_REASONS, say) needs a migration that counts the stored
 * results again, as backfills.ts does for 006, or the aggregates and the live evidence disagree.
 */
function registerFunctions (db: Database): void {
  // 1 for a failing result whose evidence says the harness or the lab failed (queries/verdict.ts)
  db.function('ksft_infrastructure', { deterministic: true }, (status: unknown, exitCode: unknown, reason: unknown) =>
    infrastructureEvidence({ status: status as Status, exitCode: exitCode as number | null, reason: reason as string | null }) === null ? 0 : 1)
}
