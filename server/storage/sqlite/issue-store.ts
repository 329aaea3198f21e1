import type { Database } from 'better-sqlite3'
import { compileIssue, IssueIndex, issueMatches, pathMatches } from '../../domain/known-issue-matching.ts'
import { namesKey, testPathsOf, type IssueDefinition } from '../../domain/known-issues.ts'
import { versionSortKey } from '../../domain/version-label.ts'
import { FAILED_SQL, FAILING_STATUS_LIST_SQL, PASSED_SQL, TROUBLED_RESULT_SQL } from './outcomes.ts'
import type { IssueAuditRow, IssueListRow, IssueMatchRow, IssuePatch, PerhapsFixed, RunContext, RunIssueMatches, StoredIssue, TriageResult } from '../rows.ts'
import {
  candidateOf, CASES_SCANNED_PER_STEP, definitionOf, diff, ISSUE_COLUMNS, issueColumns, issueOf, refOf, resultBatches, splitList, triageResultOf,
  type CandidateRow, type IssueRow, type RetroRow,
} from '../known-issue-rows.ts'

export interface IssueStoreOptions {
  clock?: () => Date
  /** The raw log's lines `from`..`to` of a run, for issues with a log regex. */
  readLog: (runId: number, from: number, to: number) => string[]
}

/**
 * Known issues, their audit trail and the results they match. Matching itself is the pure rule of
 * domain/known-issues.ts; this module feeds it candidates (failing or troubled results) and keeps
 * the matches: for one run inside its ingest transaction, and over every stored run, in short
 * transactions, when an issue is created or its matcher or scope edited.
 */
export class IssueStore {
  private readonly s: ReturnType<typeof prepare>
  private readonly clock: () => Date
  private readonly readLog: IssueStoreOptions['readLog']
  private cached: { revision: number, index: IssueIndex } | null = null

  constructor (private readonly db: Database, options: IssueStoreOptions) {
    this.s = prepare(db)
    this.clock = options.clock ?? (() => new Date())
    this.readLog = options.readLog
  }

  get (id: number): StoredIssue | null {
    const row = this.s.get.get(id) as IssueRow | undefined
    return row ? issueOf(row) : null
  }

  list (options: { active?: boolean } = {}): IssueListRow[] {
    return (this.s.list.all() as Array<IssueRow & { results: number, runs: number }>)
      .map(row => ({ ...issueOf(row), matchedResults: row.results, matchedRuns: row.runs }))
      .filter(issue => options.active === undefined || (issue.resolvedAt === null) === options.active)
  }

  /** One issue with its match counts (list() counts every issue's). */
  listed (id: number): IssueListRow | null {
    const issue = this.get(id)
    if (issue === null) return null
    const { results, runs } = this.s.matchCounts.get(id) as { results: number, runs: number }
    return { ...issue, matchedResults: results, matchedRuns: runs }
  }

  audit (id: number): IssueAuditRow[] {
    return (this.s.audit.all(id) as Array<{ at: string, actor: string, action: IssueAuditRow['action'], changes: string }>)
      .map(row => ({ ...row, changes: JSON.parse(row.changes) }))
  }

  /** Where the issue matched, per series, version and machine, in version order. */
  matches (id: number): IssueMatchRow[] {
    return this.s.matchesByVersion.all(id) as IssueMatchRow[]
  }

  /**
   * Series and machines where the issue matched in an earlier version but not in the newest one
   * the machine ran, and every case it matched there now passes: "perhaps fixed". A hint; the
   * issue stays active until someone resolves it. Never for an intermittent issue.
   */
  perhapsFixed (id: number): PerhapsFixed[] {
    // an intermittent failure that passed once is not a fix
    if (this.get(id)?.intermittent !== false) return []
    return this.s.perhapsFixed.all({ issue: id }) as PerhapsFixed[]
  }

