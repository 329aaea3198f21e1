import { createHash } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { inflateSync } from 'node:zlib'
import type { Database, Statement } from 'better-sqlite3'
import { runCompleteness, STATUSES, summarize, type Flag, type Status, type SubtestRecord, type Summary, type TestRecord } from '../../ingest/index.ts'
import { needsTriage } from '../domain/known-issues.ts'
import { versionSortKey } from '../domain/version-label.ts'
import { TROUBLE_FLAGS } from '../queries/verdict.ts'
import { IdentityStore } from './identity-store.ts'
import { IssueStore, type TriageResult } from './issue-store.ts'
import { INFRASTRUCTURE_RESULT_SQL, OUTCOME_CELL_SQL, TROUBLED_RESULT_SQL } from './outcomes.ts'
import type { IngestOutcome, LogSlice, ParsedRun, RunMetadata, RunView, StoredLog } from './types.ts'

interface RunRow {
  id: number
  series_id: number
  series_name: string
  version_id: number
  version_label: string
  message_id: string | null
  base_commit: string | null
  tree_name: string | null
  git_url: string | null
  patchset_hash: string | null
  machine_id: number
  machine_name: string
  machine_arch: string | null
  machine_cpu: string | null
  machine_flags: string
  kernel: string | null
  commit_sha: string | null
  arch: string | null
  cpu: string | null
  flags: string
  job_url: string | null
  started_at: string | null
  created_at: string
  content_sha256: string
  log_bytes: number
  log_lines: number
  total: number
  pass: number
  fail: number
  skip: number
  xfail: number
  xpass: number
  timeout: number
  error: number
  warnings: string
  plans: string
  complete: number
  incomplete_reasons: string
  not_run: number
}

interface ResultRow {
  seq: number
  parent_seq: number | null
  collection: string
  test: string
  path: string
  status: Status
  number: number | null
  exit_code: number | null
  timeout_seconds: number | null
  reason: string | null
  flags: string
  line_from: number
  line_to: number
}

/** A case id known to the store, with the subtests under it that have been seen. */
interface CaseNode {
  id: number
  subtests: Map<string, CaseNode> | null
}

/** Results per multi-row INSERT: one statement call per row cost more than SQLite's own work for it. */
const RESULT_BATCH = 50
const TEST_COLUMNS = 11
const SUBTEST_COLUMNS = 8
/** Results counted into the aggregates per statement: a few ms each. */
const AGGREGATE_STEP = 20_000
/** How much of a test's log a known issue's log regex reads: a runaway test's megabytes are not scanned. */
const LOG_BYTES_FOR_MATCHING = 1 << 20
/** Cached case ids: a run's worth of new names must not grow the cache without bound. */
const MAX_CACHED_CASES = 500_000
/** Cases looked up or inserted between two steps of a run's transaction. */
const CASE_STEP = 5_000

/** The runs, their results and their raw logs. Every statement is prepared once, here. */
export class RunStore {
  private readonly statements: ReturnType<typeof prepare>
  /** Case ids by collection and test, subtests under their test: no key string built per result. */
  private readonly testCases = new Map<string, CaseNode>()
  private cachedCases = 0
  /** Whether the last case the cache did not know was in the table already (see casesOf). */
  private lastCaseFound = true
  private readonly clock: () => Date

  /** Matches the active known issues against each run as it is stored. */
  readonly issues: IssueStore
  /** Which series and machine each run belongs to. */
  readonly identity: IdentityStore

  constructor (private readonly db: Database, options: { clock?: () => Date } = {}) {
    this.statements = prepare(db)
    this.clock = options.clock ?? (() => new Date())
    this.identity = new IdentityStore(db)
    this.issues = new IssueStore(db, {
      clock: this.clock,
      readLog: (runId, from, to) => this.getLogLines(runId, from, to, { maxBytes: LOG_BYTES_FOR_MATCHING, maxLineBytes: 16_384 })?.lines ?? [],
    })
  }

  /** The number of writes committed so far: changes whenever anything a reader sees changes. */
  writeCounter (): number {
    return (this.statements.readCounter.get() as { value: number }).value
  }

  /**
   * Stores one run whole, in one transaction, or nothing. The same log with the same metadata
   * again returns the run stored the first time.
   */
  ingestRun (meta: RunMetadata, parsed: ParsedRun, log: StoredLog): IngestOutcome {
    const restore = this.suspendForeignKeyChecks()
    try {
      // IMMEDIATE: the write lock is taken, waiting through the busy timeout, before the first read.
      // A deferred transaction that read first and then wrote while another process (a server
      // storing uploads) committed would fail at once with SQLITE_BUSY, past any busy timeout.
      return this.db.transaction(() => {
        const steps = this.storeSteps(meta, parsed, log)
        for (;;) {
          const step = steps.next()
          if (step.done) return step.value
        }
      }).immediate()
    } catch (err) {
      // the ids of cases inserted by the rolled-back transaction are gone, and SQLite hands them out again
      this.forgetCases()
      throw err
    } finally {
      restore()
    }
  }

