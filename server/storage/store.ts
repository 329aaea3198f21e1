import { fileURLToPath } from 'node:url'
import type { Summary, TestRecord } from '../../ingest/index.ts'
import type { IssueDefinition } from '../domain/known-issues.ts'
import type { PatchRecord } from '../domain/patch-list.ts'
import type {
  CaseName, CellCounts, CellResult, CellSummary, CollectionRow, HistoryFilters, HistoryKey, HistoryRow, IdentityRefusal, IngestOutcome, IssueAuditRow,
  IssueListRow, IssueMatchRow, IssuePatch, IssueRef, LogSlice, MachineCase, MachineMergeReport, MachineRef, MachineRow, MachineSeriesRow,
  MatrixCellRow, NamedRef, OutcomeCell, ParsedRun, PassRateRow, PerhapsFixed, PruneReport, RemovedRun, ResultDetail, RunExport,
  RunMetadata, RunPatchReport, RunTestsPage, RunView, SeriesIdentity, SeriesMergeReport, SeriesRef, SeriesRow, StoredIssue,
  StoredLog, StoreHealth, TokenInfo, TokenScope, TrendFilters, TrendRow, TriageCell, VersionCounts, VersionMachine,
  VersionMachineRow, VersionPatchList, VersionRow,
} from './rows.ts'

/**
 * The one interface to stored results: the app, its services and queries, and every CLI command
 * use it and nothing else of server/storage/. Every method returns a promise, so that a backend
 * whose database is across a network (PostgreSQL) fits as well as the embedded SQLite one, which
 * keeps its synchronous transactions inside (sqlite/sqlite-store.ts). The rows are rows.ts'.
 */
export interface Store {
  readonly runs: StoreRuns
  readonly trends: StoreTrends
  readonly tokens: StoreTokens
  readonly issues: StoreIssues
  readonly patches: StorePatches
  readonly identity: StoreIdentity
  readonly admin: StoreAdmin
  readonly exports: StoreExports
  /**
   * The spool root of this store's servers on this host (services/upload-ingest.ts): a directory of
   * the temp dir named for the store, under which each server process spools in a directory of its own.
   */
  readonly spoolRoot: string
  /** Answers when the database does: /healthz. */
  health (): Promise<StoreHealth>
  /** Finishes the writes in progress, then closes the database. */
  close (): Promise<void>
}

/** Runs, their results and their raw logs. */
export interface StoreRuns {
  /**
   * Stores one run whole, or nothing, after every write queued before it; a server goes on
   * answering meanwhile. The same log with the same metadata again returns the run stored the first time.
   */
  ingest (meta: RunMetadata, parsed: ParsedRun, log: StoredLog): Promise<IngestOutcome>
  getRun (id: number): Promise<RunView | null>
  /** The run's tests as a tree, the same shape the parser produced. */
  getRunTests (id: number): Promise<TestRecord[]>
  /**
   * A page of the run's tests, from the test at result `cursor` on: at most `limit` tests and, as
   * a bound on a test with a runaway number of subtests, about `maxRows` results.
   */
  getRunTestsPage (id: number, cursor: number, limit: number, maxRows: number): Promise<RunTestsPage>
  /** Lines `from`..`to` (1-based, inclusive) of the raw log, clamped to the log; null for an unknown run. */
  getLogLines (id: number, from: number, to: number, caps?: { maxBytes?: number, maxLineBytes?: number }): Promise<LogSlice | null>
  /** The whole raw log, as it was uploaded. */
  readLog (id: number): AsyncIterable<Buffer>
  /** The number of writes committed so far: changes whenever anything a reader sees changes (ETags). */
  writeCounter (): Promise<number>
}

