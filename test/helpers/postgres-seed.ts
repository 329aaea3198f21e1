import type { TestContext } from 'node:test'
import type { Database } from 'better-sqlite3'
import type pg from 'pg'
import { isFailing, type Status } from '../../ingest/vocabulary.ts'
import { compileIssue, IssueIndex } from '../../server/domain/known-issue-matching.ts'
import { versionSortKey } from '../../server/domain/version-label.ts'
import { infrastructureEvidence } from '../../server/queries/verdict.ts'
import { candidateOf, issueOf, type IssueRow } from '../../server/storage/known-issue-rows.ts'
import { openPostgres } from '../../server/storage/postgres/connect.ts'
import type { RunMatcher } from '../../server/storage/postgres/issue-store.ts'
import type { TestPostgres } from './postgres.ts'

/**
 * The same rows in SQLite and PostgreSQL, for tests that run one operation through a SQLite store
 * and its PostgreSQL twin and compare what each answers and leaves behind. A SQLite store is built
 * through the real ingest path (there is no PostgreSQL ingest to seed with), then copied here row
 * for row, ids kept.
 */

/** Every table, parents before children, with the columns that order its rows (its primary key). */
export const TABLES: ReadonlyArray<[table: string, key: string]> = [
  ['series', 'id'], ['versions', 'id'], ['machines', 'id'], ['runs', 'id'], ['log_chunks', 'run_id, seq'], ['cases', 'id'],
  ['results', 'run_id, seq'], ['store_state', 'key'], ['tokens', 'id'], ['case_stats', 'version_id, machine_id, case_id'],
  ['outcome_sets', 'version_id, machine_id'], ['run_collections', 'run_id, collection'], ['series_tests', 'series_id, collection, test'],
  ['known_issues', 'id'], ['known_issue_matches', 'run_id, seq, issue_id'], ['known_issue_audit', 'id'], ['series_change_ids', 'change_id'],
  ['series_names', 'name_key'], ['machine_names', 'name'], ['version_patch_lists', 'version_id'], ['version_patches', 'version_id, position'],
  ['run_patch_reports', 'run_id'],
]

/** Tables whose id PostgreSQL generates: the copy says OVERRIDING SYSTEM VALUE and moves their sequences past the copied ids. */
const IDENTITY_TABLES = new Set(['series', 'versions', 'machines', 'runs', 'cases', 'tokens', 'known_issues', 'known_issue_audit'])

/** Parameters per INSERT, below PostgreSQL's 65 535. */
const PARAMETERS_PER_INSERT = 30_000

function columnsOf (db: Database, table: string): string[] {
  return (db.prepare(`SELECT name FROM pragma_table_info('${table}') ORDER BY cid`).all() as Array<{ name: string }>).map(row => row.name)
}

/** Copies every row of a SQLite store into an empty, migrated PostgreSQL database, ids and all. */
export async function copyToPostgres (db: Database, pool: pg.Pool): Promise<void> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    for (const [table] of TABLES) {
      const columns = columnsOf(db, table)
      let rows = db.prepare(`SELECT ${columns.join(', ')} FROM ${table}`).raw().all() as unknown[][]
      if (table === 'results') {
        // what PostgreSQL's ingest stores beside each result: the answer of the rule SQLite calls in SQL
        const at = (name: string) => columns.indexOf(name)
        rows = rows.map(row => [...row, isFailing(row[at('status')] as Status) &&
          infrastructureEvidence({ status: row[at('status')] as Status, exitCode: row[at('exit_code')] as number | null, reason: row[at('reason')] as string | null }) !== null ? 1 : 0])
        columns.push('infrastructure')
      }
      if (table === 'store_state') {
        for (const [key, value] of rows) {
          await client.query('INSERT INTO store_state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value])
        }
        continue
      }
      const perInsert = Math.max(1, Math.floor(PARAMETERS_PER_INSERT / columns.length))
      for (let start = 0; start < rows.length; start += perInsert) {
        const batch = rows.slice(start, start + perInsert)
        const values = batch.map((_, i) => `(${columns.map((_, j) => `$${i * columns.length + j + 1}`).join(', ')})`).join(', ')
        await client.query(`INSERT INTO ${table} (${columns.join(', ')})${IDENTITY_TABLES.has(table) ? ' OVERRIDING SYSTEM VALUE' : ''} VALUES ${values}`, batch.flat())
      }
      if (IDENTITY_TABLES.has(table)) {
        await client.query(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), coalesce(max(id), 0) + 1, false) FROM ${table}`)
      }
    }
    await client.query('COMMIT')
  } catch (err) {
    await client.query('ROLLBACK')
    throw err
  } finally {
    client.release()
  }
}

/** Every row of every table of a SQLite store, by table, in key order. */
export function sqliteTables (db: Database): Record<string, unknown[]> {
  return Object.fromEntries(TABLES.map(([table, key]) => [table, db.prepare(`SELECT ${columnsOf(db, table).join(', ')} FROM ${table} ORDER BY ${key}`).all()]))
}

/** The same of a PostgreSQL store, with the columns SQLite has (not results.infrastructure): what sqliteTables gives for the same rows. */
export async function postgresTables (pool: pg.Pool, db: Database): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {}
  for (const [table, key] of TABLES) out[table] = (await pool.query(`SELECT ${columnsOf(db, table).join(', ')} FROM ${table} ORDER BY ${key}`)).rows
  return out
}

/** A fresh PostgreSQL database holding a copy of the SQLite store, its pool ended when the test ends. */
export async function postgresCopyOf (t: TestContext, server: TestPostgres, db: Database): Promise<pg.Pool> {
  const pool = await openPostgres(await server.createDatabase(), { maxConnections: 4 })
  t.after(() => pool.end())
  await copyToPostgres(db, pool)
  return pool
}

/**
 * The ingest-time matching of one run, for tests of what calls it again (a version merge): the
 * domain's rule over the active issues, compiled afresh at every call, with every log line a log
 * regex asks for read first. postgres/issue-matching.ts is the store's own, with its cache.
 */
export function testMatchRun (readLog: (runId: number, from: number, to: number) => Promise<string[]>): RunMatcher {
  return async (db, runId, run, results) => {
    const { rows } = await db.query<IssueRow>('SELECT * FROM known_issues WHERE resolved_at IS NULL ORDER BY id')
    const index = new IssueIndex(rows.map(row => compileIssue(row.id, issueOf(row), versionSortKey)))
    const anyLogRegex = rows.some(row => row.log_regex !== null)
    let matched = 0
    for (const result of results) {
      const lines = anyLogRegex ? await readLog(runId, result.lines[0], result.lines[1]) : []
      const candidate = candidateOf(result, {
        seriesId: run.seriesId, versionSortKey: versionSortKey(run.versionLabel), machine: run.machine, arch: run.arch, cpuFlags: run.cpuFlags, kernel: run.kernel,
      }, () => lines)
      for (const issueId of index.match(candidate)) {
        await db.query('INSERT INTO known_issue_matches (run_id, seq, issue_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [runId, result.seq, issueId])
        matched++
      }
    }
    return matched
  }
}
