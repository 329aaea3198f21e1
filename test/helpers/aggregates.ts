import assert from 'node:assert/strict'
import type { Database } from 'better-sqlite3'
import { TROUBLE_FLAGS } from '../../server/queries/verdict.ts'
import { decodeOutcomeSet } from '../../server/storage/outcome-cells.ts'

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
