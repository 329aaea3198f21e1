import type { Flag, IncompleteReason, PlanRecord, Status, Summary, TestRecord, UnfinishedTest } from '../../ingest/index.ts'
import type { AuditAction, Culprit, IssueDefinition } from '../domain/known-issues.ts'
import type { PatchRecord, ReportState, SeriesPatch } from '../domain/patch-list.ts'
import type { SeriesMatchKind } from '../domain/series-identity.ts'
import type { CellTriage } from '../queries/verdict.ts'

/*
 * What the store takes and gives, whichever database holds it (store.ts): every backend returns
 * these shapes, and nothing outside server/storage/ sees a database row.
 */

/** What an uploader says about a run, already validated and normalized. */
export interface RunMetadata {
  series: string
  version: string
  machine: string
  arch: string | null
  cpu: string | null
  /** Confidential-computing and other machine flags: `sev`, `sev_snp`, `tdx`, ... */
  flags: string[]
  kernel: string | null
  commit: string | null
  jobUrl: string | null
  messageId: string | null
  baseCommit: string | null
  /** The checkout of the version: the tree it applies to and the hash of its patches. */
  treeName: string | null
  gitUrl: string | null
  patchsetHash: string | null
  startedAt: string | null
  /** b4's change-id of the series: what identifies it first (domain/series-identity.ts). */
  changeId: string | null
  /** Message-IDs of the cover letters of the series' earlier versions: the chain that identifies it next. */
  previousMessageIds: string[]
}

/** A chunk of the raw log, deflated, starting at a line boundary. */
export interface LogChunk {
  firstLine: number
  lineCount: number
  content: Buffer
}

export interface StoredLog {
  sha256: string
  bytes: number
  lines: number
  /**
   * In order; a chunk's content may be overwritten once the next chunk is taken, so copy what is
   * kept. Iterable again from the first chunk, not a one-shot iterator: a transaction that stores
   * them may run again (postgres/transaction.ts).
   */
  chunks: Iterable<LogChunk>
}

export interface ParsedRun {
  tests: TestRecord[]
  plans: PlanRecord[]
  unfinished: UnfinishedTest[]
  emptyStreamAtEnd?: number | null
  warnings: string[]
}

/** Whether a run finished (ingest/completeness.ts), as stored with it. */
export interface RunCompletenessView {
  complete: boolean
  reasons: IncompleteReason[]
  /** Tests its plans promised that never arrived. */
  notRun: number
  /** Collections whose stream stopped early. */
  incompleteCollections: string[]
}

export interface RunView {
  id: number
  series: { id: number, name: string }
  version: {
    id: number
    label: string
    messageId: string | null
    baseCommit: string | null
    treeName: string | null
    gitUrl: string | null
    patchsetHash: string | null
  }
  machine: { id: number, name: string, arch: string | null, cpu: string | null, flags: string[] }
  kernel: string | null
  commit: string | null
  arch: string | null
  cpu: string | null
  flags: string[]
  jobUrl: string | null
  startedAt: string | null
  createdAt: string
  contentSha256: string
  logBytes: number
  logLines: number
  summary: Summary
  warnings: string[]
  plans: PlanRecord[]
  completeness: RunCompletenessView
}

export interface IngestOutcome {
  runId: number
  created: boolean
  /** The series the run was stored in and what said so; null for a run stored before whose upload would make a new series now. */
  series: SeriesResolution | null
}

export interface LogSlice {
  from: number
  to: number
  totalLines: number
  lines: string[]
  /** The lines asked for came to more than the bytes allowed: the rest starts at nextFrom. */
  truncated: boolean
  nextFrom: number | null
}

/** The series an upload belongs to, and what said so. */
export interface SeriesResolution {
  id: number
  name: string
  match: SeriesMatchKind
}

export interface MachineRefRow { id: number, name: string }