  /**
   * The active known issues that matched a run's results, for the KCIDB export (export/kcidb.ts):
   * by each result's names, with each issue's KCIDB version (its changes since it was recorded).
   */
  exportedMatches (runId: number): RunIssueMatches | undefined {
    const rows = this.s.runMatches.all(runId) as Array<{ collection: string, test: string, path: string, issue_id: number }>
    if (rows.length === 0) return undefined
    const byNames = new Map<string, number[]>()
    for (const row of rows) {
      const key = namesKey([row.collection, row.test, ...JSON.parse(row.path) as string[]])
      byNames.set(key, [...(byNames.get(key) ?? []), row.issue_id])
    }
    const ids = [...new Set(rows.map(row => row.issue_id))]
    const issues = (this.s.exportedIssues.all(JSON.stringify(ids)) as Array<IssueRow & { changes: number }>).map(row => ({
      ...refOf(row), testGlob: row.test_glob, version: row.changes,
    }))
    return { byNames, issues }
  }

  /**
   * Creates an issue and matches it against every stored result; `match: false` leaves the
   * matching to the caller (rematchSteps), which a server runs between its event loop's turns.
   */
  create (definition: IssueDefinition, actor: string, options: { match?: boolean } = {}): StoredIssue {
    const now = this.clock().toISOString()
    const id = this.db.transaction(() => {
      const id = Number(this.s.insert.run({ ...issueColumns(definition), created_at: now, created_by: actor, updated_at: now }).lastInsertRowid)
      this.s.insertAudit.run(id, now, actor, 'create', JSON.stringify(diff(null, definition)))
      this.s.bumpRevision.run()
      this.s.bumpWriteCounter.run()
      return id
    }).immediate()
    if (options.match !== false) this.rematch(id)
    return this.get(id)!
  }

  /**
   * Edits an issue; a changed matcher or scope matches it again over every stored result (or, with
   * `match: false`, says so in `rematch` for the caller to do). Null for an unknown id.
   */
  update (id: number, patch: IssuePatch, actor: string, options: { match?: boolean } = {}): { issue: StoredIssue, rematch: boolean } | null {
    const before = this.get(id)
    if (before === null) return null
    const after: IssueDefinition = {
      title: patch.title ?? before.title,
      url: patch.url === undefined ? before.url : patch.url,
      culprit: patch.culprit ?? before.culprit,
      intermittent: patch.intermittent ?? before.intermittent,
      matcher: { ...before.matcher, ...patch.matcher },
      scope: { ...before.scope, ...patch.scope },
    }
    const changes = diff(definitionOf(before), after)
    if (Object.keys(changes).length === 0) return { issue: before, rematch: false }
    const now = this.clock().toISOString()
    this.db.transaction(() => {
      this.s.update.run({ ...issueColumns(after), id, updated_at: now })
      this.s.insertAudit.run(id, now, actor, 'edit', JSON.stringify(changes))
      this.s.bumpRevision.run()
      this.s.bumpWriteCounter.run()
    }).immediate()
    const rematch = Object.keys(changes).some(field => field.startsWith('matcher.') || field.startsWith('scope.'))
    if (rematch && options.match !== false) this.rematch(id)
    return { issue: this.get(id)!, rematch: rematch && options.match === false }
  }

  /**
   * Resolves (active: false) or reopens an issue. A resolved issue keeps its matches and triages
   * nothing; a reopened one is matched again (ingest skipped it meanwhile), unless `match: false`.
   */
  setActive (id: number, active: boolean, actor: string, options: { match?: boolean } = {}): StoredIssue | null {
    const before = this.get(id)
    if (before === null) return null
    if ((before.resolvedAt === null) === active) return before
    const now = this.clock().toISOString()
    this.db.transaction(() => {
      this.s.setResolved.run(active ? null : now, now, id)
      this.s.insertAudit.run(id, now, actor, active ? 'reopen' : 'resolve',
        JSON.stringify({ resolvedAt: { from: before.resolvedAt, to: active ? null : now } }))
      this.s.bumpRevision.run()
      this.s.bumpWriteCounter.run()
    }).immediate()
    // while it was resolved, ingest did not match it: catch up over what arrived meanwhile
    if (active && options.match !== false) this.rematch(id)
    return this.get(id)
  }