/** What the trend, compare, matrix, flaky and history queries read: aggregates, mostly. */
export interface StoreTrends {
  seriesById (id: number): Promise<SeriesRef | null>
  /** A series by its exact name, else by any title it was uploaded under, in any case and spacing. */
  seriesByName (name: string): Promise<SeriesRef | null>
  seriesIdentity (id: number): Promise<SeriesIdentity>
  /** The list's row of one series. */
  seriesRow (id: number): Promise<SeriesRow | null>
  /** Series newest first, below `beforeId` when given; with `search`, those one of whose names holds it. */
  listSeries (limit: number, beforeId: number | null, search?: string | null): Promise<SeriesRow[]>
  versionCounts (versionId: number): Promise<VersionCounts>
  /** A series' versions in version order (domain/version-label.ts). */
  versions (seriesId: number): Promise<VersionRow[]>
  /** A machine by its name, or by a name it had before an admin renamed or merged it. */
  machineByName (name: string): Promise<MachineRef | null>
  hasCollection (collection: string): Promise<boolean>
  trend (seriesId: number, filters: TrendFilters): Promise<TrendRow[]>
  trendOfCollection (seriesId: number, collection: string, filters: TrendFilters): Promise<TrendRow[]>
  /** The machines with runs of a version (of this architecture, when given), by name. */
  versionMachines (versionId: number, arch?: string | null): Promise<MachineRef[]>
  versionMachineCells (versionIds: number[], machineId: number | null, arch: string | null): Promise<VersionMachine[]>
  recentVersionCounts (seriesId: number, limit: number): Promise<PassRateRow[]>
  collections (seriesId: number): Promise<CollectionRow[]>
  /** The ids of every test and subtest of a collection that the series ran, ascending. */
  collectionCases (seriesId: number, collection: string): Promise<Uint32Array>
  machineSeries (machineIds: number[]): Promise<MachineSeriesRow[]>
  /** The outcome set (outcome-cells.ts) of each of these machines in a version. */
  outcomeSets (versionId: number, machineIds: number[]): Promise<Map<number, Uint32Array>>
  caseNames (caseIds: number[]): Promise<CaseName[]>
  /** Each cell's results in a version counted per status, in the order of `cells`; a cell without results is left out. */
  cellSummaries (versionId: number, cells: readonly MachineCase[]): Promise<CellSummary[]>
  /** Each result of the cells in a version, in the order of `cells`, then by machine name, run and place in the run. */
  cellResults (versionId: number, cells: readonly MachineCase[]): Promise<CellResult[]>
  failingCells (versionId: number): Promise<Array<{ caseId: number, machineId: number, machine: string }>>
  failureHistory (seriesId: number, caseId: number): Promise<{ version: string, machine: string, versions: number } | null>
  issueRefs (ids: readonly number[]): Promise<IssueRef[]>
  /** The cells of these versions triage can say something of, in (version, machine, case) order. */
  triageCells (versionIds: readonly number[]): Promise<TriageCell[]>
  finishedMachines (versionId: number): Promise<Set<number>>
  seriesTests (seriesId: number, collection: string | null, after: [string, string] | null, limit: number): Promise<Array<[string, string]>>
  casesOfTests (tests: Array<[string, string]>): Promise<CaseName[]>
  /**
   * The cells of a page's cases per version, summed over machines (or one machine, or the given
   * version and machine pairs); `machineSet` numbers a cell's machine ids, given comma-separated in no set order.
   */
  matrixCells (caseIds: number[], versionIds: number[], machineId: number | null, cells: VersionMachine[] | null,
    machineSet: (ids: string) => number): Promise<MatrixCellRow[]>
  outcomeCells (caseIds: number[], versionIds: number[]): Promise<OutcomeCell[]>
  findCase (collection: string, test: string, path: string[]): Promise<number | null>
  history (caseId: number, filters: HistoryFilters, after: HistoryKey | null, limit: number): Promise<HistoryRow[]>
  historyCounts (caseId: number, filters: HistoryFilters): Promise<Summary>
  listMachines (afterName: string | null, limit: number): Promise<MachineRow[]>
  versionMachineCounts (seriesId: number): Promise<VersionMachineRow[]>
}