  /**
   * The same as ingestRun, but the one transaction is written in steps of at most `stepMs` between
   * which `pause` lets the event loop run: a run of a million results must not hold the server for
   * the 10+ s its insert takes. Only for a connection of its own (the app's write connection):
   * until COMMIT nothing is visible to other connections, and a failure rolls everything back.
   * Writers of this process must queue behind it (server/services/write-queue.ts); another
   * process's write lock is waited for asynchronously, up to `busyWaitMs`.
   */
  async ingestRunInSteps (meta: RunMetadata, parsed: ParsedRun, log: StoredLog, options: StepOptions): Promise<IngestOutcome> {
    const restore = this.suspendForeignKeyChecks()
    try {
      await beginImmediate(this.db, options)
    } catch (err) {
      restore()
      throw err
    }
    try {
      const steps = this.storeSteps(meta, parsed, log)
      let since = performance.now()
      for (;;) {
        const step = steps.next()
        if (step.done) {
          this.db.exec('COMMIT')
          return step.value
        }
        if (performance.now() - since >= options.stepMs) {
          await options.pause()
          since = performance.now()
        }
      }
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK')
      this.forgetCases()
      throw err
    } finally {
      restore()
    }
  }

  /**
   * Foreign keys off for the run's own transaction: every id it writes comes from a row it just
   * inserted or found (runs, versions, machines, cases, which nothing deletes), and checking them
   * looked each one up again, five lookups per result. SQLite takes the pragma only outside a
   * transaction; the returned function puts it back. test/server/storage/run-store.test.ts checks
   * that stored runs pass PRAGMA foreign_key_check.
   */
  private suspendForeignKeyChecks (): () => void {
    const was = this.db.pragma('foreign_keys', { simple: true }) as number
    if (was === 0) return () => {}
    this.db.pragma('foreign_keys = OFF')
    return () => { this.db.pragma('foreign_keys = ON') }
  }

