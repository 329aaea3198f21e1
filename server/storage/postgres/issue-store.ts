import type pg from 'pg'
import { compileIssue, issueMatches, pathMatches, type CompiledIssue } from '../../domain/known-issue-matching.ts'
import { namesKey, testPathsOf, type IssueDefinition, type MatchCandidate } from '../../domain/known-issues.ts'
import { versionSortKey } from '../../domain/version-label.ts'
import type {
  IssueAuditRow, IssueListRow, IssueMatchRow, IssuePatch, PerhapsFixed, RunContext, RunIssueMatches, StoredIssue, TriageResult,
} from '../rows.ts'
import {
  candidateOf, CASES_SCANNED_PER_STEP, columnsOf, definitionOf, diff, ISSUE_COLUMNS, issueOf, refOf, resultBatches, splitList, triageResultOf,
  type IssueRow, type RetroRow,
} from '../known-issue-rows.ts'
import { FAILED_SQL, FAILING_STATUS_LIST_SQL, PASSED_SQL } from '../outcome-sql.ts'
import { TROUBLED_RESULT_SQL } from './outcomes.ts'
import { triageOfRun } from './issue-matching.ts'
import { bumpWriteCounter, inTransaction, retryingConflicts, type Queryable } from './transaction.ts'

/**
 * Matches the active issues against one run's failing and troubled results, inside the caller's
 * transaction (`db`), and returns the matches it made: the ingest-time matching of
 * postgres/issue-matching.ts (its compiled index, cached by the issues' revision), which a version
 * merge calls again for the runs it moved (matchRunsAgain).
 */
export type RunMatcher = (db: pg.PoolClient, runId: number, run: RunContext, results: readonly TriageResult[]) => Promise<number>

export interface PostgresIssueStoreOptions {
  clock?: () => Date
  /**
   * The raw log's lines `from`..`to` of a run, for issues with a log regex: the run store's log
   * slice, capped as RunStore caps the SQLite store's (1 MiB, lines of 16 KiB at most).
   */
  readLog: (runId: number, from: number, to: number, q: Queryable) => Promise<string[]>
  /** What matchRunsAgain matches moved runs with; without it, a merge that moves runs of a store with issues fails. */
  matchRun?: RunMatcher
}

type Where = Omit<MatchCandidate, 'path' | 'ancestors' | 'status' | 'troubled' | 'reason' | 'exitCode' | 'logLines'>

/**
 * Known issues in PostgreSQL: storage/issue-store.ts's methods, each a Promise, except the
 * ingest-time matching (postgres/issue-matching.ts). An issue and its audit row are written in one
 * transaction that holds the issue's row, so that two nodes editing it at once audit both edits,
 * each against what the other left.
 */
export class PostgresIssueStore {
  private readonly clock: () => Date
  private readonly readLog: PostgresIssueStoreOptions['readLog']
  private readonly matchRun: RunMatcher | undefined

  constructor (private readonly pool: pg.Pool, options: PostgresIssueStoreOptions) {
    this.clock = options.clock ?? (() => new Date())
    this.readLog = options.readLog
    this.matchRun = options.matchRun
  }

  async get (id: number): Promise<StoredIssue | null> {
    const row = await issueRow(this.pool, id)
    return row ? issueOf(row) : null
  }

  async list (options: { active?: boolean } = {}): Promise<IssueListRow[]> {
    const { rows } = await this.pool.query<IssueRow & { results: number, runs: number }>(`
      SELECT k.*, coalesce(m.results, 0) AS results, coalesce(m.runs, 0) AS runs FROM known_issues k
      LEFT JOIN (SELECT issue_id, count(*) AS results, count(DISTINCT run_id) AS runs FROM known_issue_matches GROUP BY issue_id) m ON m.issue_id = k.id
      ORDER BY k.resolved_at IS NOT NULL, k.id DESC`)
    return rows
      .map(row => ({ ...issueOf(row), matchedResults: row.results, matchedRuns: row.runs }))
      .filter(issue => options.active === undefined || (issue.resolvedAt === null) === options.active)
  }

  /** One issue with its match counts (list() counts every issue's). */
  async listed (id: number): Promise<IssueListRow | null> {
    const issue = await this.get(id)
    if (issue === null) return null
    const { rows } = await this.pool.query<{ results: number, runs: number }>(
      'SELECT count(*) AS results, count(DISTINCT run_id) AS runs FROM known_issue_matches WHERE issue_id = $1', [id])
    return { ...issue, matchedResults: rows[0]!.results, matchedRuns: rows[0]!.runs }
  }

