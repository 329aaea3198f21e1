import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setImmediate as nextTurn } from 'node:timers/promises'
import BetterSqlite3, { type Database } from 'better-sqlite3'
import type { IdentityRefusal, RunExport, StoreHealth } from '../rows.ts'
import type {
  Store, StoreAdmin, StoreExports, StoreIdentity, StoreIssues, StoreOptions, StorePatches, StoreRuns, StoreTokens, StoreTrends,
} from '../store.ts'
import { AdminStore } from './admin-store.ts'
import { openDatabase } from './database.ts'
import { ExportStore } from './export-store.ts'
import { IdentityAdmin } from './identity-admin.ts'
import { PatchStore } from './patch-store.ts'
import { RunStore } from './run-store.ts'
import { TokenStore } from './token-store.ts'
import { TrendStore } from './trend-store.ts'
import { WriteQueue } from './write-queue.ts'

/** How long one step of a run's insert holds the event loop. */
const WRITE_STEP_MS = 20
/** How long a write waits for another process's write lock, unless told otherwise. */
const WRITE_WAIT_MS = 10_000
/** How often the tokens' last uses are written. */
const TOKEN_FLUSH_MS = 5_000
/**
 * The write connection's page cache, KiB: 8 MiB, not the 64 MiB a connection gets (database.ts),
 * keeps the upload of a 1 GB log under 300 MB of RSS (bench: 331 MB with 64, 281 with 8); what it
 * costs a run stored into a store of millions of results is index pages read back from the OS's cache.
 */
const WRITE_CACHE_KIB = 8192

/**
 * The embedded backend: one SQLite file (or memory). Readers use one connection; writes go through
 * a connection of their own, one at a time (WriteQueue), and a run is written in steps of one
 * transaction between which the event loop runs, so that readers never see a run half stored and
 * a server never stops answering while a big run is stored. An in-memory database has only the
 * one connection: its writes are one synchronous transaction each.
 */
export class SqliteStore implements Store {
  readonly runs: StoreRuns
  readonly trends: StoreTrends
  readonly tokens: StoreTokens
  readonly issues: StoreIssues
  readonly patches: StorePatches
  readonly identity: StoreIdentity
  readonly admin: StoreAdmin
  readonly exports: StoreExports
  readonly spoolRoot: string
  /** The readers' connection: tests of this backend check its tables through it. */
  readonly db: Database
  /** The connection writes go through; the readers' own for an in-memory database. */
  readonly writeDb: Database
  private readonly queue = new WriteQueue()
  private readonly flushTimer: NodeJS.Timeout | null
  private readonly tokenStore: TokenStore

