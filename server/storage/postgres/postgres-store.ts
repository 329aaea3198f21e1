import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setImmediate as nextTurn } from 'node:timers/promises'
import type pg from 'pg'
import type { SubtestRecord, TestRecord } from '../../../ingest/index.ts'
import type { IdentityRefusal, RunExport, StoreHealth } from '../rows.ts'
import {
  redacted, type Store, type StoreAdmin, type StoreExports, type StoreIdentity, type StoreIssues, type StoreOptions, type StorePatches,
  type StoreRuns, type StoreTokens, type StoreTrends,
} from '../store.ts'
import { PostgresAdminStore } from './admin-store.ts'
import { openPostgres } from './connect.ts'
import { PostgresExportStore } from './export-store.ts'
import { PostgresIdentityAdmin } from './identity-admin.ts'
import { PostgresIssueStore, type RunMatcher } from './issue-store.ts'
import { PostgresPatchStore } from './patch-store.ts'
import { PostgresRunStore } from './run-store.ts'
import { PostgresTokenStore } from './token-store.ts'
import { PostgresTrendStore } from './trend-store.ts'

/** How often the tokens' last uses are written, as the SQLite store does. */
const TOKEN_FLUSH_MS = 5_000
/**
 * Lines of a result's end an export reads ahead (RunExport): the longest excerpt an exporter cuts
 * (JUnit's <system-out>, 64 Ki characters) holds no more lines than characters.
 */
const EXPORT_TAIL_LINES = 65_536

/**
 * The backend for many nodes: one PostgreSQL database, the classes of this directory composed over
 * one pool. Each write is a transaction of its own (a run is stored in one, on one connection), so
 * there is no write queue as SQLite's: PostgreSQL's row locks order the writes of every node. What
 * a reader sees changing is counted in the database (store_state.write_counter), so that an ETag
 * made on one node changes with a write on another.
 */
export class PostgresStore implements Store {
  readonly runs: StoreRuns
  readonly trends: StoreTrends
  readonly tokens: StoreTokens
  readonly issues: StoreIssues
  readonly patches: StorePatches
  readonly identity: StoreIdentity
  readonly admin: StoreAdmin
  readonly exports: StoreExports
  readonly spoolRoot: string
  /** The pool every statement runs on: tests of this backend check its tables through it. */
  readonly pool: pg.Pool
  private readonly inFlight = new InFlight()
  private readonly flushTimer: NodeJS.Timeout | null

  /** Opens the pool on `url` and brings the schema up to date (postgres/migrate.ts), or only checks it when `readonly`. */
  static async open (url: string, options: StoreOptions = {}): Promise<PostgresStore> {
    return new PostgresStore(await openPostgres(url, { readonly: options.readonly }), url, options)
  }

