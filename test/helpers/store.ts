import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import type { Database } from 'better-sqlite3'
import type { FastifyInstance } from 'fastify'
import { parseRunMetadata } from '../../server/domain/run-metadata.ts'
import { ingestLog, type IngestLogOptions } from '../../server/services/ingest-log.ts'
import { openDatabase } from '../../server/storage/sqlite/database.ts'
import { RunStore } from '../../server/storage/sqlite/run-store.ts'
import { promised, SqliteStore } from '../../server/storage/sqlite/sqlite-store.ts'
import { TrendStore } from '../../server/storage/sqlite/trend-store.ts'
import type { StoreRuns, StoreTrends } from '../../server/storage/store.ts'

/** A fresh directory, removed when the test ends. */
export function tempDir (t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'ksft-test-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A fresh SQLite file in a temp dir, with its store. */
export function openTestStore (t: TestContext): { db: Database, store: RunStore, path: string, dir: string } {
  const dir = tempDir(t)
  const path = join(dir, 'ksft.db')
  const db = openDatabase(path)
  t.after(() => { if (db.open) db.close() })
  return { db, store: new RunStore(db), path, dir }
}

/** The app's store as the SQLite backend it is in these tests: its tables are checked through its connections. */
export function sqliteOf (app: FastifyInstance): SqliteStore {
  assert.ok(app.store instanceof SqliteStore, 'the app runs on the SQLite backend')
  return app.store
}

/**
 * Ingests text through the real pipeline, as the CLI and the upload route do: into a store, or
 * into a SQLite RunStore in one transaction (RunStore.ingestRun) for the tests of that class.
 */
export async function ingestText (store: { runs: Pick<StoreRuns, 'ingest'> } | RunStore, text: string | Buffer, meta: Record<string, unknown>, options?: IngestLogOptions) {
  async function * once () { yield typeof text === 'string' ? Buffer.from(text) : text }
  const into = store instanceof RunStore ? { runs: { ingest: async (...args: Parameters<StoreRuns['ingest']>) => store.ingestRun(...args) } } : store
  return ingestLog(once(), parseRunMetadata(meta), into, options)
}

/** A fresh SQLite file in a temp dir, opened as the app opens its store (storage/store.ts), closed when the test ends. */
export function openTestSqliteStore (t: TestContext): { store: SqliteStore, path: string, dir: string } {
  const dir = tempDir(t)
  const path = join(dir, 'ksft.db')
  const store = new SqliteStore(path)
  t.after(() => store.close())
  return { store, path, dir }
}

/** The trend reads of a SQLite connection as the queries take them (StoreTrends), for tests that hold only the connection. */
export function trendsOn (db: Database): StoreTrends {
  return promised(new TrendStore(db))
}
