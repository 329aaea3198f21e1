import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, type TestContext } from 'node:test'
import { SqliteStore } from '../../server/storage/sqlite/sqlite-store.ts'
import { openStore, type Store, type StoreOptions } from '../../server/storage/store.ts'
import { storeTables, type StoreTables } from './aggregates.ts'
import { startPostgres, type TestPostgres } from './postgres.ts'
import { tempDir } from './store.ts'

/**
 * The backend the API suites run on: SQLite, or PostgreSQL when KSFT_TEST_BACKEND=postgres
 * (`npm run test:postgres`). On PostgreSQL, each app gets a fresh database of one server shared by
 * the test file's process: the one KSFT_TEST_DATABASE_URL names, or a throwaway cluster started at
 * the first database asked for and stopped after the file's last test.
 */
export const TEST_BACKEND: 'sqlite' | 'postgres' = process.env.KSFT_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite'

let server: Promise<TestPostgres> | null = null
// imported at a test file's top: this hook is the file's own, run after its last test
if (TEST_BACKEND === 'postgres') after(async () => { await (await server)?.stop() })

/** Where a test's app keeps its store: a fresh SQLite file in a temp dir, or a fresh PostgreSQL database. */
export async function testStoreLocation (t: TestContext): Promise<string> {
  if (TEST_BACKEND === 'sqlite') return join(tempDir(t), 'ksft.db')
  server ??= startPostgres().then(started => {
    if (started === null) throw new Error("KSFT_TEST_BACKEND=postgres needs Debian's postgresql package or KSFT_TEST_DATABASE_URL")
    return started
  })
  return (await server).createDatabase()
}

/** Why a test cannot run on this backend (it checks what only SQLite has), or false. */
export function sqliteOnly (reason: string): string | false {
  return TEST_BACKEND === 'sqlite' ? false : `SQLite only: ${reason}`
}

/** A fresh store on the test backend, opened as the app and the CLI open theirs (openStore), closed when the test ends. */
export async function openTestBackendStore (t: TestContext, options: StoreOptions = {}): Promise<{ store: Store, location: string }> {
  const location = await testStoreLocation(t)
  const store = await openStore(location, options)
  t.after(() => store.close())
  return { store, location }
}

/**
 * Reads the store at `location`, one a CLI command or a server in another process writes, through a
 * read-only store of its own (either backend), closed before this returns.
 */
export async function readStore<T> (location: string, read: (tables: StoreTables, store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(location, { readonly: true })
  try {
    return await read(storeTables(store), store)
  } finally {
    await store.close()
  }
}

/**
 * SQLite's check of its whole file. A PostgreSQL database has no such check to ask for: its
 * constraints are checked at every write, and what a test can see of the rest it counts itself.
 */
export function assertSqliteIntact (store: Store): void {
  if (store instanceof SqliteStore) assert.equal(store.db.pragma('integrity_check', { simple: true }), 'ok')
}