  async audit (id: number): Promise<IssueAuditRow[]> {
    const { rows } = await this.pool.query<{ at: string, actor: string, action: IssueAuditRow['action'], changes: string }>(
      'SELECT at, actor, action, changes FROM known_issue_audit WHERE issue_id = $1 ORDER BY id', [id])
    return rows.map(row => ({ ...row, changes: JSON.parse(row.changes) }))
  }

  /** Where the issue matched, per series, version and machine, in version order. */
  async matches (id: number): Promise<IssueMatchRow[]> {
    // s.id grouped too: PostgreSQL takes a column as grouped only through its own table's key
    const { rows } = await this.pool.query<IssueMatchRow>(`
      SELECT v.series_id AS "seriesId", s.name AS series, v.label AS version, m.name AS machine,
        count(*) AS results, count(DISTINCT k.run_id) AS runs, max(k.run_id) AS "lastRunId"
      FROM known_issue_matches k JOIN runs ru ON ru.id = k.run_id JOIN versions v ON v.id = ru.version_id
      JOIN series s ON s.id = v.series_id JOIN machines m ON m.id = ru.machine_id
      WHERE k.issue_id = $1
      GROUP BY v.id, m.id, s.id ORDER BY s.name, v.sort_key, v.id, m.name`, [id])
    return rows
  }

  /**
   * Series and machines where the issue matched in an earlier version but not in the newest one
   * the machine ran, and every case it matched there now passes: "perhaps fixed". Never for an
   * intermittent issue.
   */
  async perhapsFixed (id: number): Promise<PerhapsFixed[]> {
    // an intermittent failure that passed once is not a fix
    if ((await this.get(id))?.intermittent !== false) return []
    // the label of the last matched version: of two labels with one sort key, the first by name,
    // where SQLite's LIMIT 1 took whichever it met first
    const { rows } = await this.pool.query<PerhapsFixed>(`
      WITH matched AS (
        SELECT DISTINCT v.series_id, ru.machine_id, r.case_id, v.sort_key, v.label
        FROM known_issue_matches k JOIN runs ru ON ru.id = k.run_id JOIN versions v ON v.id = ru.version_id
        JOIN results r ON r.run_id = k.run_id AND r.seq = k.seq
        WHERE k.issue_id = $1),
      places AS (SELECT series_id, machine_id, max(sort_key) AS last_matched_key FROM matched GROUP BY series_id, machine_id),
      newest AS (
        SELECT p.series_id, p.machine_id, p.last_matched_key,
          (SELECT v.id FROM versions v JOIN runs ru ON ru.version_id = v.id AND ru.machine_id = p.machine_id
           WHERE v.series_id = p.series_id ORDER BY v.sort_key DESC, v.id DESC LIMIT 1) AS version_id
        FROM places p)
      SELECT n.series_id AS "seriesId", s.name AS series, m.name AS machine, v.label AS version,
        (SELECT label FROM matched x WHERE x.series_id = n.series_id AND x.machine_id = n.machine_id AND x.sort_key = n.last_matched_key
         ORDER BY label LIMIT 1) AS "lastMatchedVersion"
      FROM newest n JOIN versions v ON v.id = n.version_id JOIN series s ON s.id = n.series_id JOIN machines m ON m.id = n.machine_id
      WHERE v.sort_key > n.last_matched_key
        AND NOT EXISTS (
          SELECT 1 FROM matched x WHERE x.series_id = n.series_id AND x.machine_id = n.machine_id
            AND NOT EXISTS (SELECT 1 FROM case_stats cs WHERE cs.version_id = n.version_id AND cs.machine_id = n.machine_id AND cs.case_id = x.case_id
              AND ${PASSED_SQL} > 0 AND ${FAILED_SQL} = 0))
      ORDER BY s.name, m.name`, [id])
    return rows
  }