  /** The writes of one run, yielding between bounded pieces of work; the caller owns the transaction. */
  private * storeSteps (meta: RunMetadata, parsed: ParsedRun, log: StoredLog): Generator<void, IngestOutcome> {
    const s = this.statements
    const dedupKey = dedupKeyOf(log.sha256, meta)
    // runs stored before job_url left the identity have their key made with it
    const existing = (s.findRunByDedupKey.get(dedupKey) ?? s.findRunByDedupKey.get(legacyDedupKeyOf(log.sha256, meta))) as { id: number } | undefined
    const now = this.clock().toISOString()
    if (existing) return { runId: existing.id, created: false, series: this.identity.resolveSeries(meta, now, { write: false }) }

    const series = this.identity.resolveSeries(meta, now, { write: true })!
    const seriesId = series.id
    s.upsertVersion.run(seriesId, meta.version, versionSortKey(meta.version), meta.messageId, meta.baseCommit, meta.treeName, meta.gitUrl, meta.patchsetHash, now)
    const versionId = (s.findVersion.get(seriesId, meta.version) as { id: number }).id
    const flags = meta.flags.join(',')
    const machine = this.identity.resolveMachine(meta, now)
    const machineId = machine.id

    const summary = summarize(parsed.tests.map(test => test.status))
    const completeness = runCompleteness(parsed)
    const runId = Number(s.insertRun.run({
      version_id: versionId,
      machine_id: machineId,
      kernel: meta.kernel,
      commit_sha: meta.commit,
      arch: meta.arch,
      cpu: meta.cpu,
      flags,
      job_url: meta.jobUrl,
      started_at: meta.startedAt,
      created_at: now,
      content_sha256: log.sha256,
      dedup_key: dedupKey,
      log_bytes: log.bytes,
      log_lines: log.lines,
      ...summary,
      warnings: JSON.stringify(keptWarnings(parsed)),
      plans: JSON.stringify(parsed.plans.slice(0, MAX_KEPT)),
      complete: completeness.complete ? 1 : 0,
      incomplete_reasons: JSON.stringify(completeness.reasons),
      not_run: completeness.notRun,
    }).lastInsertRowid)

    let chunkSeq = 0
    for (const chunk of log.chunks) {
      s.insertChunk.run(runId, chunkSeq++, chunk.firstLine, chunk.lineCount, chunk.content)
      yield
    }

    // the case of every result of the run, by seq (a test, then its subtests depth first)
    const cases = yield * this.casesOf(parsed.tests)
    // result rows RESULT_BATCH to a statement; the generator yields after each batch (see below). A
    // subtest's row binds only the columns a subtest has: a third of the values each result bound
    // were its NULLs.
    const testRows = new RowBatch(TEST_COLUMNS, s.insertTestResults, s.insertTestResult)
    const subtestRows = new RowBatch(SUBTEST_COLUMNS, s.insertSubtestResults, s.insertSubtestResult)
    const walk = new ResultWalk(parsed.tests)
    // the results the known issues are tried against, gathered here only when there are issues
    const triage: TriageResult[] | null = this.issues.hasActiveIssues() ? [] : null
    while (walk.next()) {
      if (triage !== null) gatherTriage(triage, walk)
      if (walk.parentSeq === -1) {
        putTestRow(testRows, runId, walk.seq, cases[walk.seq]!, walk.test)
        if (testRows.next()) yield
      } else {
        putSubtestRow(subtestRows, runId, walk.seq, walk.parentSeq, cases[walk.seq]!, walk.record)
        if (subtestRows.next()) yield
      }
    }
    const resultSeq = cases.length
    testRows.finish()
    subtestRows.finish()
    // the trend queries read these instead of the results: see migrations/003-trend-aggregates.sql.
    // Counted a range of results at a time (each statement is additive), so that a step stays short.
    for (let from = 0; from < resultSeq; from += AGGREGATE_STEP) {
      s.addCaseStats.run(versionId, machineId, runId, from, from + AGGREGATE_STEP)
      s.addSeriesTests.run(seriesId, runId, from, from + AGGREGATE_STEP)
      yield
    }
    // the run's tests per collection, from the parse: a few rows, each with its collection's completeness
    const incomplete = new Map(completeness.collections.filter(collection => !collection.complete).map(collection => [collection.collection, collection.notRun]))
    for (const [collection, summary] of summariesByCollection(parsed.tests)) {
      const notRun = incomplete.get(collection)
      s.insertRunCollection.run({ run: runId, collection, ...summary, complete: notRun === undefined ? 1 : 0, not_run: notRun ?? 0 })
    }
    // in the run's transaction: a run is never visible without its known-issue matches
    if (triage !== null) this.issues.matchRun(runId, { seriesId, versionLabel: meta.version, machine: machine.name, arch: meta.arch, cpuFlags: meta.flags, kernel: meta.kernel }, triage)
    yield
    s.writeOutcomeSet.run({ version: versionId, machine: machineId })
    s.bumpCounter.run()
    // a run's worth of new names must not grow the cache without bound
    if (this.cachedCases > MAX_CACHED_CASES) this.forgetCases()
    return { runId, created: true, series }
  }

  getRun (id: number): RunView | null {
    const row = this.statements.getRun.get(id) as RunRow | undefined
    return row ? runView(row) : null
  }

  /** The run's tests as a tree, the same shape the parser produced. */
  getRunTests (id: number): TestRecord[] {
    return treeOf(this.statements.getResults.iterate(id) as Iterable<ResultRow>)
  }

  /**
   * A page of the run's tests, from the test at result `cursor` on: at most `limit` tests and, as
   * a bound on a test with a runaway number of subtests, about `maxRows` results. A test cut at
   * `maxRows` says so (`truncated`); `nextCursor` is where the next page starts, or null.
   */
  getRunTestsPage (id: number, cursor: number, limit: number, maxRows: number): { tests: TestRecord[], nextCursor: number | null, truncated: boolean } {
    const rows: ResultRow[] = []
    let tests = 0
    let nextCursor: number | null = null
    let truncated = false
    for (const row of this.statements.getResultsFrom.iterate(id, cursor) as Iterable<ResultRow>) {
      if (row.parent_seq === null) {
        if (tests === limit || rows.length >= maxRows) {
          nextCursor = row.seq
          break
        }
        tests++
      } else if (rows.length >= maxRows) {
        truncated = true
        break
      }
      rows.push(row)
    }
    // (the connection answers no other statement while the iteration is open)
    if (truncated) nextCursor = (this.statements.nextTestAfter.get(id, rows[rows.length - 1]!.seq) as { seq: number | null }).seq
    return { tests: treeOf(rows), nextCursor, truncated }
  }