export interface StoreTokens {
  /** Creates a token and returns it; this is the only time the whole token exists. */
  create (name: string, scopes: TokenScope[]): Promise<{ token: string, info: TokenInfo }>
  list (): Promise<TokenInfo[]>
  revoke (name: string): Promise<boolean>
  /** The live token a presented string names, or null; its use is recorded a few seconds later. */
  verify (presented: string): Promise<TokenInfo | null>
  /** Writes the uses recorded since the last flush now; returns how many. */
  flushLastUsed (): Promise<number>
}

/** A known issue's edit, and its resolution (active: false) or reopening (active: true). */
export type IssueChange = IssuePatch & { active?: boolean }

/** Known issues: each change matches the issue again over every stored result where it needs to. */
export interface StoreIssues {
  get (id: number): Promise<StoredIssue | null>
  list (options?: { active?: boolean }): Promise<IssueListRow[]>
  /** One issue with its match counts. */
  listed (id: number): Promise<IssueListRow | null>
  audit (id: number): Promise<IssueAuditRow[]>
  matches (id: number): Promise<IssueMatchRow[]>
  perhapsFixed (id: number): Promise<PerhapsFixed[]>
  /** Records an issue and matches it against every stored result. */
  create (definition: IssueDefinition, actor: string): Promise<StoredIssue>
  /** Edits, resolves or reopens an issue, audited as `actor`'s; null for an unknown id. */
  update (id: number, change: IssueChange, actor: string): Promise<StoredIssue | null>
  /** Matches an issue again over every stored result; returns the results matched. */
  rematch (id: number): Promise<number>
  /** Active issues whose matching was interrupted (a crash, a restart): a server catches them up at start. */
  pendingRematches (): Promise<number[]>
}

/** The series' patches per version (domain/patch-list.ts). */
export interface StorePatches {
  report (runId: number, versionId: number, patches: readonly PatchRecord[]): Promise<RunPatchReport>
  versionList (versionId: number): Promise<VersionPatchList | null>
  runReport (runId: number, versionDigest: string | null): Promise<RunPatchReport | null>
  differingRuns (versionId: number): Promise<number[]>
}

/** Renaming and merging series and machines (docs/series.md); a merge matches the known issues it rescopes again. */
export interface StoreIdentity {
  renameSeries (id: number, name: string): Promise<NamedRef | IdentityRefusal | null>
  mergeSeries (fromId: number, intoId: number, actor: string): Promise<SeriesMergeReport | IdentityRefusal | null>
  renameMachine (id: number, name: string, actor: string): Promise<NamedRef | IdentityRefusal | null>
  mergeMachines (fromId: number, intoId: number, actor: string): Promise<MachineMergeReport | IdentityRefusal | null>
}

/** An admin's writes; each keeps the aggregates equal to a recount of the results. */
export interface StoreAdmin {
  deleteRun (id: number): Promise<RemovedRun | null>
  /** Folds version `from` into version `into` of a series; null when either label is unknown. */
  mergeVersions (seriesId: number, from: string, into: string): Promise<number | null>
  /** Removes runs stored before `cutoff`, never the newest run of a version (of each machine, with `perMachine`). */
  prune (cutoff: Date, options?: { perMachine?: boolean, dryRun?: boolean }): Promise<PruneReport>
  /** A consistent copy of the whole store at `out`, checked once written; returns the runs it holds. */
  backup (out: string): Promise<{ runs: number }>
}

/** What the exports (server/export/) read. */
export interface StoreExports {
  /** A series by its id or, failing that, its exact name. */
  findSeries (idOrName: string): Promise<SeriesRef | null>
  hasVersion (seriesId: number, label: string): Promise<boolean>
  /** The run ids of a series, or of one of its versions, in version order then upload order. */
  runIds (seriesId: number, versionLabel?: string): Promise<number[]>
  /** A stored run as the exporters take it; null for an unknown run. */
  run (runId: number): Promise<RunExport | null>
  /**
   * Where a worker thread opens this store read-only (openStore) to build a big export off the
   * event loop; null when no other connection sees what this one does (an in-memory database).
   */
  workerLocation (): string | null
}