  /**
   * The active known issues that matched a run's results, for the KCIDB export (export/kcidb.ts):
   * by each result's names, with each issue's KCIDB version (its changes since it was recorded).
   */
  async exportedMatches (runId: number): Promise<RunIssueMatches | undefined> {
    const { rows } = await this.pool.query<{ collection: string, test: string, path: string, issue_id: number }>(`
      SELECT c.collection, c.test, c.path, k.issue_id FROM known_issue_matches k
      JOIN known_issues i ON i.id = k.issue_id AND i.resolved_at IS NULL
      JOIN results r ON r.run_id = k.run_id AND r.seq = k.seq JOIN cases c ON c.id = r.case_id
      WHERE k.run_id = $1 ORDER BY k.seq, k.issue_id`, [runId])
    if (rows.length === 0) return undefined
    const byNames = new Map<string, number[]>()
    for (const row of rows) {
      const key = namesKey([row.collection, row.test, ...JSON.parse(row.path) as string[]])
      byNames.set(key, [...(byNames.get(key) ?? []), row.issue_id])
    }
    const ids = [...new Set(rows.map(row => row.issue_id))]
    const issues = await this.pool.query<IssueRow & { changes: number }>(`
      SELECT i.*, (SELECT count(*) - 1 FROM known_issue_audit a WHERE a.issue_id = i.id) AS changes
      FROM known_issues i WHERE i.id = ANY ($1::bigint[]) ORDER BY i.id`, [ids])
    return { byNames, issues: issues.rows.map(row => ({ ...refOf(row), testGlob: row.test_glob, version: row.changes })) }
  }

  /**
   * Creates an issue and matches it against every stored result; `match: false` leaves the
   * matching to the caller (rematchSteps), which a server runs between its event loop's turns.
   */
  async create (definition: IssueDefinition, actor: string, options: { match?: boolean } = {}): Promise<StoredIssue> {
    const now = this.clock().toISOString()
    const id = await inTransaction(this.pool, async client => {
      const { rows } = await client.query<{ id: number }>(`
        INSERT INTO known_issues (${ISSUE_COLUMNS.join(', ')}, created_at, created_by, updated_at)
        VALUES (${ISSUE_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')}, $${ISSUE_COLUMNS.length + 1}, $${ISSUE_COLUMNS.length + 2}, $${ISSUE_COLUMNS.length + 3})
        RETURNING id`, [...columnsOf(definition), now, actor, now])
      const id = rows[0]!.id
      await insertAudit(client, id, now, actor, 'create', diff(null, definition))
      await bumpRevision(client)
      await bumpWriteCounter(client)
      return id
    })
    if (options.match !== false) await this.rematch(id)
    return (await this.get(id))!
  }

  /**
   * Edits an issue; a changed matcher or scope matches it again over every stored result (or, with
   * `match: false`, says so in `rematch` for the caller to do). Null for an unknown id.
   */
  async update (id: number, patch: IssuePatch, actor: string, options: { match?: boolean } = {}): Promise<{ issue: StoredIssue, rematch: boolean } | null> {
    const now = this.clock().toISOString()
    // the issue as it stands when its row is held: an edit made meanwhile on another node is what this one changes
    const edited = await inTransaction(this.pool, async client => {
      const row = await issueRow(client, id, { lock: true })
      if (row === undefined) return null
      const before = issueOf(row)
      const after: IssueDefinition = {
        title: patch.title ?? before.title,
        url: patch.url === undefined ? before.url : patch.url,
        culprit: patch.culprit ?? before.culprit,
        intermittent: patch.intermittent ?? before.intermittent,
        matcher: { ...before.matcher, ...patch.matcher },
        scope: { ...before.scope, ...patch.scope },
      }
      const changes = diff(definitionOf(before), after)
      if (Object.keys(changes).length === 0) return { before, changes }
      await client.query(`
        UPDATE known_issues SET ${ISSUE_COLUMNS.map((column, i) => `${column} = $${i + 1}`).join(', ')}, updated_at = $${ISSUE_COLUMNS.length + 1},
          generation = generation + 1 WHERE id = $${ISSUE_COLUMNS.length + 2}`, [...columnsOf(after), now, id])
      await insertAudit(client, id, now, actor, 'edit', changes)
      await bumpRevision(client)
      await bumpWriteCounter(client)
      return { before, changes }
    })
    if (edited === null) return null
    if (Object.keys(edited.changes).length === 0) return { issue: edited.before, rematch: false }
    const rematch = Object.keys(edited.changes).some(field => field.startsWith('matcher.') || field.startsWith('scope.'))
    if (rematch && options.match !== false) await this.rematch(id)
    return { issue: (await this.get(id))!, rematch: rematch && options.match === false }
  }