  /** Lines `from`..`to` (1-based, inclusive) of the raw log, clamped to the log. */
  getLogLines (id: number, from: number, to: number, caps: { maxBytes?: number, maxLineBytes?: number } = {}): LogSlice | null {
    const run = this.statements.getRunSize.get(id) as { log_lines: number } | undefined
    if (!run) return null
    const maxBytes = caps.maxBytes ?? Infinity
    const maxLineBytes = caps.maxLineBytes ?? Infinity
    const last = Math.min(to, run.log_lines)
    const lines: string[] = []
    let bytes = 0
    let nextFrom: number | null = null
    if (from <= last) {
      // chunks start at a line start, except after a runaway line that was cut across chunks: the
      // chunks that hold the range are read in order, numbering lines from the first one, one
      // chunk inflated at a time and a line kept only up to maxLineBytes
      let no = -1
      let kept: Buffer[] = []
      let keptBytes = 0
      let lineBytes = 0
      const endLine = (): boolean => {
        if (no >= from) {
          let line = Buffer.concat(kept, keptBytes).toString('utf8')
          if (line.endsWith('\r')) line = line.slice(0, -1)
          if (lineBytes > keptBytes) line += ` [... ${lineBytes - keptBytes} more bytes of this line: see log.txt]`
          if (lines.length > 0 && bytes + keptBytes > maxBytes) {
            nextFrom = no
            return false
          }
          lines.push(line)
          bytes += keptBytes
        }
        no++
        kept = []
        keptBytes = 0
        lineBytes = 0
        return no <= last
      }
      const keep = (piece: Buffer): void => {
        lineBytes += piece.length
        if (no < from || keptBytes >= maxLineBytes) return
        const part = piece.subarray(0, maxLineBytes - keptBytes)
        kept.push(Buffer.from(part))
        keptBytes += part.length
      }
      let going = true
      for (const chunk of this.statements.getChunks.iterate(id, last, from) as Iterable<{ first_line: number, content: Buffer }>) {
        if (no === -1) no = chunk.first_line
        const raw = inflateSync(chunk.content)
        let start = 0
        while (going && start < raw.length) {
          const end = raw.indexOf(10, start)
          if (end === -1) {
            keep(raw.subarray(start))
            break
          }
          keep(raw.subarray(start, end))
          going = endLine()
          start = end + 1
        }
        if (!going) break
      }
      // the log's last line, without a newline
      if (going && no !== -1 && no <= last && lineBytes > 0) endLine()
    }
    const answered = nextFrom === null ? Math.max(from - 1, last) : nextFrom - 1
    return { from, to: answered, totalLines: run.log_lines, lines, truncated: nextFrom !== null, nextFrom }
  }

  /** The whole raw log, chunk by chunk, as it was uploaded. */
  * readLog (id: number): Generator<Buffer> {
    for (const chunk of this.statements.getAllChunks.iterate(id) as Iterable<{ content: Buffer }>) {
      yield inflateSync(chunk.content)
    }
  }

  /**
   * The case id of each of the run's results, by `seq`, from the cache (a tree: no key string per
   * result) or else the cases table. A case the cache does not know is looked up first when the
   * last such one was there (a store that restarted, another process's cases), and inserted first
   * when it was not (a new store, new tests): one statement a case either way, mostly.
   */
  private * casesOf (tests: TestRecord[]): Generator<void, Int32Array> {
    const ids = new Int32Array(resultCount(tests))
    // the case of the result being looked at and of each result above it, by depth
    const nodes: CaseNode[] = []
    // a step of the transaction every CASE_STEP cases the cache did not know
    let stepFrom = this.cachedCases
    const walk = new ResultWalk(tests)
    while (walk.next()) {
      const { test, depth } = walk
      let node: CaseNode | undefined
      if (depth === 0) {
        const key = `${test.collection}\u0000${test.name}`
        node = this.testCases.get(key)
        if (node === undefined) this.testCases.set(key, (node = { id: this.caseId(test.collection, test.name, '[]'), subtests: null }))
      } else {
        const above = nodes[depth - 1]!
        const name = walk.record.name
        node = above.subtests?.get(name)
        if (node === undefined) {
          node = { id: this.caseId(test.collection, test.name, JSON.stringify(walk.path)), subtests: null }
          ;(above.subtests ??= new Map()).set(name, node)
        }
      }
      nodes[depth] = node
      ids[walk.seq] = node.id
      if (this.cachedCases - stepFrom >= CASE_STEP) {
        stepFrom = this.cachedCases
        yield
      }
    }
    return ids
  }