  /**
   * An admin merged or renamed a series (`series`, by id) or a machine (`machines`, by name): every
   * issue scoped to `from` is scoped to `to` instead, an edit audited as `actor`'s. Inside the
   * caller's transaction. Returns the issues scoped to either, whose matches the caller renews
   * (rematch) once the transaction is committed: results came into their scope. A rename
   * (`merge: false`) brings no result into any scope: its issues need no new matching.
   */
  renameInScopes (field: 'series' | 'machines', from: number | string, to: number | string, actor: string, options: { merge?: boolean } = {}): number[] {
    const now = this.clock().toISOString()
    const affected: number[] = []
    for (const row of this.s.scopes.all() as Array<{ id: number, series: string, machines: string }>) {
      const scope = JSON.parse(row[field]) as Array<number | string>
      if (!scope.includes(from) && !scope.includes(to)) continue
      affected.push(row.id)
      if (!scope.includes(from)) continue
      const renamed = [...new Set(scope.map(item => item === from ? to : item))]
      this.s.setScope.run({ id: row.id, field, scope: JSON.stringify(renamed), now, changed: options.merge === false ? 0 : 1 })
      this.s.insertAudit.run(row.id, now, actor, 'edit', JSON.stringify({ [`scope.${field}`]: { from: scope, to: renamed } }))
    }
    if (affected.length > 0) {
      this.s.bumpRevision.run()
      this.s.bumpWriteCounter.run()
    }
    return affected
  }

  /** Whether any issue is active: ingest gathers the results to triage (TriageResult) only then. */
  hasActiveIssues (): boolean {
    return this.activeIndex().size > 0
  }

  /**
   * Matches the active issues against one run's failing and troubled results. Called by ingest
   * inside the run's transaction, so that a run is never visible without its matches.
   */
  matchRun (runId: number, run: RunContext, results: readonly TriageResult[]): number {
    const index = this.activeIndex()
    if (index.size === 0) return 0
    const sortKey = versionSortKey(run.versionLabel)
    let matched = 0
    for (const result of results) {
      let lines: string[] | null = null
      const candidate = candidateOf(result, {
        seriesId: run.seriesId, versionSortKey: sortKey, machine: run.machine, arch: run.arch, cpuFlags: run.cpuFlags, kernel: run.kernel,
      }, () => (lines ??= this.readLog(runId, result.lines[0], result.lines[1])))
      for (const issueId of index.match(candidate)) {
        this.s.insertMatch.run(runId, result.seq, issueId)
        matched++
      }
    }
    return matched
  }

  /**
   * Matches the active issues again against runs that moved (a version merged into another, so a
   * version range scopes them differently). In the caller's transaction. A resolved issue's
   * matches stay as they were: its history.
   */
  matchRunsAgain (runIds: readonly number[]): void {
    for (const runId of runIds) {
      const run = this.s.runContext.get(runId) as (Omit<RunContext, 'cpuFlags'> & { flags: string }) | undefined
      if (run === undefined) continue
      this.s.deleteActiveRunMatches.run(runId)
      this.matchRun(runId, { ...run, cpuFlags: splitList(run.flags) }, (this.s.runCandidates.all(runId) as CandidateRow[]).map(triageResultOf))
    }
  }

  /** Matches one issue again over every stored result, in short transactions. Returns the results matched. */
  rematch (id: number): number {
    let matched = 0
    for (const step of this.rematchSteps(id)) matched = step
    return matched
  }