  constructor (pool: pg.Pool, url: string, options: StoreOptions = {}) {
    const clock = options.clock ?? (() => new Date())
    this.pool = pool
    this.spoolRoot = spoolRootOf(url)
    const track = this.inFlight.track.bind(this.inFlight)
    const runs = new PostgresRunStore(pool, { clock })

    this.runs = {
      ingest: (meta, parsed, log) => track(runs.ingestRun(meta, parsed, log)),
      getRun: id => track(runs.getRun(id)),
      getRunTests: id => track(runs.getRunTests(id)),
      getRunTestsPage: (id, cursor, limit, maxRows) => track(runs.getRunTestsPage(id, cursor, limit, maxRows)),
      getLogLines: (id, from, to, caps) => track(runs.getLogLines(id, from, to, caps)),
      readLog: id => this.inFlight.trackIterable(runs.readLog(id)),
      writeCounter: () => track(runs.writeCounter()),
    }

    this.trends = tracked(new PostgresTrendStore(pool), track)

    const tokens = new PostgresTokenStore(pool, clock)
    this.tokens = tracked(tokens, track)
    // a token's last use is written every few seconds; a row another node holds is left for the next flush
    this.flushTimer = options.readonly
      ? null
      : setInterval(() => {
        this.tokens.flushLastUsed().catch(err => options.warn?.(err, 'could not record token use'))
      }, TOKEN_FLUSH_MS)
    this.flushTimer?.unref()

    // a version merge matches the runs it moved again with ingest's own matcher, in the merge's
    // transaction; an issue with a log regex reads the lines there too
    const matchRun: RunMatcher = async (client, runId, run, results) => {
      const active = await runs.issues.activeIssues(client)
      if (active === null) return 0
      const lines = new Map<string, string[]>()
      if (active.readsLogs) {
        for (const result of results) {
          const key = `${result.lines[0]}:${result.lines[1]}`
          if (!lines.has(key)) lines.set(key, await runs.linesForMatching(runId, result.lines[0], result.lines[1], client))
        }
      }
      return runs.issues.matchRun(client, active, runId, run, results, (_runId, from, to) => lines.get(`${from}:${to}`) ?? [])
    }
    const issues = new PostgresIssueStore(pool, { clock, readLog: (runId, from, to, q) => runs.linesForMatching(runId, from, to, q), matchRun })

    // matching an issue again over every stored result is a step at a time, each a short
    // transaction of its own, with a turn of the event loop between two
    const rematch = (id: number): Promise<number> => track((async () => {
      let matched = 0
      for await (const step of issues.rematchSteps(id)) {
        matched = step
        await nextTurn()
      }
      return matched
    })())
    this.issues = {
      get: id => track(issues.get(id)),
      list: options => track(issues.list(options)),
      listed: id => track(issues.listed(id)),
      audit: id => track(issues.audit(id)),
      matches: id => track(issues.matches(id)),
      perhapsFixed: id => track(issues.perhapsFixed(id)),
      create: (definition, actor) => track((async () => {
        const created = await issues.create(definition, actor, { match: false })
        await rematch(created.id)
        return created
      })()),
      update: (id, change, actor) => track((async () => {
        const before = await issues.get(id)
        if (before === null) return null
        const { active, ...patch } = change
        const updated = await issues.update(id, patch, actor, { match: false })
        // while it was resolved, ingest did not match it: a reopened issue catches up
        let again = updated?.rematch ?? false
        if (active !== undefined) {
          await issues.setActive(id, active, actor, { match: false })
          again ||= active && before.resolvedAt !== null
        }
        if (again) await rematch(id)
        return issues.get(id)
      })()),
      rematch,
      pendingRematches: () => track(issues.pendingRematches()),
    }

    this.patches = tracked(new PostgresPatchStore(pool, clock), track)

    // the known issues a merge rescopes are matched again a step at a time, after its commit
    const identity = new PostgresIdentityAdmin(pool, issues, clock)
    const matchAgain = async <T extends { issuesRematched: number[] }>(report: T | IdentityRefusal | null): Promise<T | IdentityRefusal | null> => {
      if (report !== null && !('refused' in report)) for (const id of report.issuesRematched) await rematch(id)
      return report
    }
    this.identity = {
      renameSeries: (id, name) => track(identity.renameSeries(id, name)),
      mergeSeries: (fromId, intoId, actor) => track((async () => matchAgain(await identity.mergeSeries(fromId, intoId, actor, { match: false })))()),
      renameMachine: (id, name, actor) => track(identity.renameMachine(id, name, actor)),
      mergeMachines: (fromId, intoId, actor) => track((async () => matchAgain(await identity.mergeMachines(fromId, intoId, actor, { match: false })))()),
    }

    const admin = new PostgresAdminStore(pool, issues)
    this.admin = {
      deleteRun: id => track(admin.deleteRun(id)),
      mergeVersions: (seriesId, from, into) => track(admin.mergeVersions(seriesId, from, into)),
      prune: (cutoff, options) => track(admin.prune(cutoff, options)),
      // a consistent copy of a PostgreSQL database is pg_dump's craft, with its own formats and restore
      backup: async () => {
        throw new Error('a PostgreSQL store is backed up with pg_dump (pg_dump -Fc -f ksft.dump postgres://...), not ksft backup, which copies SQLite files')
      },
    }

    const exports = new PostgresExportStore(pool)
    this.exports = {
      findSeries: idOrName => track(exports.findSeries(idOrName)),
      hasVersion: (seriesId, label) => track(exports.hasVersion(seriesId, label)),
      runIds: (seriesId, label) => track(exports.runIds(seriesId, label)),
      run: runId => track(runExportOf(runs, issues, runId)),
      // a worker opens a pool of its own on the same database, which sees every commit
      workerLocation: () => url,
    }
  }

  async health (): Promise<StoreHealth> {
    return { backend: 'postgres', writeCounter: await this.runs.writeCounter() }
  }

  async close (): Promise<void> {
    if (this.flushTimer !== null) {
      clearInterval(this.flushTimer)
      await this.tokens.flushLastUsed().catch(() => 0)
    }
    await this.inFlight.idle()
    await this.pool.end()
  }
}

