import type { Database } from 'better-sqlite3'
import { STATUSES } from '../../../ingest/index.ts'
import type { IssueStore } from './issue-store.ts'
import { INFRASTRUCTURE_RESULT_SQL, TROUBLED_RESULT_SQL } from './outcomes.ts'
import { COUNTS } from '../outcome-sql.ts'
import type { PruneReport, RemovedRun } from '../rows.ts'


/**
 * The writes an admin makes: deleting a run, merging two version labels, pruning old runs. Each
 * keeps the trend aggregates (migrations/003-trend-aggregates.sql) equal to what the remaining
 * results say, in the same transaction.
 */
export class AdminStore {
  private readonly s

  /** `issues`: the known issues to match again against runs a merge moves (known-issue scopes name versions). */
  constructor (private readonly db: Database, private readonly issues: IssueStore | null = null) {
    this.s = {
      runRef: db.prepare(`
        SELECT r.id, r.version_id, r.machine_id, v.series_id, s.name AS series, v.label AS version, m.name AS machine,
          r.created_at AS createdAt, r.log_bytes AS logBytes
        FROM runs r JOIN versions v ON v.id = r.version_id JOIN series s ON s.id = v.series_id JOIN machines m ON m.id = r.machine_id
        WHERE r.id = ?`),
      subtractCaseStats: db.prepare(`
        UPDATE case_stats SET ${COUNTS.map(c => `${c} = case_stats.${c} - gone.${c}`).join(', ')}
        FROM (SELECT case_id, count(*) AS total, ${STATUSES.map(s => `sum(status = '${s}') AS ${s}`).join(', ')},
                sum(r.flags <> '' AND ${TROUBLED_RESULT_SQL}) AS trouble, sum(${INFRASTRUCTURE_RESULT_SQL}) AS infrastructure
              FROM results r WHERE run_id = ? GROUP BY case_id) AS gone
        WHERE case_stats.version_id = ? AND case_stats.machine_id = ? AND case_stats.case_id = gone.case_id`),
      dropEmptyCaseStats: db.prepare('DELETE FROM case_stats WHERE version_id = ? AND machine_id = ? AND total <= 0'),
      deleteRun: db.prepare('DELETE FROM runs WHERE id = ?'),
      // a test no version of the series has any more leaves the series' test list
      dropStaleSeriesTests: db.prepare(`
        DELETE FROM series_tests WHERE series_id = @series AND NOT EXISTS (
          SELECT 1 FROM case_stats cs JOIN versions v ON v.id = cs.version_id
          WHERE v.series_id = @series AND cs.case_id = series_tests.case_id)`),
      dropEmptyVersion: db.prepare('DELETE FROM versions WHERE id = ? AND NOT EXISTS (SELECT 1 FROM runs WHERE version_id = ?)'),
      dropEmptySeries: db.prepare('DELETE FROM series WHERE id = ? AND NOT EXISTS (SELECT 1 FROM versions WHERE series_id = ?)'),
      versionByLabel: db.prepare('SELECT id, message_id, base_commit FROM versions WHERE series_id = ? AND label = ?'),
      versionById: db.prepare('SELECT id, message_id, base_commit FROM versions WHERE id = ?'),
      // the two versions' patch lists (migrations/007): the target keeps its own, or takes the source's;
      // a source run that agreed with a list that goes keeps that list as its difference
      keepDifferingReports: db.prepare(`
        UPDATE run_patch_reports SET differing = (
          SELECT json_group_array(json_object('subject', subject, 'author', author, 'patchId', patch_id, 'files', json(files), 'messageId', message_id))
          FROM (SELECT * FROM version_patches WHERE version_id = @source ORDER BY position))
        WHERE differing IS NULL AND run_id IN (SELECT id FROM runs WHERE version_id = @source)
          AND digest <> (SELECT digest FROM version_patch_lists WHERE version_id = @target)`),
      movePatchList: db.prepare(`
        UPDATE version_patch_lists SET version_id = @target
        WHERE version_id = @source AND NOT EXISTS (SELECT 1 FROM version_patch_lists WHERE version_id = @target)`),
      moveRuns: db.prepare('UPDATE runs SET version_id = ? WHERE version_id = ?'),
      runsOfVersion: db.prepare('SELECT id FROM runs WHERE version_id = ? ORDER BY id').pluck(),
      mergeCaseStats: db.prepare(`
        INSERT INTO case_stats (version_id, machine_id, case_id, ${COUNTS.join(', ')})
        SELECT ?, machine_id, case_id, ${COUNTS.join(', ')} FROM case_stats WHERE version_id = ?
        ON CONFLICT (version_id, machine_id, case_id) DO UPDATE SET
          ${COUNTS.map(c => `${c} = case_stats.${c} + excluded.${c}`).join(', ')}`),
      keepVersionFacts: db.prepare(`
        UPDATE versions SET message_id = coalesce(message_id, ?), base_commit = coalesce(base_commit, ?) WHERE id = ?`),
      deleteVersion: db.prepare('DELETE FROM versions WHERE id = ?'),
      pruneCandidates: db.prepare(`
        SELECT id FROM runs WHERE created_at < @cutoff AND id NOT IN (
          SELECT max(id) FROM runs GROUP BY version_id, CASE WHEN @perMachine THEN machine_id ELSE 0 END)
        ORDER BY id`).pluck(),
      countRuns: db.prepare('SELECT count(*) FROM runs').pluck(),
      bumpCounter: db.prepare("UPDATE store_state SET value = value + 1 WHERE key = 'write_counter'"),
    }
  }