  /**
   * Resolves (active: false) or reopens an issue. A resolved issue keeps its matches and triages
   * nothing; a reopened one is matched again (ingest skipped it meanwhile), unless `match: false`.
   */
  async setActive (id: number, active: boolean, actor: string, options: { match?: boolean } = {}): Promise<StoredIssue | null> {
    const now = this.clock().toISOString()
    const changed = await inTransaction(this.pool, async client => {
      const row = await issueRow(client, id, { lock: true })
      if (row === undefined) return null
      const before = issueOf(row)
      if ((before.resolvedAt === null) === active) return { before, changed: false }
      await client.query('UPDATE known_issues SET resolved_at = $1, updated_at = $2, generation = generation + 1 WHERE id = $3', [active ? null : now, now, id])
      await insertAudit(client, id, now, actor, active ? 'reopen' : 'resolve', { resolvedAt: { from: before.resolvedAt, to: active ? null : now } })
      await bumpRevision(client)
      await bumpWriteCounter(client)
      return { before, changed: true }
    })
    if (changed === null) return null
    if (!changed.changed) return changed.before
    // while it was resolved, ingest did not match it: catch up over what arrived meanwhile
    if (active && options.match !== false) await this.rematch(id)
    return this.get(id)
  }

  /**
   * An admin merged or renamed a series (`series`, by id) or a machine (`machines`, by name): every
   * issue scoped to `from` is scoped to `to` instead, an edit audited as `actor`'s. Inside the
   * caller's transaction (`db`). Returns the issues scoped to either, whose matches the caller
   * renews (rematch) once the transaction is committed. A rename (`merge: false`) brings no result
   * into any scope: its issues need no new matching.
   */
  async renameInScopes (db: pg.PoolClient, field: 'series' | 'machines', from: number | string, to: number | string, actor: string,
    options: { merge?: boolean } = {}): Promise<number[]> {
    const now = this.clock().toISOString()
    const affected: number[] = []
    // only the issues whose scope names either, held until the caller commits: an edit of such a
    // scope on another node meanwhile waits, and then edits the renamed scope
    const { rows } = await db.query<{ id: number, scope: string }>(`
      SELECT id, CASE WHEN $1 = 'series' THEN series ELSE machines END AS scope FROM known_issues
      WHERE (CASE WHEN $1 = 'series' THEN series ELSE machines END)::jsonb @> ANY (ARRAY[$2::jsonb, $3::jsonb])
      ORDER BY id FOR UPDATE`, [field, JSON.stringify([from]), JSON.stringify([to])])
    for (const row of rows) {
      const scope = JSON.parse(row.scope) as Array<number | string>
      if (!scope.includes(from) && !scope.includes(to)) continue
      affected.push(row.id)
      if (!scope.includes(from)) continue
      const renamed = [...new Set(scope.map(item => item === from ? to : item))]
      // a scope a merge widened is a change like an edit's: the issue is pending until it is matched again
      await db.query(`UPDATE known_issues SET series = CASE WHEN $1 = 'series' THEN $2 ELSE series END,
        machines = CASE WHEN $1 = 'machines' THEN $2 ELSE machines END, updated_at = $3, generation = generation + $4 WHERE id = $5`,
      [field, JSON.stringify(renamed), now, options.merge === false ? 0 : 1, row.id])
      await insertAudit(db, row.id, now, actor, 'edit', { [`scope.${field}`]: { from: scope, to: renamed } })
    }
    if (affected.length > 0) {
      await bumpRevision(db)
      await bumpWriteCounter(db)
    }
    return affected
  }