  /** The id of a case the cache does not know, which the cache then counts. */
  private caseId (collection: string, test: string, path: string): number {
    const s = this.statements
    let id: number | undefined
    if (this.lastCaseFound) id = s.findCase.get(collection, test, path) as number | undefined
    if (id === undefined) {
      const inserted = s.insertCase.run(collection, test, path)
      if (inserted.changes === 1) {
        id = Number(inserted.lastInsertRowid)
        this.lastCaseFound = false
      } else {
        id = s.findCase.get(collection, test, path) as number
        this.lastCaseFound = true
      }
    } else this.lastCaseFound = true
    this.cachedCases++
    return id
  }

  private forgetCases (): void {
    this.testCases.clear()
    this.cachedCases = 0
  }
}

/**
 * A run's results in `seq` order (a test, then its subtests depth first), walked in place: next()
 * moves to the next result and says whether there was one. Nothing is kept per result, so that
 * storing a run of a million results holds no second copy of its tree.
 */
class ResultWalk {
  seq = -1
  record!: TestRecord | SubtestRecord
  /** The test the result belongs to (the result itself for a test). */
  test!: TestRecord
  /** The parent's seq, -1 for a test. */
  parentSeq = -1
  /** 0 for a test, 1 for its subtests, and so on. */
  depth = 0
  /** The names from the test down to the result (its case's path), empty for a test. */
  readonly path: string[] = []
  private readonly levels: Array<{ subtests: SubtestRecord[], next: number, seq: number }> = []
  private nextTest = 0

  constructor (private readonly tests: TestRecord[]) {}

  next (): boolean {
    if (this.seq >= 0 && this.record.subtests.length > 0) this.levels.push({ subtests: this.record.subtests, next: 0, seq: this.seq })
    while (this.levels.length > 0) {
      const level = this.levels[this.levels.length - 1]!
      if (level.next < level.subtests.length) {
        this.record = level.subtests[level.next++]!
        this.parentSeq = level.seq
        this.depth = this.levels.length
        this.path.length = this.depth - 1
        this.path.push(this.record.name)
        this.seq++
        return true
      }
      this.levels.pop()
    }
    if (this.nextTest === this.tests.length) return false
    this.test = this.tests[this.nextTest++]!
    this.record = this.test
    this.parentSeq = -1
    this.depth = 0
    this.path.length = 0
    this.seq++
    return true
  }
}

/** The walk's result, when it needs triage: a failure, or a test with kernel trouble or a false pass (a subtest has no flags). */
function gatherTriage (triage: TriageResult[], walk: ResultWalk): void {
  const record = walk.record
  const test = walk.parentSeq === -1 ? walk.test : null
  const troubled = test !== null && test.flags.length > 0 && test.flags.some(flag => TROUBLE_FLAGS.includes(flag))
  if (!needsTriage(record.status, troubled)) return
  triage.push({
    seq: walk.seq,
    collection: walk.test.collection,
    test: walk.test.name,
    path: [...walk.path],
    status: record.status,
    exitCode: test === null ? null : test.exitCode,
    reason: record.reason,
    troubled,
    lines: record.lines,
  })
}

/** Tests and subtests at every depth: one result row each. */
function resultCount (tests: ReadonlyArray<TestRecord | SubtestRecord>): number {
  let count = 0
  for (const test of tests) count += 1 + resultCount(test.subtests)
  return count
}

/** Rows of one shape, written RESULT_BATCH to a statement: one statement call per row cost more than SQLite's own work for it. */
class RowBatch {
  readonly values: unknown[]
  /** Where the row being written starts in `values`. */
  at = 0

  constructor (private readonly columns: number, private readonly many: Statement, private readonly one: Statement) {
    this.values = new Array(RESULT_BATCH * columns)
  }

  /** The row at `at` is written: true when that filled the batch and the batch went to SQLite. */
  next (): boolean {
    this.at += this.columns
    if (this.at < this.values.length) return false
    this.many.run(this.values)
    this.at = 0
    return true
  }

  /** The rows of a last batch that is not full, one statement each. */
  finish (): void {
    for (let from = 0; from < this.at; from += this.columns) this.one.run(this.values.slice(from, from + this.columns))
    this.at = 0
  }
}

/** A test's row, in the order of insertTestResults' columns. */
function putTestRow (rows: RowBatch, runId: number, seq: number, caseId: number, test: TestRecord): void {
  const v = rows.values
  const at = rows.at
  v[at] = runId
  v[at + 1] = seq
  v[at + 2] = caseId
  v[at + 3] = test.status
  v[at + 4] = test.number
  v[at + 5] = test.exitCode
  v[at + 6] = test.timeoutSeconds
  v[at + 7] = test.reason
  v[at + 8] = test.flags.length === 0 ? '' : test.flags.join(',')
  v[at + 9] = test.lines[0]
  v[at + 10] = test.lines[1]
}

