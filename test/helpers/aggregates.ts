import assert from 'node:assert/strict'
import type { Database } from 'better-sqlite3'
import type pg from 'pg'
import { TROUBLE_FLAGS } from '../../server/queries/verdict.ts'
import { decodeOutcomeSet } from '../../server/storage/outcome-cells.ts'
import { PostgresStore } from '../../server/storage/postgres/postgres-store.ts'
import { SqliteStore } from '../../server/storage/sqlite/sqlite-store.ts'
import type { Store } from '../../server/storage/store.ts'

/**
 * The trend aggregates (migrations/003-trend-aggregates.sql and what 005 to 007 added) as the store
 * keeps them, and the same recounted from the results table itself: whatever wrote them (ingest, a
 * migration's backfill, an admin's delete or merge), the two must be equal.
 */

const STATUS_SUMS = "count(*) AS total, sum(r.status = 'pass') AS pass, sum(r.status = 'fail') AS fail, sum(r.status = 'skip') AS skip, " +
  "sum(r.status = 'xfail') AS xfail, sum(r.status = 'xpass') AS xpass, sum(r.status = 'timeout') AS timeout, sum(r.status = 'error') AS error"
// the rule itself is queries/verdict.ts infrastructureEvidence, tested in test/server/queries/verdict.test.ts
const INFRASTRUCTURE_SUM = `sum(r.status IN ('fail', 'xpass', 'timeout', 'error') AND ksft_infrastructure(r.status, r.exit_code, r.reason)) AS infrastructure`
/** Results whose flags (a comma list) name kernel trouble or a false pass. */
const TROUBLE_SUM = `sum(${TROUBLE_FLAGS.map(flag => `instr(',' || r.flags || ',', ',${flag},') > 0`).join(' OR ')}) AS trouble`

/** Everything the aggregates hold, read back in a stable order. */
export function aggregates (db: Database) {
  return {
    caseStats: db.prepare('SELECT * FROM case_stats ORDER BY version_id, machine_id, case_id').all(),
    runCollections: db.prepare('SELECT * FROM run_collections ORDER BY run_id, collection').all(),
    seriesTests: db.prepare('SELECT * FROM series_tests ORDER BY series_id, collection, test').all(),
    outcomeSets: (db.prepare('SELECT version_id, machine_id, cells FROM outcome_sets ORDER BY version_id, machine_id').all() as Array<{ version_id: number, machine_id: number, cells: Buffer }>)
      .map(row => ({ ...row, cells: [...decodeOutcomeSet(row.cells)] })),
  }
}

/**
 * The same, recounted from the results table itself. Whether a collection of a run finished is not in
 * its results: `stopped` names those that did not (`runId/collection`), with the tests their plan
 * promised that never ran; every other one finished.
 */
export function recount (db: Database, stopped: Record<string, number> = {}) {
  const caseStats = db.prepare(`
    SELECT ru.version_id, ru.machine_id, r.case_id, ${STATUS_SUMS}, ${TROUBLE_SUM}, ${INFRASTRUCTURE_SUM}
    FROM results r JOIN runs ru ON ru.id = r.run_id GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`).all() as Array<Record<string, number>>
  const outcomeSets = new Map<string, { version_id: number, machine_id: number, cells: number[] }>()
  for (const cell of caseStats) {
    const key = `${cell.version_id}/${cell.machine_id}`
    if (!outcomeSets.has(key)) outcomeSets.set(key, { version_id: cell.version_id!, machine_id: cell.machine_id!, cells: [] })
    const passed = cell.pass! + cell.xfail! > 0 ? 1 : 0
    const failed = cell.fail! + cell.xpass! + cell.timeout! + cell.error! > 0 ? 2 : 0
    const troubled = cell.trouble! > 0 ? 4 : 0
    outcomeSets.get(key)!.cells.push(cell.case_id! * 8 + passed + failed + troubled)
  }
  return {
    caseStats,
    runCollections: (db.prepare(`
      SELECT r.run_id, c.collection, ${STATUS_SUMS}
      FROM results r JOIN cases c ON c.id = r.case_id WHERE r.parent_seq IS NULL GROUP BY 1, 2 ORDER BY 1, 2`).all() as Array<{ run_id: number, collection: string }>)
      .map(row => {
        const notRun = stopped[`${row.run_id}/${row.collection}`]
        return { ...row, complete: notRun === undefined ? 1 : 0, not_run: notRun ?? 0 }
      }),
    seriesTests: db.prepare(`
      SELECT DISTINCT v.series_id, c.collection, c.test, c.id AS case_id
      FROM results r JOIN runs ru ON ru.id = r.run_id JOIN versions v ON v.id = ru.version_id JOIN cases c ON c.id = r.case_id
      WHERE r.parent_seq IS NULL ORDER BY 1, 2, 3`).all(),
    outcomeSets: [...outcomeSets.values()],
  }
}


/**
 * The aggregates equal to a recount, but for outcome sets an admin's write dropped (readers build
 * those from case_stats until the next upload there): the sets that remain must be the recount's.
 */
export function assertRecounted (db: Database): void {
  const kept = aggregates(db)
  const counted = recount(db)
  assert.deepEqual({ ...kept, outcomeSets: null }, { ...counted, outcomeSets: null })
  const key = (set: { version_id: number, machine_id: number }) => `${set.version_id}/${set.machine_id}`
  const countedSets = new Map(counted.outcomeSets.map(set => [key(set), set]))
  for (const set of kept.outcomeSets) assert.deepEqual(set, countedSets.get(key(set)))
}