  /**
   * The same in steps (one write transaction each), yielding the running count between them: a
   * server lets its event loop run between steps (routes/issues.ts). Every change of an issue moves
   * its generation; a rematch whose issue changed under it stops, and the newer one does the work.
   * When the last step ran, the issue's matches are of its current generation; until then the
   * issue is pending (pendingRematches), also after a crash.
   */
  * rematchSteps (id: number): Generator<number> {
    const issue = this.get(id)
    if (issue === null) return
    const generation = (this.s.generation.get(id) as { generation: number }).generation
    const current = () => (this.s.generation.get(id) as { generation: number } | undefined)?.generation === generation
    // a resolved issue keeps the matches it had, as its history; reopening matches it again
    if (issue.resolvedAt !== null) return
    this.db.transaction(() => {
      this.s.deleteMatches.run(id)
      this.s.bumpWriteCounter.run()
    }).immediate()
    const compiled = compileIssue(id, issue, versionSortKey)
    // the cases whose path (or an ancestor's) the glob matches: only their results can match
    const cases: number[] = []
    let scanned = 0
    for (const row of this.s.allCases.iterate() as Iterable<{ id: number, collection: string, test: string, path: string }>) {
      if (pathMatches(compiled, testPathsOf(row.collection, row.test, JSON.parse(row.path) as string[]))) cases.push(row.id)
      if (++scanned % CASES_SCANNED_PER_STEP === 0) yield 0
    }
    let matched = 0
    for (const batch of resultBatches(this.s.caseResults.all(JSON.stringify(cases)) as Array<[number, number]>)) {
      if (!current()) return
      this.db.transaction(() => {
        for (const row of this.s.caseCandidates.all(JSON.stringify(batch)) as RetroRow[]) {
          const result = triageResultOf(row)
          let lines: string[] | null = null
          const candidate = candidateOf(result, {
            seriesId: row.series_id, versionSortKey: row.sort_key, machine: row.machine, arch: row.arch, cpuFlags: splitList(row.flags), kernel: row.kernel,
          }, () => (lines ??= this.readLog(row.run_id, result.lines[0], result.lines[1])))
          if (issueMatches(compiled, candidate)) {
            this.s.insertMatch.run(row.run_id, row.seq, id)
            matched++
          }
        }
        this.s.bumpWriteCounter.run()
      }).immediate()
      yield matched
    }
    if (current()) this.s.matchedGeneration.run(generation, id)
    yield matched
  }

  /** Active issues whose matching was interrupted (a crash, a restart mid-rematch): a server catches them up at start. */
  pendingRematches (): number[] {
    return this.s.pending.all() as number[]
  }

  /** The compiled active issues, rebuilt when any issue changed (a revision in the database, so other connections' edits count). */
  private activeIndex (): IssueIndex {
    const revision = (this.s.revision.get() as { value: number } | undefined)?.value ?? 0
    if (this.cached?.revision !== revision) {
      const issues = (this.s.active.all() as IssueRow[]).map(row => compileIssue(row.id, issueOf(row), versionSortKey))
      this.cached = { revision, index: new IssueIndex(issues) }
    }
    return this.cached.index
  }
}


