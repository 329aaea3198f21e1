import { createHash } from 'node:crypto'
import { summarize, type Flag, type Status, type SubtestRecord, type Summary, type TestRecord } from '../../ingest/index.ts'
import { needsTriage } from '../domain/known-issues.ts'
import { TROUBLE_FLAGS } from '../queries/verdict.ts'
import type { LogSlice, ParsedRun, RunMetadata, RunView, TriageResult } from './rows.ts'

/*
 * The half of a run store that is the same whichever database holds the runs: how a run's results
 * are walked and counted, its identity (the dedup key), its rows read back as the parser's tree and
 * as a RunView, and its raw log's lines read out of the inflated chunks. The SQLite store
 * (run-store.ts) and the PostgreSQL one (postgres/run-store.ts) both use these, so that the two
 * answer alike by construction.
 */

export interface RunRow {
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

export interface ResultRow {
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

/**
 * A run's results in `seq` order (a test, then its subtests depth first), walked in place: next()
 * moves to the next result and says whether there was one. Nothing is kept per result, so that
 * storing a run of a million results holds no second copy of its tree.
 */
export class ResultWalk {
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
export function gatherTriage (triage: TriageResult[], walk: ResultWalk): void {
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
export function resultCount (tests: ReadonlyArray<TestRecord | SubtestRecord>): number {
  let count = 0
  for (const test of tests) count += 1 + resultCount(test.subtests)
  return count
}

/** The tests of a run counted per status, per collection. */
export function summariesByCollection (tests: TestRecord[]): Map<string, Summary> {
  const byCollection = new Map<string, Status[]>()
  for (const test of tests) {
    let statuses = byCollection.get(test.collection)
    if (statuses === undefined) byCollection.set(test.collection, (statuses = []))
    statuses.push(test.status)
  }
  return new Map([...byCollection].map(([collection, statuses]) => [collection, summarize(statuses)]))
}

/**
 * Warnings and plans kept with a run: a hostile log of a million plan lines must not store (and
 * answer every reader) a million records. The rest is counted in a last warning.
 */
export const MAX_KEPT = 1000

export function keptWarnings (parsed: ParsedRun): string[] {
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
export function dedupKeyOf (sha256: string, meta: RunMetadata): string {
  return legacyDedupKeyOf(sha256, { ...meta, jobUrl: null })
}

/**
 * The change-id and the earlier cover letters say which series a run belongs to, not what the run
 * is: they stay out of its identity, which keeps the keys of runs stored before they existed.
 */
export function legacyDedupKeyOf (sha256: string, meta: RunMetadata): string {
  const { changeId: _changeId, previousMessageIds: _previous, ...identity } = meta
  const canonical = JSON.stringify(Object.entries(identity).sort(([a], [b]) => a.localeCompare(b)))
  return createHash('sha256').update(sha256).update('\n').update(canonical).digest('hex')
}

/** Result rows in `seq` order, a test's subtests after it, as the tree the parser produced. */
export function treeOf (rows: Iterable<ResultRow>): TestRecord[] {
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

export function runView (row: RunRow): RunView {
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

/**
 * Lines `from`..`to` (1-based, inclusive) of a raw log, clamped to its `totalLines`, read out of the
 * inflated chunks that hold them, pushed in order (the chunks whose lines reach `from`, up to the
 * one holding `last`). Chunks start at a line start, except after a runaway line that was cut
 * across chunks: lines are numbered from the first chunk pushed, one chunk at a time, and a line is
 * kept only up to maxLineBytes.
 */
export class LogLineReader {
  /** The last line wanted: `to`, clamped to the log. */
  readonly last: number
  /** False when the range holds no line: no chunk need be read. */
  readonly wanted: boolean
  private readonly maxBytes: number
  private readonly maxLineBytes: number
  private readonly lines: string[] = []
  private bytes = 0
  private nextFrom: number | null = null
  private no = -1
  private kept: Buffer[] = []
  private keptBytes = 0
  private lineBytes = 0
  private going = true

  constructor (private readonly totalLines: number, private readonly from: number, to: number, caps: { maxBytes?: number, maxLineBytes?: number } = {}) {
    this.maxBytes = caps.maxBytes ?? Infinity
    this.maxLineBytes = caps.maxLineBytes ?? Infinity
    this.last = Math.min(to, totalLines)
    this.wanted = from <= this.last
  }

  /** The next chunk, inflated; false once the lines wanted are read (or the bytes allowed), and no more chunks are needed. */
  push (firstLine: number, raw: Buffer): boolean {
    if (!this.going) return false
    if (this.no === -1) this.no = firstLine
    let start = 0
    while (this.going && start < raw.length) {
      const end = raw.indexOf(10, start)
      if (end === -1) {
        this.keep(raw.subarray(start))
        break
      }
      this.keep(raw.subarray(start, end))
      this.going = this.endLine()
      start = end + 1
    }
    return this.going
  }

  /** The lines read, once every chunk needed was pushed. */
  slice (): LogSlice {
    // the log's last line, without a newline
    if (this.going && this.no !== -1 && this.no <= this.last && this.lineBytes > 0) {
      this.going = false
      this.endLine()
    }
    const nextFrom = this.nextFrom
    const answered = nextFrom === null ? Math.max(this.from - 1, this.last) : nextFrom - 1
    return { from: this.from, to: answered, totalLines: this.totalLines, lines: this.lines, truncated: nextFrom !== null, nextFrom }
  }

  private endLine (): boolean {
    if (this.no >= this.from) {
      let line = Buffer.concat(this.kept, this.keptBytes).toString('utf8')
      if (line.endsWith('\r')) line = line.slice(0, -1)
      if (this.lineBytes > this.keptBytes) line += ` [... ${this.lineBytes - this.keptBytes} more bytes of this line: see log.txt]`
      if (this.lines.length > 0 && this.bytes + this.keptBytes > this.maxBytes) {
        this.nextFrom = this.no
        return false
      }
      this.lines.push(line)
      this.bytes += this.keptBytes
    }
    this.no++
    this.kept = []
    this.keptBytes = 0
    this.lineBytes = 0
    return this.no <= this.last
  }

  private keep (piece: Buffer): void {
    this.lineBytes += piece.length
    if (this.no < this.from || this.keptBytes >= this.maxLineBytes) return
    const part = piece.subarray(0, this.maxLineBytes - this.keptBytes)
    this.kept.push(Buffer.from(part))
    this.keptBytes += part.length
  }
}
