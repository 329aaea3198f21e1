import { compileIssue, IssueIndex } from '../../domain/known-issue-matching.ts'
import { versionSortKey } from '../../domain/version-label.ts'
import { candidateOf, issueOf, triageResultOf, type CandidateRow, type IssueRow } from '../known-issue-rows.ts'
import { FAILING_STATUS_LIST_SQL } from '../outcome-sql.ts'
import type { RunContext, TriageResult } from '../rows.ts'
import type { Queryable } from './identity-store.ts'
import { TROUBLED_RESULT_SQL } from './outcomes.ts'

/** The compiled active issues, and whether any of them reads the log (a log regex). */
export interface ActiveIssues {
  index: IssueIndex
  readsLogs: boolean
}

/**
 * The ingest-time half of known issues on PostgreSQL (issue-store.ts hasActiveIssues, matchRun and
 * activeIndex): the active issues, compiled once per change of any issue and kept for the process,
 * are matched against the failing and troubled results of the run being stored, inside its
 * transaction. The revision the compiled index is kept under is in the database
 * (store_state.known_issues_revision), so that an issue changed on another node counts here.
 */
export class PostgresIssueMatching {
  private cached: { revision: number, active: ActiveIssues } | null = null

  /** What every change of an issue moves (issue-store.ts bumpRevision). */
  async revision (q: Queryable): Promise<number> {
    const { rows } = await q.query<{ value: number }>("SELECT value FROM store_state WHERE key = 'known_issues_revision'")
    return rows[0]?.value ?? 0
  }

  /** The active issues, or null when there are none: ingest then gathers no results to triage. */
  async activeIssues (q: Queryable): Promise<ActiveIssues | null> {
    const revision = await this.revision(q)
    if (this.cached?.revision !== revision) {
      const issues = (await q.query<IssueRow>('SELECT * FROM known_issues WHERE resolved_at IS NULL ORDER BY id')).rows.map(issueOf)
      this.cached = {
        revision,
        active: {
          index: new IssueIndex(issues.map(issue => compileIssue(issue.id, issue, versionSortKey))),
          readsLogs: issues.some(issue => issue.matcher.logRegex !== null),
        },
      }
    }
    return this.cached.active.index.size === 0 ? null : this.cached.active
  }

  /**
   * Matches the active issues against one run's failing and troubled results and stores the
   * matches, in the caller's transaction: a run is never visible without them. `readLog` gives
   * the run's raw lines `from`..`to` (an issue with a log regex reads them). Returns the matches.
   */
  async matchRun (q: Queryable, active: ActiveIssues, runId: number, run: RunContext, results: readonly TriageResult[],
    readLog: (runId: number, from: number, to: number) => string[]): Promise<number> {
    const sortKey = versionSortKey(run.versionLabel)
    const seqs: number[] = []
    const issueIds: number[] = []
    for (const result of results) {
      let lines: string[] | null = null
      const candidate = candidateOf(result, {
        seriesId: run.seriesId, versionSortKey: sortKey, machine: run.machine, arch: run.arch, cpuFlags: run.cpuFlags, kernel: run.kernel,
      }, () => (lines ??= readLog(runId, result.lines[0], result.lines[1])))
      for (const issueId of active.index.match(candidate)) {
        seqs.push(result.seq)
        issueIds.push(issueId)
      }
    }
    if (seqs.length > 0) {
      // one statement for the run's matches: SQLite's INSERT OR IGNORE per match cost nothing, a round trip here does
      await q.query(`
        INSERT INTO known_issue_matches (run_id, seq, issue_id)
        SELECT $1::bigint, seq, issue_id FROM unnest($2::integer[], $3::bigint[]) AS m(seq, issue_id)
        ON CONFLICT DO NOTHING`, [runId, seqs, issueIds])
    }
    return seqs.length
  }

  /**
   * Matches a run being stored again, from its rows, with the issues as they are now: ingest calls
   * it when an issue changed on any node while the run was being stored (run-store.ts store).
   * `readLines` reads the run's raw lines inside the caller's transaction.
   */
  async matchAgain (q: Queryable, runId: number, run: RunContext, readLines: (from: number, to: number) => Promise<string[]>): Promise<number> {
    await q.query('DELETE FROM known_issue_matches WHERE run_id = $1 AND issue_id IN (SELECT id FROM known_issues WHERE resolved_at IS NULL)', [runId])
    const active = await this.activeIssues(q)
    if (active === null) return 0
    const results = await triageOfRun(q, runId)
    const lines = new Map<string, string[]>()
    if (active.readsLogs) {
      for (const result of results) {
        const key = `${result.lines[0]}:${result.lines[1]}`
        if (!lines.has(key)) lines.set(key, await readLines(result.lines[0], result.lines[1]))
      }
    }
    return this.matchRun(q, active, runId, run, results, (_runId, from, to) => lines.get(`${from}:${to}`) ?? [])
  }
}

/** A stored run's failing and troubled results, as ingest gathers them (TriageResult), read back from its rows. */
export async function triageOfRun (q: Queryable, runId: number): Promise<TriageResult[]> {
  const { rows } = await q.query<CandidateRow>(`
    SELECT r.run_id, r.seq, c.collection, c.test, c.path, r.status, r.exit_code, r.reason, r.line_from, r.line_to,
      CASE WHEN r.flags <> '' AND ${TROUBLED_RESULT_SQL} THEN 1 ELSE 0 END AS troubled
    FROM results r JOIN cases c ON c.id = r.case_id
    WHERE r.run_id = $1 AND (r.status IN (${FAILING_STATUS_LIST_SQL}) OR (r.flags <> '' AND ${TROUBLED_RESULT_SQL}))
    ORDER BY r.seq`, [runId])
  return rows.map(triageResultOf)
}