  /**
   * Matches the active issues again against runs that moved (a version merged into another, so a
   * version range scopes them differently). In the caller's transaction (`db`). A resolved issue's
   * matches stay as they were: its history.
   */
  async matchRunsAgain (db: pg.PoolClient, runIds: readonly number[]): Promise<void> {
    for (const runId of runIds) {
      const { rows: [run] } = await db.query<{ seriesId: number, versionLabel: string, machine: string, arch: string | null, flags: string, kernel: string | null }>(`
        SELECT v.series_id AS "seriesId", v.label AS "versionLabel", m.name AS machine, ru.arch, ru.flags, ru.kernel
        FROM runs ru JOIN versions v ON v.id = ru.version_id JOIN machines m ON m.id = ru.machine_id WHERE ru.id = $1`, [runId])
      if (run === undefined) continue
      await db.query('DELETE FROM known_issue_matches WHERE run_id = $1 AND issue_id IN (SELECT id FROM known_issues WHERE resolved_at IS NULL)', [runId])
      const candidates = await triageOfRun(db, runId)
      if (candidates.length === 0) continue
      if (this.matchRun === undefined) throw new Error('PostgresIssueStore: matching moved runs again needs the ingest-time matcher (options.matchRun)')
      const { flags, ...context } = run
      await this.matchRun(db, runId, { ...context, cpuFlags: splitList(flags) }, candidates)
    }
  }

  /** Matches one issue again over every stored result, in short transactions. Returns the results matched. */
  async rematch (id: number): Promise<number> {
    let matched = 0
    for await (const step of this.rematchSteps(id)) matched = step
    return matched
  }

  /**
   * The same in steps (one short write transaction each), yielding the running count between them.
   * Every change of an issue moves its generation; a rematch whose issue changed under it stops,
   * and the newer one does the work. Each step holds the issue's row (FOR SHARE) while it writes:
   * an edit on another node waits for the step and then moves the generation, so that no step of
   * an old matcher commits after the new rematch deleted the old matches. When the last step ran,
   * the issue's matches are of its current generation; until then the issue is pending
   * (pendingRematches), also after a crash.
   */
  async * rematchSteps (id: number): AsyncGenerator<number> {
    const row = await issueRow(this.pool, id)
    if (row === undefined) return
    const generation = row.generation
    const issue = issueOf(row)
    // a resolved issue keeps the matches it had, as its history; reopening matches it again
    if (issue.resolvedAt !== null) return
    const started = await this.step(id, generation, async client => {
      await client.query('DELETE FROM known_issue_matches WHERE issue_id = $1', [id])
      return 0
    })
    if (started === null) return
    const compiled = compileIssue(id, issue, versionSortKey)
    // the cases whose path (or an ancestor's) the glob matches: only their results can match; a
    // page of cases at a time, in id order, as SQLite walks them
    const cases: number[] = []
    for (let after = 0; ;) {
      const { rows } = await this.pool.query<{ id: number, collection: string, test: string, path: string }>(
        'SELECT id, collection, test, path FROM cases WHERE id > $1 ORDER BY id LIMIT $2', [after, CASES_SCANNED_PER_STEP])
      for (const row of rows) if (pathMatches(compiled, testPathsOf(row.collection, row.test, JSON.parse(row.path) as string[]))) cases.push(row.id)
      // a turn of the event loop after each page, and after the last: the first step of matching
      // comes after one, as SQLite's does on a store of more cases than a page
      yield 0
      if (rows.length < CASES_SCANNED_PER_STEP) break
      after = rows.at(-1)!.id
    }
    // sum() of an integer column is a bigint here: cast so that it comes back a number
    const { rows: counts } = await this.pool.query<{ id: number, results: number }>(`
      SELECT j.id, coalesce((SELECT sum(total) FROM case_stats s WHERE s.case_id = j.id), 0)::bigint AS results
      FROM unnest($1::bigint[]) WITH ORDINALITY AS j (id, n) ORDER BY j.n`, [cases])
    let matched = 0
    for (const batch of resultBatches(counts.map(count => [count.id, count.results]))) {
      const stepMatched = await this.step(id, generation, async client => {
        const { rows: candidates } = await client.query<RetroRow>(`
          SELECT r.run_id, r.seq, c.collection, c.test, c.path, r.status, r.exit_code, r.reason, r.line_from, r.line_to,
            CASE WHEN r.flags <> '' AND ${TROUBLED_RESULT_SQL} THEN 1 ELSE 0 END AS troubled,
            v.series_id, v.sort_key, m.name AS machine, ru.arch, ru.flags, ru.kernel
          FROM unnest($1::bigint[]) AS j (id) JOIN cases c ON c.id = j.id
          JOIN results r ON r.case_id = c.id
          JOIN runs ru ON ru.id = r.run_id JOIN versions v ON v.id = ru.version_id JOIN machines m ON m.id = ru.machine_id
          WHERE r.status IN (${FAILING_STATUS_LIST_SQL}) OR (r.flags <> '' AND ${TROUBLED_RESULT_SQL})`, [batch])
        const runIds: number[] = []
        const seqs: number[] = []
        for (const row of candidates) {
          const where: Where = { seriesId: row.series_id, versionSortKey: row.sort_key, machine: row.machine, arch: row.arch, cpuFlags: splitList(row.flags), kernel: row.kernel }
          if (await this.explains(client, compiled, row.run_id, triageResultOf(row), where)) {
            runIds.push(row.run_id)
            seqs.push(row.seq)
          }
        }
        if (runIds.length > 0) {
          await client.query(`
            INSERT INTO known_issue_matches (run_id, seq, issue_id) SELECT run_id, seq, $3 FROM unnest($1::bigint[], $2::integer[]) AS u (run_id, seq)
            ON CONFLICT DO NOTHING`, [runIds, seqs, id])
        }
        return runIds.length
      })
      if (stepMatched === null) return
      // counted once the step committed: a step run again (inTransaction) counts its matches once
      matched += stepMatched
      yield matched
    }
    // only if the issue is still of this generation: a newer rematch records its own
    await retryingConflicts(() => this.pool.query('UPDATE known_issues SET matched_generation = $1 WHERE id = $2 AND generation = $1', [generation, id]))
    yield matched
  }