/** A subtest's row, in the order of insertSubtestResults' columns. */
function putSubtestRow (rows: RowBatch, runId: number, seq: number, parentSeq: number, caseId: number, subtest: SubtestRecord): void {
  const v = rows.values
  const at = rows.at
  v[at] = runId
  v[at + 1] = seq
  v[at + 2] = parentSeq
  v[at + 3] = caseId
  v[at + 4] = subtest.status
  v[at + 5] = subtest.reason
  v[at + 6] = subtest.lines[0]
  v[at + 7] = subtest.lines[1]
}

/** The tests of a run counted per status, per collection. */
function summariesByCollection (tests: TestRecord[]): Map<string, Summary> {
  const byCollection = new Map<string, Status[]>()
  for (const test of tests) {
    let statuses = byCollection.get(test.collection)
    if (statuses === undefined) byCollection.set(test.collection, (statuses = []))
    statuses.push(test.status)
  }
  return new Map([...byCollection].map(([collection, statuses]) => [collection, summarize(statuses)]))
}

export interface StepOptions {
  /** How long one step may hold the event loop, in ms. */
  stepMs: number
  /** Lets the event loop run between steps. */
  pause: () => Promise<void>
  /** How long to wait for another process's write lock before giving up with SQLITE_BUSY, in ms. */
  busyWaitMs: number
}

/**
 * BEGIN IMMEDIATE, retried while another process holds the write lock: the connection's own busy
 * timeout would wait synchronously and stop the event loop meanwhile.
 */
async function beginImmediate (db: Database, options: StepOptions): Promise<void> {
  const started = performance.now()
  for (let attempt = 0; ; attempt++) {
    try {
      db.exec('BEGIN IMMEDIATE')
      return
    } catch (err) {
      const code = (err as { code?: string }).code
      if (code !== 'SQLITE_BUSY' || performance.now() - started >= options.busyWaitMs) throw err
      await new Promise(resolve => setTimeout(resolve, Math.min(5 * 2 ** attempt, 100)))
    }
  }
}

/**
 * Warnings and plans kept with a run: a hostile log of a million plan lines must not store (and
 * answer every reader) a million records. The rest is counted in a last warning.
 */
const MAX_KEPT = 1000

function keptWarnings (parsed: ParsedRun): string[] {
  const kept = parsed.warnings.slice(0, MAX_KEPT)
  if (parsed.warnings.length > MAX_KEPT) kept.push(`... and ${parsed.warnings.length - MAX_KEPT} more warnings`)
  if (parsed.plans.length > MAX_KEPT) kept.push(`${parsed.plans.length - MAX_KEPT} plan lines after the first ${MAX_KEPT} are not kept`)
  return kept
}

/**
 * A run's identity: the log's bytes and what was said about them, except the CI job that sent
 * them. A retried or re-run job uploads the same log with another job_url, and that is the same
 * run (the first upload's job_url stays with it).
 */
function dedupKeyOf (sha256: string, meta: RunMetadata): string {
  return legacyDedupKeyOf(sha256, { ...meta, jobUrl: null })
}

/**
 * The change-id and the earlier cover letters say which series a run belongs to, not what the run
 * is: they stay out of its identity, which keeps the keys of runs stored before they existed.
 */
function legacyDedupKeyOf (sha256: string, meta: RunMetadata): string {
  const { changeId: _changeId, previousMessageIds: _previous, ...identity } = meta
  const canonical = JSON.stringify(Object.entries(identity).sort(([a], [b]) => a.localeCompare(b)))
  return createHash('sha256').update(sha256).update('\n').update(canonical).digest('hex')
}

/** Result rows in `seq` order, a test's subtests after it, as the tree the parser produced. */
function treeOf (rows: Iterable<ResultRow>): TestRecord[] {
  const tests: TestRecord[] = []
  const nodes = new Map<number, { subtests: SubtestRecord[] }>()
  for (const row of rows) {
    if (row.parent_seq === null) {
      const test: TestRecord = {
        collection: row.collection,
        name: row.test,
        number: row.number,
        status: row.status,
        exitCode: row.exit_code,
        timeoutSeconds: row.timeout_seconds,
        reason: row.reason,
        flags: row.flags === '' ? [] : row.flags.split(',') as Flag[],
        lines: [row.line_from, row.line_to],
        subtests: [],
      }
      tests.push(test)
      nodes.set(row.seq, test)
    } else {
      const path = JSON.parse(row.path) as string[]
      const subtest: SubtestRecord = {
        name: path[path.length - 1] ?? '',
        status: row.status,
        reason: row.reason,
        lines: [row.line_from, row.line_to],
        subtests: [],
      }
      nodes.get(row.parent_seq)?.subtests.push(subtest)
      nodes.set(row.seq, subtest)
    }
  }
  return tests
}

