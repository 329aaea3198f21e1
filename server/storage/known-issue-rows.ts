import type { Status } from '../../ingest/index.ts'
import { testPathsOf, type Culprit, type IssueDefinition, type MatchCandidate } from '../domain/known-issues.ts'
import type { IssueRef, StoredIssue, TriageResult } from './rows.ts'

/**
 * A known issue as both backends store it (one row of known_issues, the same columns in each) and
 * read it back, and what an edit changed: dialect-free, for sqlite/issue-store.ts and
 * postgres/issue-store.ts alike.
 */

export interface IssueRow {
  id: number
  title: string
  url: string | null
  culprit: Culprit
  intermittent: number
  test_glob: string
  reason_regex: string | null
  log_regex: string | null
  exit_code: number | null
  statuses: string
  kernel_trouble: number
  series: string
  machines: string
  arch: string | null
  cpu_flags: string
  kernel_glob: string | null
  versions_from: string | null
  versions_to: string | null
  created_at: string
  created_by: string
  updated_at: string
  resolved_at: string | null
  generation: number
  matched_generation: number
}

/** A failing or troubled result as the matching reads it back (runs' candidates, an issue's rematch). */
export interface CandidateRow {
  run_id: number
  seq: number
  collection: string
  test: string
  path: string
  status: Status
  exit_code: number | null
  reason: string | null
  troubled: number
  line_from: number
  line_to: number
}

/**
 * Results read per retroactive step (a case with more is a step of its own): a step is one short
 * write transaction, and a server answers other requests between steps.
 */
export const REMATCH_RESULTS_PER_STEP = 20_000
/** Cases whose path is tried against the glob between two turns of the event loop. */
export const CASES_SCANNED_PER_STEP = 5_000

/** Cases (with their stored result counts) in batches of about REMATCH_RESULTS_PER_STEP results. */
export function * resultBatches (cases: ReadonlyArray<[caseId: number, results: number]>): Generator<number[]> {
  let batch: number[] = []
  let results = 0
  for (const [caseId, count] of cases) {
    if (batch.length > 0 && results + count > REMATCH_RESULTS_PER_STEP) {
      yield batch
      batch = []
      results = 0
    }
    batch.push(caseId)
    results += count
  }
  if (batch.length > 0) yield batch
}

/** A candidate as a rematch reads it: with where its run was stored. */
export interface RetroRow extends CandidateRow {
  series_id: number
  sort_key: number
  machine: string
  arch: string | null
  flags: string
  kernel: string | null
}

/** The columns an issue's definition is written to, in the order of ISSUE_COLUMNS. */
export const ISSUE_COLUMNS = ['title', 'url', 'culprit', 'intermittent', 'test_glob', 'reason_regex', 'log_regex', 'exit_code', 'statuses',
  'kernel_trouble', 'series', 'machines', 'arch', 'cpu_flags', 'kernel_glob', 'versions_from', 'versions_to'] as const

export function splitList (text: string): string[] {
  return text === '' ? [] : text.split(',')
}

export function triageResultOf (row: CandidateRow): TriageResult {
  return {
    seq: row.seq,
    collection: row.collection,
    test: row.test,
    path: JSON.parse(row.path) as string[],
    status: row.status,
    exitCode: row.exit_code,
    reason: row.reason,
    troubled: row.troubled === 1,
    lines: [row.line_from, row.line_to],
  }
}

/** A match candidate whose log lines come from `logLines` (read only when an issue's log regex asks). */
export function candidateOf (result: TriageResult, where: Omit<MatchCandidate, 'path' | 'ancestors' | 'status' | 'troubled' | 'reason' | 'exitCode' | 'logLines'>,
  logLines: () => readonly string[]): MatchCandidate {
  const ancestors = testPathsOf(result.collection, result.test, result.path)
  return {
    path: ancestors[0]!,
    ancestors,
    status: result.status,
    troubled: result.troubled,
    reason: result.reason,
    exitCode: result.exitCode,
    ...where,
    logLines,
  }
}

export function issueOf (row: IssueRow): StoredIssue {
  return {
    id: row.id,
    title: row.title,
    url: row.url,
    culprit: row.culprit,
    intermittent: row.intermittent === 1,
    matcher: {
      testGlob: row.test_glob,
      reasonRegex: row.reason_regex,
      logRegex: row.log_regex,
      exitCode: row.exit_code,
      statuses: splitList(row.statuses) as Status[],
      kernelTrouble: row.kernel_trouble === 1,
    },
    scope: {
      series: JSON.parse(row.series) as number[],
      machines: JSON.parse(row.machines) as string[],
      arch: row.arch,
      cpuFlags: splitList(row.cpu_flags),
      kernelGlob: row.kernel_glob,
      versionsFrom: row.versions_from,
      versionsTo: row.versions_to,
    },
    createdAt: row.created_at,
    createdBy: row.created_by,
    updatedAt: row.updated_at,
    resolvedAt: row.resolved_at,
  }
}

export function refOf (row: IssueRow): IssueRef {
  return { id: row.id, title: row.title, url: row.url, culprit: row.culprit, intermittent: row.intermittent === 1, active: row.resolved_at === null }
}

export function definitionOf (issue: StoredIssue): IssueDefinition {
  const { title, url, culprit, intermittent, matcher, scope } = issue
  return { title, url, culprit, intermittent, matcher, scope }
}

/** The known_issues columns a definition is written to, by name (SQLite binds them by name). */
export function issueColumns (definition: IssueDefinition): Record<(typeof ISSUE_COLUMNS)[number], unknown> {
  const { matcher, scope } = definition
  return {
    title: definition.title,
    url: definition.url,
    culprit: definition.culprit,
    intermittent: definition.intermittent ? 1 : 0,
    test_glob: matcher.testGlob,
    reason_regex: matcher.reasonRegex,
    log_regex: matcher.logRegex,
    exit_code: matcher.exitCode,
    statuses: matcher.statuses.join(','),
    kernel_trouble: matcher.kernelTrouble ? 1 : 0,
    series: JSON.stringify(scope.series),
    machines: JSON.stringify(scope.machines),
    arch: scope.arch,
    cpu_flags: scope.cpuFlags.join(','),
    kernel_glob: scope.kernelGlob,
    versions_from: scope.versionsFrom,
    versions_to: scope.versionsTo,
  }
}

/** The values of ISSUE_COLUMNS for a definition, in that order (PostgreSQL binds them by position). */
export function columnsOf (definition: IssueDefinition): unknown[] {
  const columns = issueColumns(definition)
  return ISSUE_COLUMNS.map(column => columns[column])
}

/** Field by field (`matcher.testGlob`, `scope.machines`), what changed: the audit's record. */
export function diff (before: IssueDefinition | null, after: IssueDefinition): Record<string, { from: unknown, to: unknown }> {
  const flat = (definition: IssueDefinition | null): Record<string, unknown> => definition === null ? {} : {
    title: definition.title,
    url: definition.url,
    culprit: definition.culprit,
    intermittent: definition.intermittent,
    ...Object.fromEntries(Object.entries(definition.matcher).map(([key, value]) => [`matcher.${key}`, value])),
    ...Object.fromEntries(Object.entries(definition.scope).map(([key, value]) => [`scope.${key}`, value])),
  }
  const from = flat(before)
  const to = flat(after)
  const changes: Record<string, { from: unknown, to: unknown }> = {}
  for (const key of Object.keys(to)) {
    if (JSON.stringify(from[key] ?? null) !== JSON.stringify(to[key] ?? null)) changes[key] = { from: from[key] ?? null, to: to[key] }
  }
  return changes
}