// the trend queries' rows
export interface SeriesRef { id: number, name: string }
export interface VersionRow { id: number, label: string, messageId: string | null }
export interface MachineRef { id: number, name: string }
export interface CaseName { id: number, collection: string, test: string, path: string[] }
export interface SeriesRow extends SeriesRef { createdAt: string, versions: number, runs: number, machines: number, latestVersionId: number }
/** What else identifies a series: the titles it was uploaded under and its b4 change-ids (domain/series-identity.ts). */
export interface SeriesIdentity { names: string[], changeIds: string[] }
export interface VersionCounts {
  runs: number
  machines: number
  summary: Summary
  /** Tests the runs' plans promised that never ran. */
  notRun: number
  /** Runs that stopped early. */
  incompleteRuns: number
}
export interface TrendRow extends VersionCounts { versionId: number }
export interface ResultLink { runId: number, machine: string, status: Status, lines: [number, number] }
/** A result as compare shows it: where it is, and what it says about itself. */
export interface ResultDetail extends ResultLink {
  reason: string | null
  exitCode: number | null
  timeoutSeconds: number | null
  flags: Flag[]
  complete: boolean
  /** Active known issues that matched this result (storage/issue-store.ts). */
  knownIssues: number[]
}
export interface IssueRef { id: number, title: string, url: string | null, culprit: Culprit, intermittent: boolean, active: boolean }
/** A cell as triage reads it (queries/verdict.ts CellTriage), with where it is. */
export interface TriageCell extends CellTriage { versionId: number, machineId: number, caseId: number }
export interface CellCounts extends Summary {
  machines: number
  machineSet: number
  /** Results with kernel trouble or a false pass. */
  trouble: number
  /** Machines whose results here only failed, only passed, or both. */
  failingMachines: number
  passingMachines: number
  mixedMachines: number
  /** Failing or troubled results an active known issue matched (filled by queries/matrix.ts). */
  known: number
  /** Every failing and troubled result is explained by an active known issue (queries/matrix.ts). */
  explained: boolean
}
/** A cell below the version: one test or subtest on one machine. */
export interface MachineCase { machineId: number, caseId: number }
export interface CellSummary extends MachineCase { summary: Summary }
export interface CellResult extends MachineCase { result: ResultDetail }
export interface MatrixCellRow { caseId: number, versionId: number, counts: CellCounts }
/** A machine that ran a version: the unit every aggregate below the run is kept in. */
export interface VersionMachine { versionId: number, machineId: number, machine: string }
export interface PassRateRow { versionId: number, label: string, summary: Summary, notRun: number, incompleteRuns: number }
export interface CollectionRow { name: string, tests: number }
export interface MachineSeriesRow { machineId: number, seriesId: number, seriesName: string, label: string }
export interface OutcomeCell { caseId: number, machineId: number, versionId: number, total: number, passed: number, failed: number, skip: number }
export interface HistoryRow {
  series: SeriesRef
  version: VersionRow & { sortKey: number }
  machine: string
  runId: number
  kernel: string | null
  status: Status
  reason: string | null
  flags: Flag[]
  exitCode: number | null
  timeoutSeconds: number | null
  lines: [number, number]
  seq: number
  /** Active known issues that matched the result. */
  knownIssues: number[]
}
export interface MachineRow {
  id: number
  name: string
  arch: string | null
  cpu: string | null
  flags: string[]
  kernel: string | null
  runs: number
  firstSeenAt: string
  lastSeenAt: string
}
export interface VersionMachineRow extends VersionCounts { versionId: number, machine: string }
export interface TrendFilters { machineId: number | null, arch: string | null }
export interface HistoryFilters { seriesId: number | null, machineId: number | null }
/** Where a history page starts: after this result in history order. */
export type HistoryKey = [seriesId: number, sortKey: number, versionId: number, machine: string, runId: number, seq: number]

// known issues
export interface StoredIssue extends IssueDefinition {
  id: number
  createdAt: string
  createdBy: string
  updatedAt: string
  resolvedAt: string | null
}


/** A known issue as an export names it, with its version: how many times it changed since it was recorded. */
export interface MatchedIssue extends IssueRef {
  testGlob: string
  version: number
}

/** The active known issues that matched a run's results, by each result's names (domain/known-issues.ts namesKey). */
export interface RunIssueMatches {
  byNames: ReadonlyMap<string, readonly number[]>
  issues: readonly MatchedIssue[]
}

export interface IssueListRow extends StoredIssue {
  /** Results it matched, over every stored run. */
  matchedResults: number
  matchedRuns: number
}

export interface IssueAuditRow { at: string, actor: string, action: AuditAction, changes: Record<string, { from: unknown, to: unknown }> }

