import type pg from 'pg'
import { STATUSES } from '../../../ingest/index.ts'
import type { PruneReport, RemovedRun } from '../rows.ts'
import { COUNTS } from '../outcome-sql.ts'
import type { PostgresIssueStore } from './issue-store.ts'
import { INFRASTRUCTURE_RESULT_SQL, TROUBLED_RESULT_SQL } from './outcomes.ts'
import { bumpWriteCounter, inTransaction, type Queryable } from './transaction.ts'

type RunRef = RemovedRun & { version_id: number, machine_id: number, series_id: number }

/**
 * The writes an admin makes, in PostgreSQL: storage/admin-store.ts's methods, each a Promise, with
 * the same set-based statements. Each keeps the trend aggregates equal to what the remaining
 * results say, in the same transaction: counts move by upserts and `x = x - gone.x` updates, never
 * read into JS and written back, so that an upload on another node adding to the same cells at
 * once is neither lost nor counted twice.
 */
export class PostgresAdminStore {
  /** `issues`: the known issues to match again against runs a merge moves (known-issue scopes name versions). */
  constructor (private readonly pool: pg.Pool, private readonly issues: PostgresIssueStore | null = null) {}

  /** Deletes a run with its results, log and share of the aggregates; empty versions and series go too. */
  async deleteRun (id: number): Promise<RemovedRun | null> {
    return inTransaction(this.pool, client => this.deleteOne(client, id))
  }

  /**
   * Moves every run of version `from` into version `into` of the same series (a label typed two
   * ways, `v2` and `RFC v2`), then drops `from`. Returns the number of runs moved, or null when
   * either label is unknown.
   */
  async mergeVersions (seriesId: number, from: string, into: string): Promise<number | null> {
    return inTransaction(this.pool, async client => {
      // both held (in id order, so that two merges of the same pair cannot deadlock) until the
      // merge commits: an upload to either on another node waits, as its insert checks the version
      const { rows } = await client.query<{ id: number, label: string }>(
        'SELECT id, label FROM versions WHERE series_id = $1 AND label IN ($2, $3) ORDER BY id FOR UPDATE', [seriesId, from, into])
      const source = rows.find(row => row.label === from)
      const target = rows.find(row => row.label === into)
      if (!source || !target || source.id === target.id) return null
      const moved = await this.foldVersion(client, source.id, target.id)
      await bumpWriteCounter(client)
      return moved
    })
  }

  /**
   * Version `sourceId` into version `targetId` (of the same series or, for a series merge, another):
   * its runs, their aggregates, the facts the target lacks, and its patch list when the target has
   * none. Inside the caller's transaction (`db`), which holds both versions; returns the runs moved.
   */
  async foldVersion (db: pg.PoolClient, sourceId: number, targetId: number): Promise<number> {
    const { rows: [source] } = await db.query<{ message_id: string | null, base_commit: string | null }>(
      'SELECT message_id, base_commit FROM versions WHERE id = $1', [sourceId])
    if (source === undefined) throw new Error(`version ${sourceId} is not stored`)
    await keepDifferingReports(db, sourceId, targetId)
    await db.query(`
      UPDATE version_patch_lists SET version_id = $2
      WHERE version_id = $1 AND NOT EXISTS (SELECT 1 FROM version_patch_lists WHERE version_id = $2)`, [sourceId, targetId])
    const { rows: moved } = await db.query<{ id: number }>('UPDATE runs SET version_id = $1 WHERE version_id = $2 RETURNING id', [targetId, sourceId])
    const movedRuns = moved.map(row => row.id).sort((a, b) => a - b)
    await this.issues?.matchRunsAgain(db, movedRuns)
    await db.query(`
      INSERT INTO case_stats (version_id, machine_id, case_id, ${COUNTS.join(', ')})
      SELECT $1, machine_id, case_id, ${COUNTS.join(', ')} FROM case_stats WHERE version_id = $2
      ON CONFLICT (version_id, machine_id, case_id) DO UPDATE SET
        ${COUNTS.map(c => `${c} = case_stats.${c} + excluded.${c}`).join(', ')}`, [targetId, sourceId])
    await db.query('UPDATE versions SET message_id = coalesce(message_id, $1), base_commit = coalesce(base_commit, $2) WHERE id = $3',
      [source.message_id, source.base_commit, targetId])
    await db.query('DELETE FROM versions WHERE id = $1', [sourceId])
    return movedRuns.length
  }

  /**
   * Removes runs stored before `cutoff`, never the newest run of a version (nor, with
   * `perMachine`, the newest run of each machine in a version). One short transaction per run,
   * so that uploads go on between them.
   */
  async prune (cutoff: Date, options: { perMachine?: boolean, dryRun?: boolean } = {}): Promise<PruneReport> {
    const { rows } = await this.pool.query<{ id: number }>(`
      SELECT id FROM runs WHERE created_at < $1 AND id NOT IN (
        SELECT max(id) FROM runs GROUP BY version_id, CASE WHEN $2 THEN machine_id ELSE 0 END)
      ORDER BY id`, [cutoff.toISOString(), options.perMachine === true])
    const removed: RemovedRun[] = []
    for (const { id } of rows) {
      const run = options.dryRun ? await this.describe(id) : await this.deleteRun(id)
      if (run) removed.push(run)
    }
    const { rows: [count] } = await this.pool.query<{ runs: number }>('SELECT count(*) AS runs FROM runs')
    const kept = count!.runs - (options.dryRun ? removed.length : 0)
    return { removed, kept, logBytes: removed.reduce((sum, run) => sum + run.logBytes, 0) }
  }