  /** Deletes a run with its results, log and share of the aggregates; empty versions and series go too. */
  deleteRun (id: number): RemovedRun | null {
    // IMMEDIATE, as RunStore.ingestRun: a read-then-write transaction must wait for the lock, not fail
    return this.db.transaction(() => this.deleteOne(id)).immediate()
  }

  /**
   * Moves every run of version `from` into version `into` of the same series (a label typed two
   * ways, `v2` and `RFC v2`), then drops `from`. Returns the number of runs moved, or null when
   * either label is unknown.
   */
  mergeVersions (seriesId: number, from: string, into: string): number | null {
    return this.db.transaction(() => {
      const source = this.s.versionByLabel.get(seriesId, from) as { id: number } | undefined
      const target = this.s.versionByLabel.get(seriesId, into) as { id: number } | undefined
      if (!source || !target || source.id === target.id) return null
      const moved = this.foldVersion(source.id, target.id)
      this.s.bumpCounter.run()
      return moved
    }).immediate()
  }

  /**
   * Version `sourceId` into version `targetId` (of the same series or, for a series merge, another):
   * its runs, their aggregates, the facts the target lacks, and its patch list when the target has
   * none. Inside the caller's transaction; returns the runs moved.
   */
  foldVersion (sourceId: number, targetId: number): number {
    const source = this.s.versionById.get(sourceId) as { id: number, message_id: string | null, base_commit: string | null }
    const versions = { source: sourceId, target: targetId }
    this.s.keepDifferingReports.run(versions)
    this.s.movePatchList.run(versions)
    const movedRuns = this.s.runsOfVersion.all(sourceId) as number[]
    const moved = this.s.moveRuns.run(targetId, sourceId).changes
    this.issues?.matchRunsAgain(movedRuns)
    this.s.mergeCaseStats.run(targetId, sourceId)
    this.s.keepVersionFacts.run(source.message_id, source.base_commit, targetId)
    this.s.deleteVersion.run(sourceId)
    return moved
  }

  /**
   * Removes runs stored before `cutoff`, never the newest run of a version (nor, with
   * `perMachine`, the newest run of each machine in a version). One short transaction per run,
   * so that uploads go on between them.
   */
  prune (cutoff: Date, options: { perMachine?: boolean, dryRun?: boolean } = {}): PruneReport {
    const ids = this.s.pruneCandidates.all({ cutoff: cutoff.toISOString(), perMachine: options.perMachine ? 1 : 0 }) as number[]
    const removed: RemovedRun[] = []
    for (const id of ids) {
      const run = options.dryRun ? this.describe(id) : this.deleteRun(id)
      if (run) removed.push(run)
    }
    const kept = (this.s.countRuns.get() as number) - (options.dryRun ? removed.length : 0)
    return { removed, kept, logBytes: removed.reduce((sum, run) => sum + run.logBytes, 0) }
  }

  private describe (id: number): RemovedRun | null {
    const run = this.s.runRef.get(id) as (RemovedRun & { version_id: number, machine_id: number, series_id: number }) | undefined
    if (!run) return null
    return { id: run.id, series: run.series, version: run.version, machine: run.machine, createdAt: run.createdAt, logBytes: run.logBytes }
  }

  private deleteOne (id: number): RemovedRun | null {
    const run = this.s.runRef.get(id) as (RemovedRun & { version_id: number, machine_id: number, series_id: number }) | undefined
    if (!run) return null
    this.s.subtractCaseStats.run(id, run.version_id, run.machine_id)
    this.s.dropEmptyCaseStats.run(run.version_id, run.machine_id)
    this.s.deleteRun.run(id)
    this.s.dropStaleSeriesTests.run({ series: run.series_id })
    this.s.dropEmptyVersion.run(run.version_id, run.version_id)
    this.s.dropEmptySeries.run(run.series_id, run.series_id)
    this.s.bumpCounter.run()
    return { id: run.id, series: run.series, version: run.version, machine: run.machine, createdAt: run.createdAt, logBytes: run.logBytes }
  }
}