export interface IssueMatchRow {
  seriesId: number
  series: string
  version: string
  machine: string
  results: number
  runs: number
  /** The newest run of the series on that machine that has a match. */
  lastRunId: number
}

/** Where a (series, machine) the issue matched on stands in its newest version there. */
export interface PerhapsFixed { seriesId: number, series: string, machine: string, version: string, lastMatchedVersion: string }

export type IssuePatch = Partial<Omit<IssueDefinition, 'matcher' | 'scope'> & { matcher: Partial<IssueDefinition['matcher']>, scope: Partial<IssueDefinition['scope']> }>

/**
 * A result of a run being stored that needs triage (a failure, or kernel trouble), as ingest walks
 * it: the results half of every candidate. Reading them back from the table cost a third of the
 * matching.
 */
export interface TriageResult {
  seq: number
  collection: string
  test: string
  /** The subtest names under the test; empty for the test itself. */
  path: readonly string[]
  status: Status
  exitCode: number | null
  reason: string | null
  troubled: boolean
  lines: readonly [number, number]
}

/** What ingest knows about the run it is storing: the scope half of every candidate. */
export interface RunContext {
  seriesId: number
  versionLabel: string
  machine: string
  arch: string | null
  cpuFlags: readonly string[]
  kernel: string | null
}

// tokens
export const TOKEN_SCOPES = ['upload', 'admin'] as const
export type TokenScope = (typeof TOKEN_SCOPES)[number]

export interface TokenInfo {
  id: number
  name: string
  scopes: TokenScope[]
  createdAt: string
  lastUsedAt: string | null
  revokedAt: string | null
}

// the series' patches
export interface VersionPatchList {
  versionId: number
  /** Over the patch-ids in order: two lists with the same digest are the same patches. */
  digest: string
  /** The run whose report brought the list; null once that run is deleted. */
  runId: number | null
  createdAt: string
  patches: SeriesPatch[]
}

export interface RunPatchReport {
  runId: number
  state: ReportState
  patches: number
  /** The run's list, when it differs from its version's. */
  differing: PatchRecord[] | null
  createdAt: string
}

// an admin's writes
export interface RemovedRun {
  id: number
  series: string
  version: string
  machine: string
  createdAt: string
  logBytes: number
}

export interface PruneReport {
  removed: RemovedRun[]
  kept: number
  logBytes: number
}

export interface NamedRef { id: number, name: string }

/** Why a rename or merge was not made: nothing is written then. */
export type IdentityRefusal =
  | { refused: 'same' }
  | { refused: 'name_taken', by: NamedRef }

export interface SeriesMergeReport {
  from: NamedRef
  into: NamedRef
  /** Versions of `from` that `into` lacked, moved as they were. */
  versionsMoved: string[]
  /** Versions both had: their runs and aggregates folded into `into`'s. */
  versionsMerged: string[]
  runs: number
  /** Known issues whose scope named either series: matched again. */
  issuesRematched: number[]
}

export interface MachineMergeReport {
  from: NamedRef
  into: NamedRef
  runs: number
  issuesRematched: number[]
}

// what the runs' readers take
/** A page of a run's tests (RunStore.getRunTestsPage): `nextCursor` is where the next page starts, or null. */
export interface RunTestsPage {
  tests: TestRecord[]
  nextCursor: number | null
  /** The last test was cut at the page's bound on results. */
  truncated: boolean
}

/** Lines `from`..`to` (1-based, inclusive) of one run's raw log. */
export type LogLineReader = (from: number, to: number) => string[]

/**
 * A stored run as the exporters (server/export/) take it: its view, its results, a reader of its
 * raw log's lines and the active known issues that matched it. The reader is synchronous because
 * the exporters are generators written a piece at a time; a backend whose reads are asynchronous
 * reads ahead what it answers.
 */
export interface RunExport {
  run: RunView
  tests: TestRecord[]
  lines: LogLineReader
  /** The active known issues that matched its results, by the result's names (collection, test, subtests). */
  knownIssues?: RunIssueMatches
}

/** What /healthz says of the store. */
export interface StoreHealth {
  /** Which database holds the store: an embedded SQLite file, or a PostgreSQL server that several nodes may share. */
  backend: 'sqlite' | 'postgres'
  /** The number of writes committed so far. */
  writeCounter: number
}