  constructor (path: string, options: StoreOptions = {}) {
    const clock = options.clock ?? (() => new Date())
    this.db = openDatabase(path, { readonly: options.readonly })
    const db = this.db
    const stepwise = !db.memory && !options.readonly
    try {
      this.writeDb = stepwise ? openDatabase(db.name, { busyTimeoutMs: 0 }) : db
    } catch (err) {
      db.close()
      throw err
    }
    if (stepwise) this.writeDb.pragma(`cache_size = -${WRITE_CACHE_KIB}`)
    const reader = new RunStore(db, { clock })
    const writer = stepwise ? new RunStore(this.writeDb, { clock }) : reader
    const queue = this.queue
    const writeWaitMs = options.writeWaitMs ?? WRITE_WAIT_MS
    this.spoolRoot = spoolRootOf(db)

    this.runs = {
      ingest: (meta, parsed, log) => queue.run(() => stepwise
        ? writer.ingestRunInSteps(meta, parsed, log, { stepMs: WRITE_STEP_MS, pause: () => nextTurn(), busyWaitMs: writeWaitMs })
        : writer.ingestRun(meta, parsed, log)),
      getRun: async id => reader.getRun(id),
      getRunTests: async id => reader.getRunTests(id),
      getRunTestsPage: async (id, cursor, limit, maxRows) => reader.getRunTestsPage(id, cursor, limit, maxRows),
      getLogLines: async (id, from, to, caps) => reader.getLogLines(id, from, to, caps),
      readLog: async function * (id) { yield * reader.readLog(id) },
      writeCounter: async () => reader.writeCounter(),
    }

    this.trends = promised(new TrendStore(db))

    this.tokenStore = new TokenStore(db, clock, this.writeDb)
    const tokens = this.tokenStore
    this.tokens = {
      create: async (name, scopes) => tokens.create(name, scopes),
      list: async () => tokens.list(),
      revoke: async name => tokens.revoke(name),
      verify: async presented => tokens.verify(presented),
      flushLastUsed: () => queue.run(() => tokens.flushLastUsed()),
    }
    // a token's last use is written every few seconds, after any write in progress, never waiting for a lock
    this.flushTimer = options.readonly
      ? null
      : setInterval(() => {
        if (!queue.busy) this.tokens.flushLastUsed().catch(err => options.warn?.(err, 'could not record token use'))
      }, TOKEN_FLUSH_MS)
    this.flushTimer?.unref()

    // known-issue writes go through the write connection and the queue, after any upload in
    // progress, never waiting on its lock with the event loop blocked; matching an issue again
    // over every stored result is a step at a time, each step a write of its own
    const rematch = async (id: number): Promise<number> => {
      const steps = writer.issues.rematchSteps(id)
      let matched = 0
      for (;;) {
        const step = await queue.run(() => steps.next())
        if (step.done) return matched
        matched = step.value
        await nextTurn()
      }
    }
    const issues = reader.issues
    this.issues = {
      get: async id => issues.get(id),
      list: async options => issues.list(options),
      listed: async id => issues.listed(id),
      audit: async id => issues.audit(id),
      matches: async id => issues.matches(id),
      perhapsFixed: async id => issues.perhapsFixed(id),
      create: async (definition, actor) => {
        const created = await queue.run(() => writer.issues.create(definition, actor, { match: false }))
        await rematch(created.id)
        return created
      },
      update: async (id, change, actor) => {
        const before = issues.get(id)
        if (before === null) return null
        const { active, ...patch } = change
        const updated = await queue.run(() => writer.issues.update(id, patch, actor, { match: false }))
        // while it was resolved, ingest did not match it: a reopened issue catches up
        let again = updated?.rematch ?? false
        if (active !== undefined) {
          await queue.run(() => writer.issues.setActive(id, active, actor, { match: false }))
          again ||= active && before.resolvedAt !== null
        }
        if (again) await rematch(id)
        return issues.get(id)
      },
      rematch,
      pendingRematches: async () => issues.pendingRematches(),
    }

    this.patches = promised(new PatchStore(db, clock))

    // renames and merges go through the write connection and the queue, as known-issue writes do;
    // the known issues a merge rescopes are matched again a step at a time
    const identity = new IdentityAdmin(this.writeDb, writer.issues, clock)
    const matchAgain = async <T extends { issuesRematched: number[] }>(report: T | IdentityRefusal | null): Promise<T | IdentityRefusal | null> => {
      if (report !== null && !('refused' in report)) for (const id of report.issuesRematched) await rematch(id)
      return report
    }
    this.identity = {
      renameSeries: (id, name) => queue.run(() => identity.renameSeries(id, name)),
      mergeSeries: async (fromId, intoId, actor) => matchAgain(await queue.run(() => identity.mergeSeries(fromId, intoId, actor, { match: false }))),
      renameMachine: (id, name, actor) => queue.run(() => identity.renameMachine(id, name, actor)),
      mergeMachines: async (fromId, intoId, actor) => matchAgain(await queue.run(() => identity.mergeMachines(fromId, intoId, actor, { match: false }))),
    }

    const admin = new AdminStore(db, issues)
    this.admin = {
      deleteRun: async id => admin.deleteRun(id),
      mergeVersions: async (seriesId, from, into) => admin.mergeVersions(seriesId, from, into),
      prune: async (cutoff, options) => admin.prune(cutoff, options),
      backup: out => backup(db, out),
    }

    const exports = new ExportStore(db)
    this.exports = {
      findSeries: async idOrName => exports.findSeries(idOrName),
      hasVersion: async (seriesId, label) => exports.hasVersion(seriesId, label),
      runIds: async (seriesId, label) => exports.runIds(seriesId, label),
      run: async runId => runExportOf(reader, runId),
      workerLocation: () => db.memory ? null : db.name,
    }
  }

  async health (): Promise<StoreHealth> {
    return { backend: 'sqlite', writeCounter: await this.runs.writeCounter() }
  }

  async close (): Promise<void> {
    if (this.flushTimer !== null) {
      clearInterval(this.flushTimer)
      await this.tokens.flushLastUsed().catch(() => 0)
    }
    await this.queue.idle()
    if (this.writeDb !== this.db) this.writeDb.close()
    this.db.close()
  }
}

/** The methods of a class of synchronous statements, each answering a promise of what it returns. */
export type Promised<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never }

/** Every public method of `target`, answering a promise: for the readers, whose statements are synchronous. */
export function promised<T extends object> (target: T): Promised<T> {
  const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(target)).filter(name => name !== 'constructor')
  return Object.fromEntries(methods.map(name => {
    const method = (target as Record<string, (...args: unknown[]) => unknown>)[name]!
    return [name, async (...args: unknown[]) => method.apply(target, args)]
  })) as Promised<T>
}

/** A run as the exporters take it, read from `runs` as they ask. */
function runExportOf (runs: RunStore, runId: number): RunExport | null {
  const run = runs.getRun(runId)
  if (run === null) return null
  return {
    run,
    tests: runs.getRunTests(runId),
    lines: (from, to) => runs.getLogLines(runId, from, to)?.lines ?? [],
    knownIssues: runs.issues.exportedMatches(runId),
  }
}

/** A copy of the database at `out`, checked: every page under one read transaction. */
async function backup (db: Database, out: string): Promise<{ runs: number }> {
  // one step copies every page under one read transaction: a snapshot, which WAL lets writers go
  // on beside; in small steps another process's upload would restart the copy
  await db.backup(out, { progress: () => 1 << 30 })
  const copy = new BetterSqlite3(out, { readonly: true })
  try {
    const check = copy.pragma('integrity_check', { simple: true })
    if (check !== 'ok') throw new Error(`the backup failed its integrity check: ${String(check)}`)
    return { runs: copy.prepare('SELECT count(*) FROM runs').pluck().get() as number }
  } finally {
    copy.close()
  }
}

/** The spool root of the servers of database `db` (Store.spoolRoot): in the temp dir, named for the database file. */
function spoolRootOf (db: Database): string {
  const name = db.memory ? `memory-${process.pid}` : createHash('sha256').update(resolve(db.name)).digest('hex').slice(0, 12)
  return join(tmpdir(), `ksft-dashboard-spool-${name}`)
}