  /**
   * The run with its series and version, all three held until the transaction ends, or null when
   * it is gone. Held, the series and the version are seen empty by the last of several deletes
   * (each waits for the one before to commit), and an upload to either waits for the delete rather
   * than adding a run to a version about to go (its insert checks the row held here). Series, then
   * version, then run, the order a merge takes them in: a merge moving the run meanwhile is waited
   * for, and the run read again where it moved. An upload to another version of the series
   * conflicts with none of these rows unless ingest holds the series (FOR KEY SHARE, which
   * uploads do not conflict on): without that, a case it adds to the series as this delete drops
   * the case's last cell elsewhere can leave series_tests without it.
   */
  private async holdRun (db: pg.PoolClient, id: number): Promise<RunRef | null> {
    for (;;) {
      const seen = await runRef(db, id)
      if (!seen) return null
      await db.query('SELECT 1 FROM series WHERE id = $1 FOR UPDATE', [seen.series_id])
      await db.query('SELECT 1 FROM versions WHERE id = $1 FOR UPDATE', [seen.version_id])
      const run = await runRef(db, id, { lock: true })
      if (!run) return null
      if (run.version_id === seen.version_id && run.series_id === seen.series_id) return run
    }
  }

  private async describe (id: number): Promise<RemovedRun | null> {
    const run = await runRef(this.pool, id)
    return run ? removedRun(run) : null
  }

  private async deleteOne (db: pg.PoolClient, id: number): Promise<RemovedRun | null> {
    const run = await this.holdRun(db, id)
    if (!run) return null
    // count(*) FILTER where SQLite sums its 0/1 comparisons; the counts are bigints, the columns integers
    await db.query(`
      UPDATE case_stats SET ${COUNTS.map(c => `${c} = case_stats.${c} - gone.${c}`).join(', ')}
      FROM (SELECT case_id, count(*) AS total, ${STATUSES.map(s => `count(*) FILTER (WHERE status = '${s}') AS ${s}`).join(', ')},
              count(*) FILTER (WHERE r.flags <> '' AND ${TROUBLED_RESULT_SQL}) AS trouble,
              count(*) FILTER (WHERE ${INFRASTRUCTURE_RESULT_SQL}) AS infrastructure
            FROM results r WHERE run_id = $1 GROUP BY case_id) AS gone
      WHERE case_stats.version_id = $2 AND case_stats.machine_id = $3 AND case_stats.case_id = gone.case_id`, [id, run.version_id, run.machine_id])
    await db.query('DELETE FROM case_stats WHERE version_id = $1 AND machine_id = $2 AND total <= 0', [run.version_id, run.machine_id])
    await db.query('DELETE FROM runs WHERE id = $1', [id])
    // a test no version of the series has any more leaves the series' test list
    await db.query(`
      DELETE FROM series_tests WHERE series_id = $1 AND NOT EXISTS (
        SELECT 1 FROM case_stats cs JOIN versions v ON v.id = cs.version_id
        WHERE v.series_id = $1 AND cs.case_id = series_tests.case_id)`, [run.series_id])
    await db.query('DELETE FROM versions WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM runs WHERE version_id = $1)', [run.version_id])
    await db.query('DELETE FROM series WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM versions WHERE series_id = $1)', [run.series_id])
    await bumpWriteCounter(db)
    return removedRun(run)
  }
}

async function runRef (db: Queryable, id: number, options: { lock?: boolean } = {}): Promise<RunRef | undefined> {
  const { rows } = await db.query<RunRef>(`
    SELECT r.id, r.version_id, r.machine_id, v.series_id, s.name AS series, v.label AS version, m.name AS machine,
      r.created_at AS "createdAt", r.log_bytes AS "logBytes"
    FROM runs r JOIN versions v ON v.id = r.version_id JOIN series s ON s.id = v.series_id JOIN machines m ON m.id = r.machine_id
    WHERE r.id = $1${options.lock ? ' FOR UPDATE OF r' : ''}`, [id])
  return rows[0]
}

function removedRun (run: RunRef): RemovedRun {
  return { id: run.id, series: run.series, version: run.version, machine: run.machine, createdAt: run.createdAt, logBytes: run.logBytes }
}

/**
 * The two versions' patch lists (see storage/admin-store.ts): a run of the source that agreed
 * with a list that goes keeps that list as its difference. Written as JSON.stringify writes a
 * report's list (patch-store.ts), where SQLite builds the same text with json_group_array: the
 * same bytes from both backends, which PostgreSQL's json_agg (with its own spacing) would not give.
 */
async function keepDifferingReports (db: pg.PoolClient, sourceId: number, targetId: number): Promise<void> {
  const { rows } = await db.query<{ subject: string, author: string | null, patch_id: string, files: string, message_id: string | null }>(
    'SELECT subject, author, patch_id, files, message_id FROM version_patches WHERE version_id = $1 ORDER BY position', [sourceId])
  const list = JSON.stringify(rows.map(row => ({ subject: row.subject, author: row.author, patchId: row.patch_id, files: JSON.parse(row.files) as string[], messageId: row.message_id })))
  await db.query(`
    UPDATE run_patch_reports SET differing = $3
    WHERE differing IS NULL AND run_id IN (SELECT id FROM runs WHERE version_id = $1)
      AND digest <> (SELECT digest FROM version_patch_lists WHERE version_id = $2)`, [sourceId, targetId, list])
}