/** The store's tables: the aggregates, the recount and plain rows, read on whichever backend holds it. */
export interface StoreTables {
  /** Rows of one statement in the SQL both dialects read alike (no parameters; `count(*)` a number on both). */
  all<T = Record<string, unknown>> (sql: string): Promise<T[]>
  aggregates (): Promise<ReturnType<typeof aggregates>>
  recount (): Promise<ReturnType<typeof recount>>
}

const PG_STATUS_SUMS = "count(*) AS total, count(*) FILTER (WHERE r.status = 'pass') AS pass, count(*) FILTER (WHERE r.status = 'fail') AS fail, " +
  "count(*) FILTER (WHERE r.status = 'skip') AS skip, count(*) FILTER (WHERE r.status = 'xfail') AS xfail, count(*) FILTER (WHERE r.status = 'xpass') AS xpass, " +
  "count(*) FILTER (WHERE r.status = 'timeout') AS timeout, count(*) FILTER (WHERE r.status = 'error') AS error"
// results.infrastructure is ingest's answer of queries/verdict.ts infrastructureEvidence, stored (postgres 001-schema.sql)
const PG_INFRASTRUCTURE_SUM = "count(*) FILTER (WHERE r.status IN ('fail', 'xpass', 'timeout', 'error') AND r.infrastructure = 1) AS infrastructure"
const PG_TROUBLE_SUM = `count(*) FILTER (WHERE string_to_array(r.flags, ',') && ARRAY[${TROUBLE_FLAGS.map(flag => `'${flag}'`).join(', ')}]) AS trouble`

/** The aggregates of a PostgreSQL store, as `aggregates` reads SQLite's. */
export async function postgresAggregates (pool: pg.Pool): Promise<ReturnType<typeof aggregates>> {
  const rows = async (sql: string) => (await pool.query(sql)).rows
  return {
    caseStats: await rows('SELECT * FROM case_stats ORDER BY version_id, machine_id, case_id'),
    runCollections: await rows('SELECT * FROM run_collections ORDER BY run_id, collection'),
    seriesTests: await rows('SELECT * FROM series_tests ORDER BY series_id, collection, test'),
    outcomeSets: (await rows('SELECT version_id, machine_id, cells FROM outcome_sets ORDER BY version_id, machine_id') as Array<{ version_id: number, machine_id: number, cells: Buffer }>)
      .map(row => ({ ...row, cells: [...decodeOutcomeSet(row.cells)] })),
  }
}

/** The same recounted from a PostgreSQL store's results, as `recount` does SQLite's: in SQL, on the database every node writes. */
export async function postgresRecount (pool: pg.Pool, stopped: Record<string, number> = {}): Promise<ReturnType<typeof recount>> {
  const caseStats = (await pool.query(`
    SELECT ru.version_id, ru.machine_id, r.case_id, ${PG_STATUS_SUMS}, ${PG_TROUBLE_SUM}, ${PG_INFRASTRUCTURE_SUM}
    FROM results r JOIN runs ru ON ru.id = r.run_id GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`)).rows as Array<Record<string, number>>
  const outcomeSets = new Map<string, { version_id: number, machine_id: number, cells: number[] }>()
  for (const cell of caseStats) {
    const key = `${cell.version_id}/${cell.machine_id}`
    if (!outcomeSets.has(key)) outcomeSets.set(key, { version_id: cell.version_id!, machine_id: cell.machine_id!, cells: [] })
    const passed = cell.pass! + cell.xfail! > 0 ? 1 : 0
    const failed = cell.fail! + cell.xpass! + cell.timeout! + cell.error! > 0 ? 2 : 0
    const troubled = cell.trouble! > 0 ? 4 : 0
    outcomeSets.get(key)!.cells.push(cell.case_id! * 8 + passed + failed + troubled)
  }
  const runCollections = (await pool.query(`
    SELECT r.run_id, c.collection, ${PG_STATUS_SUMS}
    FROM results r JOIN cases c ON c.id = r.case_id WHERE r.parent_seq IS NULL GROUP BY 1, 2 ORDER BY 1, 2`)).rows as Array<{ run_id: number, collection: string }>
  return {
    caseStats,
    runCollections: runCollections.map(row => {
      const notRun = stopped[`${row.run_id}/${row.collection}`]
      return { ...row, complete: notRun === undefined ? 1 : 0, not_run: notRun ?? 0 }
    }),
    seriesTests: (await pool.query(`
      SELECT DISTINCT v.series_id, c.collection, c.test, c.id AS case_id
      FROM results r JOIN runs ru ON ru.id = r.run_id JOIN versions v ON v.id = ru.version_id JOIN cases c ON c.id = r.case_id
      WHERE r.parent_seq IS NULL ORDER BY 1, 2, 3`)).rows,
    outcomeSets: [...outcomeSets.values()],
  }
}

/** The tables of the store an app (or a test) opened, SQLite's or PostgreSQL's. */
export function storeTables (store: Store): StoreTables {
  if (store instanceof SqliteStore) {
    const db = store.db
    return {
      all: async <T>(sql: string) => db.prepare(sql).all() as T[],
      aggregates: async () => aggregates(db),
      recount: async () => recount(db),
    }
  }
  if (store instanceof PostgresStore) {
    const pool = store.pool
    return {
      all: async <T>(sql: string) => (await pool.query(sql)).rows as T[],
      aggregates: () => postgresAggregates(pool),
      recount: () => postgresRecount(pool),
    }
  }
  throw new Error('a store of neither backend')
}
