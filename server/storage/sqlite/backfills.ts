import type { Database } from 'better-sqlite3'
import { runCompleteness, type Flag, type TestRecord, type UnfinishedTest } from '../../../ingest/index.ts'
import { seriesNameKey } from '../../domain/series-identity.ts'
import { INFRASTRUCTURE_RESULT_SQL, OUTCOME_CELL_SQL, TROUBLED_RESULT_SQL } from './outcomes.ts'

/**
 * Work a migration cannot say in SQL alone: it recomputes, for the runs already stored, what ingest
 * now derives, with the same functions. Each runs inside its migration's transaction, after its SQL.
 */
export const BACKFILLS: Record<number, (db: Database) => void> = {
  5: backfillHonestVerdicts,
  6: backfillInfrastructure,
  7: backfillSeriesNames,
}

/**
 * Each stored series' name becomes its first name. Two series whose names differ only in case or
 * white space (stored before names were folded) cannot share a key: the older keeps it, the newer
 * is still found by its exact name, and an admin can merge them.
 */
function backfillSeriesNames (db: Database): void {
  const insert = db.prepare('INSERT OR IGNORE INTO series_names (name_key, series_id, name, created_at) VALUES (?, ?, ?, ?)')
  for (const row of db.prepare('SELECT id, name, created_at FROM series ORDER BY id').all() as Array<{ id: number, name: string, created_at: string }>) {
    insert.run(seriesNameKey(row.name), row.id, row.name, row.created_at)
  }
}

function backfillInfrastructure (db: Database): void {
  db.prepare(`
    UPDATE case_stats SET infrastructure = t.n FROM (
      SELECT ru.version_id, ru.machine_id, r.case_id, count(*) AS n
      FROM results r JOIN runs ru ON ru.id = r.run_id
      WHERE ${INFRASTRUCTURE_RESULT_SQL}
      GROUP BY ru.version_id, ru.machine_id, r.case_id) AS t
    WHERE case_stats.version_id = t.version_id AND case_stats.machine_id = t.machine_id AND case_stats.case_id = t.case_id`).run()
}

/** The reason the parser gave a test whose log ended before its result line (ingest/kselftest-parser.ts). */
const ENDS_INSIDE_TEST = 'no result line: the log ends before its result line'

function backfillHonestVerdicts (db: Database): void {
  db.prepare(`
    UPDATE case_stats SET trouble = t.n FROM (
      SELECT ru.version_id, ru.machine_id, r.case_id, count(*) AS n
      FROM results r JOIN runs ru ON ru.id = r.run_id
      WHERE r.flags <> '' AND ${TROUBLED_RESULT_SQL}
      GROUP BY ru.version_id, ru.machine_id, r.case_id) AS t
    WHERE case_stats.version_id = t.version_id AND case_stats.machine_id = t.machine_id AND case_stats.case_id = t.case_id`).run()
  db.prepare(`
    INSERT INTO outcome_sets (version_id, machine_id, cells)
    SELECT version_id, machine_id, unhex(group_concat(${OUTCOME_CELL_SQL}, '' ORDER BY case_id))
    FROM case_stats GROUP BY version_id, machine_id`).run()

  const runs = db.prepare('SELECT id, plans FROM runs').all() as Array<{ id: number, plans: string }>
  const testsOf = db.prepare(`
    SELECT c.collection, c.test, r.flags, r.reason, r.line_from, r.line_to
    FROM results r JOIN cases c ON c.id = r.case_id WHERE r.run_id = ? AND r.parent_seq IS NULL ORDER BY r.seq`)
  const setRun = db.prepare('UPDATE runs SET complete = ?, incomplete_reasons = ?, not_run = ? WHERE id = ?')
  const setCollection = db.prepare('UPDATE run_collections SET complete = ?, not_run = ? WHERE run_id = ? AND collection = ?')
  for (const run of runs) {
    const rows = testsOf.all(run.id) as Array<{ collection: string, test: string, flags: string, reason: string | null, line_from: number, line_to: number }>
    const tests = rows.map(row => ({
      collection: row.collection, name: row.test, flags: (row.flags === '' ? [] : row.flags.split(',')) as Flag[], lines: [row.line_from, row.line_to],
    })) as TestRecord[]
    const unfinished: UnfinishedTest[] = rows
      .filter(row => row.reason?.startsWith(ENDS_INSIDE_TEST))
      .map(row => ({ collection: row.collection, name: row.test, line: row.line_from, cause: 'end_of_log' }))
    const completeness = runCompleteness({ tests, plans: JSON.parse(run.plans), unfinished })
    if (completeness.complete) continue
    setRun.run(0, JSON.stringify(completeness.reasons), completeness.notRun, run.id)
    for (const collection of completeness.collections) {
      setCollection.run(collection.complete ? 1 : 0, collection.notRun, run.id, collection.collection)
    }
  }
}