/** The promises of the store's work not yet settled: close waits for them before it ends the pool. */
class InFlight {
  private readonly pending = new Set<Promise<unknown>>()

  track<T> (work: Promise<T>): Promise<T> {
    this.pending.add(work)
    const forget = (): void => { this.pending.delete(work) }
    work.then(forget, forget)
    return work
  }

  /**
   * An async iterable whose reads are tracked one at a time: a reader that stops half way (a client
   * gone) and never ends its iteration holds no close back.
   */
  async * trackIterable<T> (source: AsyncIterable<T>): AsyncGenerator<T> {
    const iterator = source[Symbol.asyncIterator]()
    try {
      for (;;) {
        const step = await this.track(iterator.next())
        if (step.done === true) return
        yield step.value
      }
    } finally {
      await iterator.return?.()
    }
  }

  /** Resolves once everything tracked so far, and what it started meanwhile, has settled. */
  async idle (): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending])
  }
}

/** Every public method of `target`, its promise tracked. */
function tracked<T extends object> (target: T, track: <R>(work: Promise<R>) => Promise<R>): T {
  const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(target)).filter(name => name !== 'constructor')
  return Object.fromEntries(methods.map(name => {
    const method = (target as Record<string, (...args: unknown[]) => Promise<unknown>>)[name]!
    return [name, (...args: unknown[]) => track(method.apply(target, args))]
  })) as T
}

/**
 * A run as the exporters take it. They read its log synchronously, through a window over each
 * result's end (export/log-excerpt.ts): those lines are read here first, each result's last
 * EXPORT_TAIL_LINES, the ranges of neighbouring results read together.
 */
async function runExportOf (runs: PostgresRunStore, issues: PostgresIssueStore, runId: number): Promise<RunExport | null> {
  const run = await runs.getRun(runId)
  if (run === null) return null
  const tests = await runs.getRunTests(runId)
  const segments: Array<{ from: number, lines: string[] }> = []
  for (const [from, to] of mergedRanges(tests)) {
    const slice = await runs.getLogLines(runId, from, to)
    if (slice !== null && slice.lines.length > 0) segments.push({ from, lines: slice.lines })
  }
  return {
    run,
    tests,
    // the lines from `from` on that were read, up to `to`: contiguous, as the window takes them
    lines: (from, to) => {
      const segment = segmentAt(segments, from)
      return segment === undefined ? [] : segment.lines.slice(from - segment.from, to - segment.from + 1)
    },
    knownIssues: await issues.exportedMatches(runId),
  }
}

/** The end of every test's and subtest's lines, as ranges in log order with overlapping and adjacent ones merged. */
function mergedRanges (tests: readonly TestRecord[]): Array<[number, number]> {
  const ranges: Array<[number, number]> = []
  const visit = (record: TestRecord | SubtestRecord): void => {
    const [from, to] = record.lines
    if (to >= from) ranges.push([Math.max(from, to - EXPORT_TAIL_LINES + 1), to])
    for (const subtest of record.subtests) visit(subtest)
  }
  for (const test of tests) visit(test)
  ranges.sort((a, b) => a[0] - b[0])
  const merged: Array<[number, number]> = []
  for (const [from, to] of ranges) {
    const last = merged.at(-1)
    if (last !== undefined && from <= last[1] + 1) last[1] = Math.max(last[1], to)
    else merged.push([from, to])
  }
  return merged
}

/** The segment holding line `line`, by binary search over segments in line order. */
function segmentAt (segments: ReadonlyArray<{ from: number, lines: string[] }>, line: number): { from: number, lines: string[] } | undefined {
  let low = 0
  let high = segments.length - 1
  while (low <= high) {
    const mid = (low + high) >> 1
    const segment = segments[mid]!
    if (line < segment.from) high = mid - 1
    else if (line >= segment.from + segment.lines.length) low = mid + 1
    else return segment
  }
  return undefined
}

/**
 * The spool root of the servers of the database `url` names (Store.spoolRoot): in the temp dir,
 * named for the URL without its password (which a restart with a new one must not change, and which
 * must not reach a file name). Every node of the database on this host has it: each spools in a
 * directory of its own under it.
 */
function spoolRootOf (url: string): string {
  // the userinfo's password masked, then dropped with its mask: the name is the same with or without one
  const named = redacted(url).replace(':***@', '@')
  return join(tmpdir(), `ksft-dashboard-spool-${createHash('sha256').update(named).digest('hex').slice(0, 12)}`)
}