function prepare (db: Database) {
  const statement = (sql: string) => db.prepare(sql)
  return {
    get: statement('SELECT * FROM known_issues WHERE id = ?'),
    list: statement(`
      SELECT k.*, coalesce(m.results, 0) AS results, coalesce(m.runs, 0) AS runs FROM known_issues k
      LEFT JOIN (SELECT issue_id, count(*) AS results, count(DISTINCT run_id) AS runs FROM known_issue_matches GROUP BY issue_id) m ON m.issue_id = k.id
      ORDER BY k.resolved_at IS NOT NULL, k.id DESC`),
    active: statement('SELECT * FROM known_issues WHERE resolved_at IS NULL ORDER BY id'),
    matchCounts: statement('SELECT count(*) AS results, count(DISTINCT run_id) AS runs FROM known_issue_matches WHERE issue_id = ?'),
    insert: statement(`INSERT INTO known_issues (${ISSUE_COLUMNS.join(', ')}, created_at, created_by, updated_at)
      VALUES (${ISSUE_COLUMNS.map(column => `@${column}`).join(', ')}, @created_at, @created_by, @updated_at)`),
    update: statement(`UPDATE known_issues SET ${ISSUE_COLUMNS.map(column => `${column} = @${column}`).join(', ')}, updated_at = @updated_at,
      generation = generation + 1 WHERE id = @id`),
    setResolved: statement('UPDATE known_issues SET resolved_at = ?, updated_at = ?, generation = generation + 1 WHERE id = ?'),
    scopes: statement('SELECT id, series, machines FROM known_issues ORDER BY id'),
    // a scope a merge widened is a change like an edit's: the issue is pending until it is matched again
    setScope: statement(`UPDATE known_issues SET series = CASE WHEN @field = 'series' THEN @scope ELSE series END,
      machines = CASE WHEN @field = 'machines' THEN @scope ELSE machines END, updated_at = @now, generation = generation + @changed WHERE id = @id`),
    generation: statement('SELECT generation FROM known_issues WHERE id = ?'),
    matchedGeneration: statement('UPDATE known_issues SET matched_generation = ? WHERE id = ?'),
    pending: statement('SELECT id FROM known_issues WHERE resolved_at IS NULL AND matched_generation < generation ORDER BY id').pluck(),
    caseResults: statement(`
      SELECT j.value, coalesce((SELECT sum(total) FROM case_stats s WHERE s.case_id = j.value), 0) FROM json_each(?) j`).raw(),
    insertAudit: statement('INSERT INTO known_issue_audit (issue_id, at, actor, action, changes) VALUES (?, ?, ?, ?, ?)'),
    audit: statement('SELECT at, actor, action, changes FROM known_issue_audit WHERE issue_id = ? ORDER BY id'),
    // the store's write counter moves with every issue change (ETags), and so does the revision the
    // compiled index is cached under
    bumpRevision: statement(`INSERT INTO store_state (key, value) VALUES ('known_issues_revision', 1)
      ON CONFLICT (key) DO UPDATE SET value = value + 1`),
    bumpWriteCounter: statement("UPDATE store_state SET value = value + 1 WHERE key = 'write_counter'"),
    revision: statement("SELECT value FROM store_state WHERE key = 'known_issues_revision'"),
    deleteMatches: statement('DELETE FROM known_issue_matches WHERE issue_id = ?'),
    deleteActiveRunMatches: statement('DELETE FROM known_issue_matches WHERE run_id = ? AND issue_id IN (SELECT id FROM known_issues WHERE resolved_at IS NULL)'),
    runContext: statement(`
      SELECT v.series_id AS seriesId, v.label AS versionLabel, m.name AS machine, ru.arch, ru.flags, ru.kernel
      FROM runs ru JOIN versions v ON v.id = ru.version_id JOIN machines m ON m.id = ru.machine_id WHERE ru.id = ?`),
    insertMatch: statement('INSERT OR IGNORE INTO known_issue_matches (run_id, seq, issue_id) VALUES (?, ?, ?)'),
    runCandidates: statement(`
      SELECT r.run_id, r.seq, c.collection, c.test, c.path, r.status, r.exit_code, r.reason, r.line_from, r.line_to,
        CASE WHEN r.flags <> '' AND ${TROUBLED_RESULT_SQL} THEN 1 ELSE 0 END AS troubled
      FROM results r JOIN cases c ON c.id = r.case_id
      WHERE r.run_id = ? AND (r.status IN (${FAILING_STATUS_LIST_SQL}) OR (r.flags <> '' AND ${TROUBLED_RESULT_SQL}))`),
    allCases: statement('SELECT id, collection, test, path FROM cases'),
    caseCandidates: statement(`
      SELECT r.run_id, r.seq, c.collection, c.test, c.path, r.status, r.exit_code, r.reason, r.line_from, r.line_to,
        CASE WHEN r.flags <> '' AND ${TROUBLED_RESULT_SQL} THEN 1 ELSE 0 END AS troubled,
        v.series_id, v.sort_key, m.name AS machine, ru.arch, ru.flags, ru.kernel
      FROM json_each(?) j CROSS JOIN cases c ON c.id = j.value
      CROSS JOIN results r INDEXED BY results_by_case ON r.case_id = c.id
      JOIN runs ru ON ru.id = r.run_id JOIN versions v ON v.id = ru.version_id JOIN machines m ON m.id = ru.machine_id
      WHERE r.status IN (${FAILING_STATUS_LIST_SQL}) OR (r.flags <> '' AND ${TROUBLED_RESULT_SQL})`),
    runMatches: statement(`
      SELECT c.collection, c.test, c.path, k.issue_id FROM known_issue_matches k
      JOIN known_issues i ON i.id = k.issue_id AND i.resolved_at IS NULL
      JOIN results r ON r.run_id = k.run_id AND r.seq = k.seq JOIN cases c ON c.id = r.case_id
      WHERE k.run_id = ? ORDER BY k.seq, k.issue_id`),
    exportedIssues: statement(`
      SELECT i.*, (SELECT count(*) - 1 FROM known_issue_audit a WHERE a.issue_id = i.id) AS changes
      FROM known_issues i WHERE i.id IN (SELECT value FROM json_each(?)) ORDER BY i.id`),
    matchesByVersion: statement(`
      SELECT v.series_id AS seriesId, s.name AS series, v.label AS version, m.name AS machine,
        count(*) AS results, count(DISTINCT k.run_id) AS runs, max(k.run_id) AS lastRunId
      FROM known_issue_matches k JOIN runs ru ON ru.id = k.run_id JOIN versions v ON v.id = ru.version_id
      JOIN series s ON s.id = v.series_id JOIN machines m ON m.id = ru.machine_id
      WHERE k.issue_id = ?
      GROUP BY v.id, m.id ORDER BY s.name, v.sort_key, v.id, m.name`),
    // per (series, machine) the issue matched on: the newest version that machine ran; perhaps
    // fixed when the issue matched nothing there and each case it matched before ran and passed
    perhapsFixed: statement(`
      WITH matched AS (
        SELECT DISTINCT v.series_id, ru.machine_id, r.case_id, v.sort_key, v.label
        FROM known_issue_matches k JOIN runs ru ON ru.id = k.run_id JOIN versions v ON v.id = ru.version_id
        JOIN results r ON r.run_id = k.run_id AND r.seq = k.seq
        WHERE k.issue_id = @issue),
      places AS (SELECT series_id, machine_id, max(sort_key) AS last_matched_key FROM matched GROUP BY series_id, machine_id),
      newest AS (
        SELECT p.series_id, p.machine_id, p.last_matched_key,
          (SELECT v.id FROM versions v JOIN runs ru ON ru.version_id = v.id AND ru.machine_id = p.machine_id
           WHERE v.series_id = p.series_id ORDER BY v.sort_key DESC, v.id DESC LIMIT 1) AS version_id
        FROM places p)
      SELECT n.series_id AS seriesId, s.name AS series, m.name AS machine, v.label AS version,
        (SELECT label FROM matched x WHERE x.series_id = n.series_id AND x.machine_id = n.machine_id AND x.sort_key = n.last_matched_key LIMIT 1) AS lastMatchedVersion
      FROM newest n JOIN versions v ON v.id = n.version_id JOIN series s ON s.id = n.series_id JOIN machines m ON m.id = n.machine_id
      WHERE v.sort_key > n.last_matched_key
        AND NOT EXISTS (
          SELECT 1 FROM matched x WHERE x.series_id = n.series_id AND x.machine_id = n.machine_id
            AND NOT EXISTS (SELECT 1 FROM case_stats cs WHERE cs.version_id = n.version_id AND cs.machine_id = n.machine_id AND cs.case_id = x.case_id
              AND ${PASSED_SQL} > 0 AND ${FAILED_SQL} = 0))
      ORDER BY s.name, m.name`),
  }
}