  /** Active issues whose matching was interrupted (a crash, a restart mid-rematch): a server catches them up at start. */
  async pendingRematches (): Promise<number[]> {
    const { rows } = await this.pool.query<{ id: number }>('SELECT id FROM known_issues WHERE resolved_at IS NULL AND matched_generation < generation ORDER BY id')
    return rows.map(row => row.id)
  }

  /**
   * One step of a rematch: `body` in a transaction that holds the issue's row and runs only while
   * the issue is of `generation`, and what it returns (the results it matched). Null when the issue
   * is not of `generation` (changed, or deleted): the rematch stops.
   */
  private async step (id: number, generation: number, body: (client: pg.PoolClient) => Promise<number>): Promise<number | null> {
    return inTransaction(this.pool, async client => {
      const { rows } = await client.query<{ generation: number }>('SELECT generation FROM known_issues WHERE id = $1 FOR SHARE', [id])
      if (rows[0]?.generation !== generation) return null
      // before the step reads anything: an upload being stored holds this row from its last
      // statements to its commit (run-store.ts store), so the step waits for it and then sees its
      // results, or the upload, committing after, sees this issue's change and matches itself again
      await bumpWriteCounter(client)
      return body(client)
    })
  }

  /**
   * Whether the issue matches a result. The domain's rule asks for log lines synchronously, and the
   * log is read from the database: tried first without them, and only when the rule asked (all
   * else matched, the issue has a log regex) tried again with the lines read.
   */
  private async explains (q: Queryable, issue: CompiledIssue, runId: number, result: TriageResult, where: Where): Promise<boolean> {
    let asked = false
    if (issueMatches(issue, candidateOf(result, where, () => { asked = true; return [] }))) return true
    if (!asked) return false
    // on the step's own connection: a step waiting for a second one of the pool could wait forever
    const lines = await this.readLog(runId, result.lines[0], result.lines[1], q)
    return issueMatches(issue, candidateOf(result, where, () => lines))
  }
}

async function issueRow (db: Queryable, id: number, options: { lock?: boolean } = {}): Promise<IssueRow | undefined> {
  const { rows } = await db.query<IssueRow>(`SELECT * FROM known_issues WHERE id = $1${options.lock ? ' FOR UPDATE' : ''}`, [id])
  return rows[0]
}

async function insertAudit (db: Queryable, issueId: number, at: string, actor: string, action: IssueAuditRow['action'], changes: IssueAuditRow['changes']): Promise<void> {
  await db.query('INSERT INTO known_issue_audit (issue_id, at, actor, action, changes) VALUES ($1, $2, $3, $4, $5)', [issueId, at, actor, action, JSON.stringify(changes)])
}

/** The revision the ingest-time matcher caches its compiled issues under (postgres/issue-matching.ts): moves with every issue change. */
async function bumpRevision (db: Queryable): Promise<void> {
  await db.query(`INSERT INTO store_state (key, value) VALUES ('known_issues_revision', 1)
    ON CONFLICT (key) DO UPDATE SET value = store_state.value + 1`)
}
