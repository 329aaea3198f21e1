import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import type { Database } from 'better-sqlite3'
import { parseRunMetadata } from '../../server/domain/run-metadata.ts'
import { ingestLog, type IngestLogOptions } from '../../server/services/ingest-log.ts'
import { openDatabase } from '../../server/storage/database.ts'
import { RunStore } from '../../server/storage/run-store.ts'

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

/** Ingests text through the real pipeline, as the CLI and the upload route do. */
export async function ingestText (store: RunStore, text: string | Buffer, meta: Record<string, unknown>, options?: IngestLogOptions) {
  async function * once () { yield typeof text === 'string' ? Buffer.from(text) : text }
  return ingestLog(once(), parseRunMetadata(meta), store, options)
}