function splitFlags (flags: string): string[] {
  return flags === '' ? [] : flags.split(',')
}

function completenessView (row: RunRow): RunView['completeness'] {
  const reasons = JSON.parse(row.incomplete_reasons) as RunView['completeness']['reasons']
  const collections = reasons.map(reason => reason.collection).filter(collection => collection !== null)
  return { complete: row.complete === 1, reasons, notRun: row.not_run, incompleteCollections: [...new Set(collections)] }
}

function runView (row: RunRow): RunView {
  return {
    id: row.id,
    series: { id: row.series_id, name: row.series_name },
    version: {
      id: row.version_id,
      label: row.version_label,
      messageId: row.message_id,
      baseCommit: row.base_commit,
      treeName: row.tree_name,
      gitUrl: row.git_url,
      patchsetHash: row.patchset_hash,
    },
    machine: { id: row.machine_id, name: row.machine_name, arch: row.machine_arch, cpu: row.machine_cpu, flags: splitFlags(row.machine_flags) },
    kernel: row.kernel,
    commit: row.commit_sha,
    arch: row.arch,
    cpu: row.cpu,
    flags: splitFlags(row.flags),
    jobUrl: row.job_url,
    startedAt: row.started_at,
    createdAt: row.created_at,
    contentSha256: row.content_sha256,
    logBytes: row.log_bytes,
    logLines: row.log_lines,
    summary: {
      total: row.total, pass: row.pass, fail: row.fail, skip: row.skip, xfail: row.xfail,
      xpass: row.xpass, timeout: row.timeout, error: row.error,
    },
    warnings: JSON.parse(row.warnings) as string[],
    plans: JSON.parse(row.plans) as RunView['plans'],
    completeness: completenessView(row),
  }
}

// a test's result row and a subtest's (which has no number, exit code, timeout or flags)
const INSERT_TEST_RESULTS = `INSERT INTO results (run_id, seq, parent_seq, case_id, status, number, exit_code, timeout_seconds, reason, flags, line_from, line_to)
  VALUES`
const TEST_ROW = `(${['?', '?', 'NULL', ...Array.from({ length: TEST_COLUMNS - 2 }, () => '?')].join(', ')})`
const INSERT_SUBTEST_RESULTS = 'INSERT INTO results (run_id, seq, parent_seq, case_id, status, reason, line_from, line_to) VALUES'
const SUBTEST_ROW = `(${Array.from({ length: SUBTEST_COLUMNS }, () => '?').join(', ')})`

