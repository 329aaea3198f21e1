import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { STATUSES } from '../../../ingest/vocabulary.ts'
import { AUDIT_ACTIONS, CULPRITS } from '../../../server/domain/known-issues.ts'
import { SqliteStore } from '../../../server/storage/sqlite/sqlite-store.ts'
import { openStore } from '../../../server/storage/store.ts'
import { tempDir } from '../../helpers/store.ts'

/*
 * The database's columns say the code's one vocabulary (ingest/vocabulary.ts, domain/known-issues.ts):
 * each enumerated column allows exactly its list, and each count kept per status has a column for
 * every status. What a backend's schema says is read by a reader of its own; the checks are the
 * same for every backend, so a PostgreSQL reader (from pg_constraint and information_schema) is
 * added beside the SQLite one below.
 */

/** What a backend's fresh database says about its columns. */
interface SchemaReader {
  /** The values a CHECK (column IN (...)) of `table` allows, in the order written. */
  allowedValues: (table: string, column: string) => string[] | Promise<string[]>
  columns: (table: string) => string[] | Promise<string[]>
}

/** The enumerated columns and the vocabulary each must allow. */
const ENUMERATED: Array<[table: string, column: string, values: readonly string[]]> = [
  ['results', 'status', STATUSES],
  ['known_issues', 'culprit', CULPRITS],
  ['known_issue_audit', 'action', AUDIT_ACTIONS],
]

/** Tables that keep a count per status: one column for each, named as the status. */
const COUNTED_PER_STATUS = ['runs', 'run_collections', 'case_stats']

function vocabularyTests (backend: string, open: (t: TestContext) => Promise<SchemaReader>): void {
  for (const [table, column, values] of ENUMERATED) {
    test(`${backend}: ${table}.${column} allows exactly its vocabulary`, async (t) => {
      const schema = await open(t)
      assert.deepEqual(await schema.allowedValues(table, column), [...values])
    })
  }
  test(`${backend}: every count kept per status has a column for each status`, async (t) => {
    const schema = await open(t)
    for (const table of COUNTED_PER_STATUS) {
      const columns = await schema.columns(table)
      assert.deepEqual(STATUSES.filter(status => !columns.includes(status)), [], `${table} lacks a column`)
    }
  })
}

vocabularyTests('SQLite', async (t) => {
  const store = await openStore(join(tempDir(t), 'ksft.db'))
  t.after(() => store.close())
  assert.ok(store instanceof SqliteStore)
  const { db } = store
  return {
    allowedValues: (table, column) => {
      const sql = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").pluck().get(table) as string
      const list = new RegExp(`\\b${column}\\b[^,]*CHECK \\(${column} IN \\(([^)]*)\\)\\)`).exec(sql)
      assert.ok(list, `${table}.${column} has a CHECK (${column} IN (...))`)
      return [...list[1]!.matchAll(/'([^']*)'/g)].map(m => m[1]!)
    },
    columns: table => db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(table) as string[],
  }
})