export interface StoreOptions {
  /** The clock of every timestamp the store writes. */
  clock?: () => Date
  /** Opened only to read: nothing is created or migrated. */
  readonly?: boolean
  /** How long a write waits for another process's write lock before failing, in ms. */
  writeWaitMs?: number
  /** Told of a failure of the store's own background work (recording tokens' last uses). */
  warn?: (err: unknown, message: string) => void
}

/**
 * Opens the store at `location`: a SQLite file's path, `:memory:`, a `sqlite:` or `file:` URL, or a
 * PostgreSQL database's `postgres://` or `postgresql://` URL (migrated at open). The backend is
 * chosen here and only here, by the location's scheme.
 */
export async function openStore (location: string, options: StoreOptions = {}): Promise<Store> {
  const backend = backendOf(location)
  if (backend.kind === 'postgres') {
    // loaded only now, as SQLite's below: a command that never opens a store never loads pg
    const { PostgresStore } = await import('./postgres/postgres-store.ts')
    try {
      return await PostgresStore.open(location, options)
    } catch (err) {
      // pg's messages name the host and the database, never the password; the URL is said redacted
      throw new StoreLocationError(`${redacted(location)}: ${(err as Error).message}`)
    }
  }
  // loaded only now: a command that never opens a store never loads the database driver
  const { SqliteStore } = await import('./sqlite/sqlite-store.ts')
  return new SqliteStore(backend.path, options)
}

/** A location openStore cannot open: said in one line, for the CLI and the server's start. */
export class StoreLocationError extends Error {}

type Backend = { kind: 'sqlite', path: string } | { kind: 'postgres' }

function backendOf (location: string): Backend {
  if (location === '') throw new StoreLocationError('the store location is empty: give a SQLite file path or a database URL')
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(location)?.[1]?.toLowerCase()
  // a one-letter scheme is a Windows drive (C:\...), a path
  if (scheme === undefined || scheme.length === 1 || location === ':memory:') return { kind: 'sqlite', path: location }
  if (scheme === 'postgres' || scheme === 'postgresql') return { kind: 'postgres' }
  if (scheme === 'sqlite' || scheme === 'file') return { kind: 'sqlite', path: sqlitePathOf(location, scheme) }
  throw new StoreLocationError(`${redacted(location)}: not a store location; give a SQLite file path, sqlite:PATH, file:PATH or postgres://...`)
}

/** `sqlite:PATH`, `sqlite://PATH`, `file:PATH` or `file:///PATH` as the path SQLite opens (`sqlite::memory:` is memory). */
function sqlitePathOf (location: string, scheme: string): string {
  const rest = location.slice(scheme.length + 1)
  const path = !rest.startsWith('//') ? rest : scheme === 'file' ? fileUrlPath(location) : rest.slice(2)
  if (path === '') throw new StoreLocationError(`${location}: names no file`)
  return path
}

function fileUrlPath (location: string): string {
  try {
    return fileURLToPath(location)
  } catch (err) {
    throw new StoreLocationError(`${location}: ${(err as Error).message}`)
  }
}

/** Query parameters of a database URL that hold a secret (libpq's and pg's names). */
const SECRET_PARAMETERS = ['password', 'sslpassword', 'sslkey']

/**
 * A URL's password never reaches a message or a log: the one in its userinfo, taken up to the last
 * `@` so that a password holding `@`, `/` or `?` is hidden whole (an `@` later in the URL hides
 * more, never less), and any given as a query parameter.
 */
export function redacted (location: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(location)?.[0]
  if (scheme === undefined) return location
  let rest = location.slice(scheme.length)
  const userEnd = rest.lastIndexOf('@')
  if (userEnd !== -1) {
    const colon = rest.indexOf(':')
    if (colon !== -1 && colon < userEnd) rest = `${rest.slice(0, colon)}:***${rest.slice(userEnd)}`
  }
  return scheme + rest.replace(new RegExp(`([?&](?:${SECRET_PARAMETERS.join('|')})=)[^&#]*`, 'gi'), '$1***')
}