function prepare (db: Database) {
  const statement = (sql: string): Statement => db.prepare(sql)
  return {
    readCounter: statement("SELECT value FROM store_state WHERE key = 'write_counter'"),
    bumpCounter: statement("UPDATE store_state SET value = value + 1 WHERE key = 'write_counter'"),
    findRunByDedupKey: statement('SELECT id FROM runs WHERE dedup_key = ?'),
    upsertVersion: statement(`
      INSERT INTO versions (series_id, label, sort_key, message_id, base_commit, tree_name, git_url, patchset_hash, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (series_id, label) DO UPDATE SET
        message_id = coalesce(excluded.message_id, message_id),
        base_commit = coalesce(excluded.base_commit, base_commit),
        tree_name = coalesce(excluded.tree_name, tree_name),
        git_url = coalesce(excluded.git_url, git_url),
        patchset_hash = coalesce(excluded.patchset_hash, patchset_hash)`),
    findVersion: statement('SELECT id FROM versions WHERE series_id = ? AND label = ?'),
    insertRun: statement(`
      INSERT INTO runs (version_id, machine_id, kernel, commit_sha, arch, cpu, flags, job_url, started_at, created_at,
        content_sha256, dedup_key, log_bytes, log_lines, total, pass, fail, skip, xfail, xpass, timeout, error, warnings, plans,
        complete, incomplete_reasons, not_run)
      VALUES (@version_id, @machine_id, @kernel, @commit_sha, @arch, @cpu, @flags, @job_url, @started_at, @created_at,
        @content_sha256, @dedup_key, @log_bytes, @log_lines, @total, @pass, @fail, @skip, @xfail, @xpass, @timeout, @error, @warnings, @plans,
        @complete, @incomplete_reasons, @not_run)`),
    insertChunk: statement('INSERT INTO log_chunks (run_id, seq, first_line, line_count, content) VALUES (?, ?, ?, ?, ?)'),
    insertCase: statement('INSERT INTO cases (collection, test, path) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
    findCase: statement('SELECT id FROM cases WHERE collection = ? AND test = ? AND path = ?').pluck(),
    insertTestResult: statement(`${INSERT_TEST_RESULTS} ${TEST_ROW}`),
    insertTestResults: statement(`${INSERT_TEST_RESULTS} ${Array.from({ length: RESULT_BATCH }, () => TEST_ROW).join(', ')}`),
    insertSubtestResult: statement(`${INSERT_SUBTEST_RESULTS} ${SUBTEST_ROW}`),
    insertSubtestResults: statement(`${INSERT_SUBTEST_RESULTS} ${Array.from({ length: RESULT_BATCH }, () => SUBTEST_ROW).join(', ')}`),
    // the results just inserted, counted into the aggregates in one statement each (no row crosses into JS)
    addCaseStats: statement(`
      INSERT INTO case_stats (version_id, machine_id, case_id, total, ${STATUSES.join(', ')}, trouble, infrastructure)
      SELECT ?, ?, case_id, 1, ${STATUSES.map(status => `status = '${status}'`).join(', ')}, r.flags <> '' AND ${TROUBLED_RESULT_SQL},
        ${INFRASTRUCTURE_RESULT_SQL}
      FROM results r WHERE run_id = ? AND seq >= ? AND seq < ?
      ON CONFLICT (version_id, machine_id, case_id) DO UPDATE SET
        total = total + excluded.total, ${STATUSES.map(status => `${status} = ${status} + excluded.${status}`).join(', ')},
        trouble = trouble + excluded.trouble, infrastructure = infrastructure + excluded.infrastructure`),
    writeOutcomeSet: statement(`
      INSERT INTO outcome_sets (version_id, machine_id, cells)
      SELECT @version, @machine, unhex(group_concat(${OUTCOME_CELL_SQL}, '' ORDER BY case_id))
      FROM case_stats WHERE version_id = @version AND machine_id = @machine
      ON CONFLICT (version_id, machine_id) DO UPDATE SET cells = excluded.cells`),
    insertRunCollection: statement(`
      INSERT INTO run_collections (run_id, collection, total, ${STATUSES.join(', ')}, complete, not_run)
      VALUES (@run, @collection, @total, ${STATUSES.map(status => `@${status}`).join(', ')}, @complete, @not_run)`),
    addSeriesTests: statement(`
      INSERT OR IGNORE INTO series_tests (series_id, collection, test, case_id)
      SELECT ?, c.collection, c.test, c.id
      FROM results r JOIN cases c ON c.id = r.case_id
      WHERE r.run_id = ? AND r.seq >= ? AND r.seq < ? AND r.parent_seq IS NULL`),
    getRun: statement(`
      SELECT r.*, s.id AS series_id, s.name AS series_name, v.id AS version_id, v.label AS version_label,
        v.message_id, v.base_commit, v.tree_name, v.git_url, v.patchset_hash, m.id AS machine_id, m.name AS machine_name, m.arch AS machine_arch,
        m.cpu AS machine_cpu, m.flags AS machine_flags
      FROM runs r JOIN versions v ON v.id = r.version_id JOIN series s ON s.id = v.series_id
      JOIN machines m ON m.id = r.machine_id
      WHERE r.id = ?`),
    getResults: statement(`
      SELECT r.seq, r.parent_seq, c.collection, c.test, c.path, r.status, r.number, r.exit_code, r.timeout_seconds,
        r.reason, r.flags, r.line_from, r.line_to
      FROM results r JOIN cases c ON c.id = r.case_id WHERE r.run_id = ? ORDER BY r.seq`),
    getResultsFrom: statement(`
      SELECT r.seq, r.parent_seq, c.collection, c.test, c.path, r.status, r.number, r.exit_code, r.timeout_seconds,
        r.reason, r.flags, r.line_from, r.line_to
      FROM results r JOIN cases c ON c.id = r.case_id WHERE r.run_id = ? AND r.seq >= ? ORDER BY r.seq`),
    nextTestAfter: statement('SELECT min(seq) AS seq FROM results WHERE run_id = ? AND seq > ? AND parent_seq IS NULL'),
    getRunSize: statement('SELECT log_lines FROM runs WHERE id = ?'),
    getChunks: statement(`
      SELECT first_line, content FROM log_chunks
      WHERE run_id = ? AND first_line <= ? AND first_line + line_count >= ? ORDER BY seq`),
    getAllChunks: statement('SELECT content FROM log_chunks WHERE run_id = ? ORDER BY seq'),
  }
}
