import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { inflateSync } from 'node:zlib'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { runCompleteness, STATUSES, summarize, type TestRecord } from '../../../ingest/index.ts'
import { versionSortKey } from '../../domain/version-label.ts'
import { infrastructureEvidence } from '../../queries/verdict.ts'
import { cellOf } from '../outcome-cells.ts'
import { OUTCOME_BITS_SQL } from '../outcome-sql.ts'
import {
  dedupKeyOf, gatherTriage, keptWarnings, legacyDedupKeyOf, LogLineReader, MAX_KEPT, resultCount, ResultWalk, runView, summariesByCollection, treeOf,
  type ResultRow, type RunRow,
} from '../run-records.ts'
import type { IngestOutcome, LogChunk, LogSlice, ParsedRun, RunMetadata, RunView, StoredLog, TriageResult } from '../rows.ts'
import { storableString } from './connect.ts'
import { PostgresIdentityStore, type Queryable } from './identity-store.ts'
import { PostgresIssueMatching, type ActiveIssues } from './issue-matching.ts'
import { TROUBLED_RESULT_SQL } from './outcomes.ts'
import { inTransaction } from './transaction.ts'

/**
 * Characters of COPY rows handed to the connection at a time (about 1 000 results): the database
 * stores them while the walk builds the next.
 */
const COPY_CHUNK_CHARS = 64 * 1024
/** Case names looked up or inserted per statement, as arrays. */
const CASE_BATCH = 10_000
/** How much of a test's log a known issue's log regex reads: a runaway test's megabytes are not scanned. */
const LOG_BYTES_FOR_MATCHING = 1 << 20
/** Cached case ids: a run's worth of new names must not grow the cache without bound. */
const MAX_CACHED_CASES = 500_000
/** Chunks of the raw log read per statement by getLogLines and readLog. */
const CHUNKS_PER_READ = 4
/**
 * The advisory lock ('ksfc') an ingest takes before it inserts cases, held to its commit. Cases are
 * inserted in the order the run meets them, as SQLite does (the ids are the same on both backends):
 * two uploads meeting the same new names in another order would otherwise each wait for the
 * other's uncommitted case, a deadlock. Uploads whose cases are all known never take it.
 */
const CASES_LOCK = 0x6b736663

/** A case id known to the store, with the subtests under it that have been seen. */
interface CaseNode {
  id: number
  subtests: Map<string, CaseNode> | null
}

/** A case the cache did not know, and the results of the run that are about it. */
interface NewCase {
  collection: string
  test: string
  /** The subtest names under the test, empty for the test. */
  path: readonly string[]
  pathJson: string
  seqs: number[]
  id: number
}

/**
 * The runs, their results and their raw logs in PostgreSQL: the twin of run-store.ts, with the same
 * methods and answers (test/server/storage/postgres-run-store.test.ts holds the two to the same
 * rows), each a Promise. A run is stored in one transaction on one pooled connection; several
 * processes (nodes) may store into one database at once.
 */
export class PostgresRunStore {
  /** Case ids by collection and test, subtests under their test: committed ones only (see casesOf). */
  private readonly testCases = new Map<string, CaseNode>()
  private cachedCases = 0
  private readonly clock: () => Date

  /** Which series and machine each run belongs to. */
  readonly identity = new PostgresIdentityStore()
  /** Matches the active known issues against each run as it is stored. */
  readonly issues = new PostgresIssueMatching()

  constructor (private readonly pool: pg.Pool, options: { clock?: () => Date } = {}) {
    this.clock = options.clock ?? (() => new Date())
  }

  /** The number of writes committed so far, by any node: changes whenever anything a reader sees changes. */
  async writeCounter (): Promise<number> {
    const { rows } = await this.pool.query<{ value: number }>("SELECT value FROM store_state WHERE key = 'write_counter'")
    return rows[0]!.value
  }

  /**
   * Stores one run whole, in one transaction, or nothing. The same log with the same metadata
   * again returns the run stored the first time, also when it reaches two nodes at once: the
   * second insert of its dedup key waits for the first transaction, conflicts, and this returns
   * the run that won.
   */
  async ingestRun (meta: RunMetadata, parsed: ParsedRun, log: StoredLog): Promise<IngestOutcome> {
    const dedupKey = dedupKeyOf(log.sha256, meta)
    // runs stored before job_url left the identity have their key made with it
    const legacyKey = legacyDedupKeyOf(log.sha256, meta)
    const now = this.clock().toISOString()
    const existing = await this.findRun(this.pool, dedupKey, legacyKey)
    if (existing !== undefined) return { runId: existing, created: false, series: await this.identity.resolveSeries(this.pool, meta, now, { write: false }) }
    // a generator's iterator is itself: run again, the transaction would store the run without its log
    if (log.chunks[Symbol.iterator]() as unknown === log.chunks) throw new Error('a log\'s chunks must be iterable again from the first (StoredLog.chunks)')

    // a transaction ended by a deadlock runs again (inTransaction): it reads the log's chunks again,
    // and the cases it inserted are cached only once it committed
    const stored = await inTransaction(this.pool, client => this.store(client, meta, parsed, log, dedupKey, now), { rollbackIf: stored => stored === null })
    if (stored === null) {
      // another node stored the same run meanwhile: its transaction committed before our insert returned
      const winner = await this.findRun(this.pool, dedupKey, legacyKey)
      if (winner === undefined) throw new Error('a run with the same dedup key was being stored and is gone')
      return { runId: winner, created: false, series: await this.identity.resolveSeries(this.pool, meta, now, { write: false }) }
    }
    // committed: now other transactions may use them too
    this.cacheCases(stored.newCases)
    return stored.outcome
  }

  private async findRun (q: Queryable, dedupKey: string, legacyKey: string): Promise<number | undefined> {
    const { rows } = await q.query<{ id: number }>('SELECT id FROM runs WHERE dedup_key = ANY($1::text[]) ORDER BY dedup_key = $2 DESC LIMIT 1', [[dedupKey, legacyKey], dedupKey])
    return rows[0]?.id
  }

  /** The writes of one run, on a client in a transaction; null when the run turned out stored already (by another node). */
  private async store (c: pg.PoolClient, meta: RunMetadata, parsed: ParsedRun, log: StoredLog, dedupKey: string, now: string): Promise<Stored | null> {
    const series = (await this.identity.resolveSeries(c, meta, now, { write: true }))!
    const seriesId = series.id
    // the series' row first, as an admin's delete and merge take it (admin-store.ts, identity-admin.ts):
    // an upload then never holds the version an admin waits for while it waits for the series
    await c.query('SELECT 1 FROM series WHERE id = $1 FOR KEY SHARE', [seriesId])
    const version = await this.version(c, seriesId, meta, now)
    const machine = await this.identity.resolveMachine(c, meta, now)
    const machineId = machine.id

    const summary = summarize(parsed.tests.map(test => test.status))
    const completeness = runCompleteness(parsed)
    const inserted = await c.query<{ id: number }>(`
      INSERT INTO runs (version_id, machine_id, kernel, commit_sha, arch, cpu, flags, job_url, started_at, created_at,
        content_sha256, dedup_key, log_bytes, log_lines, total, pass, fail, skip, xfail, xpass, timeout, error, warnings, plans,
        complete, incomplete_reasons, not_run)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)
      ON CONFLICT (dedup_key) DO NOTHING RETURNING id`, [
      version.id, machineId, meta.kernel, meta.commit, meta.arch, meta.cpu, meta.flags.join(','), meta.jobUrl, meta.startedAt, now,
      log.sha256, dedupKey, log.bytes, log.lines, summary.total, summary.pass, summary.fail, summary.skip, summary.xfail, summary.xpass,
      summary.timeout, summary.error, JSON.stringify(keptWarnings(parsed)), JSON.stringify(parsed.plans.slice(0, MAX_KEPT)),
      completeness.complete ? 1 : 0, JSON.stringify(completeness.reasons), completeness.notRun,
    ])
    // the same run, stored by another node while this one resolved its identity
    if (inserted.rows[0] === undefined) return null
    const runId = inserted.rows[0].id

    // issues with a log regex read the run's own lines: kept here, as the database would give them
    // only to this transaction and the matcher reads synchronously
    const revision = await this.issues.revision(c)
    const active = await this.issues.activeIssues(c)
    const keptChunks: LogChunk[] | null = active?.readsLogs === true ? [] : null
    let chunkSeq = 0
    for (const chunk of log.chunks) {
      // awaited before the next chunk is taken: its buffer is read into again (types.ts StoredLog)
      await c.query('INSERT INTO log_chunks (run_id, seq, first_line, line_count, content) VALUES ($1, $2, $3, $4, $5)',
        [runId, chunkSeq++, chunk.firstLine, chunk.lineCount, chunk.content])
      keptChunks?.push({ ...chunk, content: Buffer.from(chunk.content) })
    }

    const { ids: cases, newCases } = await this.casesOf(c, parsed.tests)
    const triage = await this.insertResults(c, runId, parsed.tests, cases, active !== null)

    // The aggregates the trend queries read (001-schema.sql), counted from the rows just written
    // (GROUP BY: a case twice in one run, a test that printed its result twice, is one row). The
    // version and machine's lock, held to the commit, orders the uploads into them: each sees what
    // the last one committed. Into a version and machine without rows yet, the usual upload (its
    // first run there), the rows are inserted, else added to (an upsert, which took 1.9-2.0 s for
    // 245 000 cases where the insert takes 0.9-1.5). A merge or deletion that writes these rows
    // first holds the series, version or machine, which this upload's run holds too (KEY SHARE,
    // taken by the run's insert): it comes wholly before this statement or after the commit.
    await c.query('SELECT pg_advisory_xact_lock($1::integer, $2::integer)', [version.id, machineId])
    const { rows: [counted] } = await c.query<{ counted: boolean }>(
      'SELECT EXISTS (SELECT 1 FROM case_stats WHERE version_id = $1 AND machine_id = $2) AS counted', [version.id, machineId])
    await c.query(counted!.counted ? ADD_CASE_STATS : INSERT_CASE_STATS, [version.id, machineId, runId])
    await c.query(ADD_SERIES_TESTS, [seriesId, runId])
    // the run's tests per collection, from the parse: a few rows, each with its collection's completeness
    const incomplete = new Map(completeness.collections.filter(collection => !collection.complete).map(collection => [collection.collection, collection.notRun]))
    const collections = [...summariesByCollection(parsed.tests)]
    await c.query(INSERT_RUN_COLLECTIONS, [
      runId, collections.map(([collection]) => collection), collections.map(([, counts]) => counts.total),
      ...STATUSES.map(status => collections.map(([, counts]) => counts[status])),
      collections.map(([collection]) => incomplete.has(collection) ? 0 : 1), collections.map(([collection]) => incomplete.get(collection) ?? 0),
    ])
    if (active !== null) {
      await this.issues.matchRun(c, active, runId, {
        seriesId, versionLabel: meta.version, machine: machine.name, arch: meta.arch, cpuFlags: meta.flags, kernel: meta.kernel,
      }, triage!, (_runId, from, to) => linesOfChunks(keptChunks ?? [], log.lines, from, to))
    }

    // Rows every upload of a machine, a version or the whole store updates, last: their locks are
    // held from here to the commit only, so uploads on several nodes overlap all the rest.
    if (!machine.created) await this.identity.describeMachine(c, machineId, meta, now)
    if (!version.created && VERSION_FIELDS.some(field => meta[field] !== null)) {
      await c.query(`
        UPDATE versions SET message_id = coalesce($2, message_id), base_commit = coalesce($3, base_commit), tree_name = coalesce($4, tree_name),
          git_url = coalesce($5, git_url), patchset_hash = coalesce($6, patchset_hash)
        WHERE id = $1`, [version.id, ...VERSION_FIELDS.map(field => meta[field])])
    }
    // rewritten from case_stats as this statement sees it: under the version and machine's lock
    // (above), so an upload into them that committed meanwhile is in it and none is under way
    await c.query(WRITE_OUTCOME_SET, [version.id, machineId])
    await c.query("UPDATE store_state SET value = value + 1 WHERE key = 'write_counter'")
    // An issue changed on any node since the matching above: its rematch steps take the write
    // counter's row first (issue-store.ts step), so one that has not run yet waits for this commit
    // and then sees this run, and one that ran did not see it. Matching again with the issues as
    // they are now, from here on under the counter's lock, leaves no run matched by an old rule.
    if (await this.issues.revision(c) !== revision) {
      await this.issues.matchAgain(c, runId, {
        seriesId, versionLabel: meta.version, machine: machine.name, arch: meta.arch, cpuFlags: meta.flags, kernel: meta.kernel,
      }, (from, to) => this.linesForMatching(runId, from, to, c))
    }
    return { outcome: { runId, created: true, series }, newCases }
  }

  /**
   * The version of the upload, created when new. A version found is updated with what the upload
   * says of it last in the transaction (see store), as SQLite's upsert does first.
   */
  private async version (c: pg.PoolClient, seriesId: number, meta: RunMetadata, now: string): Promise<{ id: number, created: boolean }> {
    const found = await c.query<{ id: number }>('SELECT id FROM versions WHERE series_id = $1 AND label = $2', [seriesId, meta.version])
    if (found.rows[0] !== undefined) return { id: found.rows[0].id, created: false }
    // an upsert: another node creating the same version meanwhile is waited for, then updated as
    // SQLite's upsert would (so `created` here means "needs no update at the end" as well)
    const { rows } = await c.query<{ id: number }>(`
      INSERT INTO versions (series_id, label, sort_key, message_id, base_commit, tree_name, git_url, patchset_hash, created_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
      ON CONFLICT (series_id, label) DO UPDATE SET
        message_id = coalesce(excluded.message_id, versions.message_id),
        base_commit = coalesce(excluded.base_commit, versions.base_commit),
        tree_name = coalesce(excluded.tree_name, versions.tree_name),
        git_url = coalesce(excluded.git_url, versions.git_url),
        patchset_hash = coalesce(excluded.patchset_hash, versions.patchset_hash)
      RETURNING id`, [seriesId, meta.version, versionSortKey(meta.version), ...VERSION_FIELDS.map(field => meta[field]), now])
    return { id: rows[0]!.id, created: true }
  }

  /**
   * The run's result rows in one COPY, written as the walk goes: the database stores a batch while
   * the next is built. Returns the results to triage when `gather`.
   */
  private async insertResults (c: pg.PoolClient, runId: number, tests: TestRecord[], cases: Int32Array, gather: boolean): Promise<TriageResult[] | null> {
    const triage: TriageResult[] | null = gather ? [] : null
    const walk = new ResultWalk(tests)
    function * rows (): Generator<string> {
      let text = ''
      while (walk.next()) {
        if (triage !== null) gatherTriage(triage, walk)
        const record = walk.record
        const test = walk.parentSeq === -1 ? walk.test : null
        const exitCode = test === null ? null : test.exitCode
        // what SQLite's ksft_infrastructure() answers inside its SQL, stored (001-schema.sql, results.infrastructure)
        const infrastructure = infrastructureEvidence({ status: record.status, exitCode, reason: record.reason }) === null ? 0 : 1
        text += `${runId}\t${walk.seq}\t${test === null ? walk.parentSeq : NULL_FIELD}\t${cases[walk.seq]!}\t${record.status}\t${copyNumber(test?.number)}\t` +
          `${copyNumber(exitCode)}\t${copyNumber(test?.timeoutSeconds)}\t${record.reason === null ? NULL_FIELD : copyString(record.reason)}\t` +
          `${test === null || test.flags.length === 0 ? '' : test.flags.join(',')}\t${record.lines[0]}\t${record.lines[1]}\t${infrastructure}\n`
        if (text.length >= COPY_CHUNK_CHARS) {
          yield text
          text = ''
        }
      }
      if (text !== '') yield text
    }
    await pipeline(Readable.from(rows()), c.query(copyFrom(COPY_RESULTS)))
    return triage
  }

  /**
   * The case id of each of the run's results, by `seq`: from the cache, else the cases table, else
   * inserted, in the order the run meets them (as SQLite inserts them). The cache holds committed
   * cases only: a case another upload of this process inserted and then rolled back must not be
   * handed to this one. Returns the cases the cache did not know, to cache after the commit.
   */
  private async casesOf (c: pg.PoolClient, tests: TestRecord[]): Promise<{ ids: Int32Array, newCases: NewCase[] }> {
    const ids = new Int32Array(resultCount(tests))
    const unknown = new Map<string, NewCase>()
    // the cached case of the result being looked at and of each result above it, by depth
    const nodes: Array<CaseNode | undefined> = []
    const walk = new ResultWalk(tests)
    while (walk.next()) {
      const { test, depth } = walk
      const node = depth === 0 ? this.testCases.get(`${test.collection}\u0000${test.name}`) : nodes[depth - 1]?.subtests?.get(walk.record.name)
      nodes[depth] = node
      if (node !== undefined) {
        ids[walk.seq] = node.id
        continue
      }
      const pathJson = depth === 0 ? '[]' : JSON.stringify(walk.path)
      const key = `${test.collection}\u0000${test.name}\u0000${pathJson}`
      const known = unknown.get(key)
      if (known !== undefined) known.seqs.push(walk.seq)
      // as the table gives them back: the names of an insert's RETURNING are matched to these
      else unknown.set(key, { collection: storableString(test.collection), test: storableString(test.name), path: [...walk.path], pathJson, seqs: [walk.seq], id: 0 })
    }
    const newCases = [...unknown.values()]
    let missing = await this.findCases(c, newCases)
    if (missing.length > 0) {
      await c.query('SELECT pg_advisory_xact_lock($1)', [CASES_LOCK])
      // inserted by an upload that held the lock before this one
      missing = await this.findCases(c, missing)
      for (let from = 0; from < missing.length; from += CASE_BATCH) {
        const batch = missing.slice(from, from + CASE_BATCH)
        const byKey = new Map(batch.map(item => [`${item.collection}\u0000${item.test}\u0000${item.pathJson}`, item]))
        const { rows } = await c.query<{ id: number, collection: string, test: string, path: string }>(`
          INSERT INTO cases (collection, test, path)
          SELECT collection, test, path FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(collection, test, path, ord)
          ORDER BY ord
          ON CONFLICT DO NOTHING RETURNING id, collection, test, path`,
        [batch.map(item => item.collection), batch.map(item => item.test), batch.map(item => item.pathJson)])
        for (const row of rows) byKey.get(`${row.collection}\u0000${row.test}\u0000${row.path}`)!.id = row.id
      }
      // a writer that does not take the lock (a copy of a store) inserted one meanwhile
      if ((await this.findCases(c, missing.filter(item => item.id === 0))).length > 0) throw new Error('cases could not be inserted')
    }
    for (const item of newCases) for (const seq of item.seqs) ids[seq] = item.id
    return { ids, newCases }
  }

  /** Sets the id of each of `wanted` that the cases table has; returns the others. */
  private async findCases (c: pg.PoolClient, wanted: NewCase[]): Promise<NewCase[]> {
    for (let from = 0; from < wanted.length; from += CASE_BATCH) {
      const batch = wanted.slice(from, from + CASE_BATCH)
      const { rows } = await c.query<{ ord: number, id: number }>(`
        SELECT u.ord, c.id FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(collection, test, path, ord)
        JOIN cases c ON c.collection = u.collection AND c.test = u.test AND c.path = u.path`,
      [batch.map(item => item.collection), batch.map(item => item.test), batch.map(item => item.pathJson)])
      for (const row of rows) batch[row.ord - 1]!.id = row.id
    }
    return wanted.filter(item => item.id === 0)
  }

  /** Cases of a committed run, into the cache (its tree: a subtest under its parent, which the run met first). */
  private cacheCases (newCases: readonly NewCase[]): void {
    // a run's worth of new names must not grow the cache without bound
    if (this.cachedCases + newCases.length > MAX_CACHED_CASES) {
      this.testCases.clear()
      this.cachedCases = 0
    }
    for (const item of newCases) {
      const key = `${item.collection}\u0000${item.test}`
      if (item.path.length === 0) {
        if (!this.testCases.has(key)) this.testCases.set(key, { id: item.id, subtests: null })
        this.cachedCases++
        continue
      }
      let parent = this.testCases.get(key)
      for (const name of item.path.slice(0, -1)) parent = parent?.subtests?.get(name)
      if (parent === undefined) continue
      const name = item.path[item.path.length - 1]!
      if (!(parent.subtests ??= new Map()).has(name)) parent.subtests.set(name, { id: item.id, subtests: null })
      this.cachedCases++
    }
  }

  async getRun (id: number): Promise<RunView | null> {
    const { rows } = await this.pool.query<RunRow>(`
      SELECT r.*, s.id AS series_id, s.name AS series_name, v.id AS version_id, v.label AS version_label,
        v.message_id, v.base_commit, v.tree_name, v.git_url, v.patchset_hash, m.id AS machine_id, m.name AS machine_name, m.arch AS machine_arch,
        m.cpu AS machine_cpu, m.flags AS machine_flags
      FROM runs r JOIN versions v ON v.id = r.version_id JOIN series s ON s.id = v.series_id
      JOIN machines m ON m.id = r.machine_id
      WHERE r.id = $1`, [id])
    return rows[0] === undefined ? null : runView(rows[0])
  }

  /** The run's tests as a tree, the same shape the parser produced. */
  async getRunTests (id: number): Promise<TestRecord[]> {
    const { rows } = await this.pool.query<ResultRow>(`${SELECT_RESULTS} WHERE r.run_id = $1 ORDER BY r.seq`, [id])
    return treeOf(rows)
  }

  /**
   * A page of the run's tests, from the test at result `cursor` on: at most `limit` tests and, as
   * a bound on a test with a runaway number of subtests, about `maxRows` results. A test cut at
   * `maxRows` says so (`truncated`); `nextCursor` is where the next page starts, or null.
   */
  async getRunTestsPage (id: number, cursor: number, limit: number, maxRows: number): Promise<{ tests: TestRecord[], nextCursor: number | null, truncated: boolean }> {
    // the page never reads past the row after maxRows (SQLite's iteration stops there)
    const { rows: page } = await this.pool.query<ResultRow>(`${SELECT_RESULTS} WHERE r.run_id = $1 AND r.seq >= $2 ORDER BY r.seq LIMIT $3`, [id, cursor, maxRows + 1])
    const rows: ResultRow[] = []
    let tests = 0
    let nextCursor: number | null = null
    let truncated = false
    for (const row of page) {
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
    if (truncated) {
      const { rows: next } = await this.pool.query<{ seq: number | null }>('SELECT min(seq) AS seq FROM results WHERE run_id = $1 AND seq > $2 AND parent_seq IS NULL', [id, rows[rows.length - 1]!.seq])
      nextCursor = next[0]!.seq
    }
    return { tests: treeOf(rows), nextCursor, truncated }
  }

  /**
   * The lines a known issue's log regex reads of one result (`from`..`to`), capped as ingest caps
   * them: on `q`, a transaction's client when the caller holds one (a merge matching moved runs again).
   */
  async linesForMatching (id: number, from: number, to: number, q: Queryable = this.pool): Promise<string[]> {
    return (await this.getLogLines(id, from, to, { maxBytes: LOG_BYTES_FOR_MATCHING, maxLineBytes: 16_384 }, q))?.lines ?? []
  }

  /** Lines `from`..`to` (1-based, inclusive) of the raw log, clamped to the log. */
  async getLogLines (id: number, from: number, to: number, caps: { maxBytes?: number, maxLineBytes?: number } = {}, q: Queryable = this.pool): Promise<LogSlice | null> {
    const { rows } = await q.query<{ log_lines: number }>('SELECT log_lines FROM runs WHERE id = $1', [id])
    if (rows[0] === undefined) return null
    const reader = new LogLineReader(rows[0].log_lines, from, to, caps)
    if (reader.wanted) {
      // a few chunks a statement, as SQLite's iteration reads them: a range cut by maxBytes reads no further
      let afterSeq = -1
      for (;;) {
        const { rows: chunks } = await q.query<{ seq: number, first_line: number, content: Buffer }>(`
          SELECT seq, first_line, content FROM log_chunks
          WHERE run_id = $1 AND first_line <= $2 AND first_line + line_count >= $3 AND seq > $4 ORDER BY seq LIMIT $5`,
        [id, reader.last, from, afterSeq, CHUNKS_PER_READ])
        let going = true
        for (const chunk of chunks) {
          going = reader.push(chunk.first_line, inflateSync(chunk.content))
          if (!going) break
        }
        if (!going || chunks.length < CHUNKS_PER_READ) break
        afterSeq = chunks[chunks.length - 1]!.seq
      }
    }
    return reader.slice()
  }

  /** The whole raw log, chunk by chunk, as it was uploaded. */
  async * readLog (id: number): AsyncGenerator<Buffer> {
    let afterSeq = -1
    for (;;) {
      const { rows } = await this.pool.query<{ seq: number, content: Buffer }>(
        'SELECT seq, content FROM log_chunks WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3', [id, afterSeq, CHUNKS_PER_READ])
      for (const row of rows) yield inflateSync(row.content)
      if (rows.length < CHUNKS_PER_READ) return
      afterSeq = rows[rows.length - 1]!.seq
    }
  }
}

interface Stored {
  outcome: IngestOutcome
  newCases: NewCase[]
}

/** What an upload may say of its version, kept when it says it (coalesce). */
const VERSION_FIELDS = ['messageId', 'baseCommit', 'treeName', 'gitUrl', 'patchsetHash'] as const

/** The run's lines `from`..`to` from its chunks in memory, as getLogLines reads them for a known issue's log regex. */
function linesOfChunks (chunks: readonly LogChunk[], totalLines: number, from: number, to: number): string[] {
  const reader = new LogLineReader(totalLines, from, to, { maxBytes: LOG_BYTES_FOR_MATCHING, maxLineBytes: 16_384 })
  if (reader.wanted) {
    for (const chunk of chunks) {
      if (chunk.firstLine > reader.last || chunk.firstLine + chunk.lineCount < from) continue
      if (!reader.push(chunk.firstLine, inflateSync(chunk.content))) break
    }
  }
  return reader.slice().lines
}

// COPY's text format, a line a result (copyString): 245 000 results took 1.0 s where an INSERT
// from unnested array parameters, 10 000 rows a statement, took 1.9-2.8 s (the benchmark's dense log)
const COPY_RESULTS = `
  COPY results (run_id, seq, parent_seq, case_id, status, number, exit_code, timeout_seconds, reason, flags, line_from, line_to, infrastructure)
  FROM STDIN`
/** COPY's text format: a null field. */
const NULL_FIELD = '\\N'

function copyNumber (value: number | null | undefined): string {
  return value === null || value === undefined ? NULL_FIELD : String(value)
}

/** A string as a field of COPY's text format: its backslashes, tabs and line ends escaped, as PostgreSQL stores it (storableString). */
function copyString (value: string): string {
  const storable = storableString(value)
  return /[\\\t\n\r]/.test(storable) ? storable.replace(/[\\\t\n\r]/g, escapeCopyCharacter) : storable
}

const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' }
function escapeCopyCharacter (character: string): string {
  return COPY_ESCAPES[character]!
}

// sum(status = 'pass') in SQLite; a bigint count is cast to the integer column on insert. Sorted
// before it is grouped: without statistics for the run just written, the planner hashed its 245 000
// cases and sorted the groups after, spilling both to disk (540 ms against 330)
const INSERT_CASE_STATS = `
  INSERT INTO case_stats (version_id, machine_id, case_id, total, ${STATUSES.join(', ')}, trouble, infrastructure)
  SELECT $1::bigint, $2::bigint, r.case_id, count(*), ${STATUSES.map(status => `count(*) FILTER (WHERE r.status = '${status}')`).join(', ')},
    count(*) FILTER (WHERE ${TROUBLED_RESULT_SQL}), sum(r.infrastructure)
  FROM (SELECT * FROM results WHERE run_id = $3 ORDER BY case_id) r
  GROUP BY r.case_id ORDER BY r.case_id`

// added to the counts of the runs before
const ADD_CASE_STATS = `${INSERT_CASE_STATS}
  ON CONFLICT (version_id, machine_id, case_id) DO UPDATE SET
    total = case_stats.total + excluded.total, ${STATUSES.map(status => `${status} = case_stats.${status} + excluded.${status}`).join(', ')},
    trouble = case_stats.trouble + excluded.trouble, infrastructure = case_stats.infrastructure + excluded.infrastructure`

const ADD_SERIES_TESTS = `
  INSERT INTO series_tests (series_id, collection, test, case_id)
  SELECT DISTINCT $1::bigint, c.collection, c.test, c.id
  FROM results r JOIN cases c ON c.id = r.case_id
  WHERE r.run_id = $2 AND r.parent_seq IS NULL
  ORDER BY c.collection, c.test
  ON CONFLICT DO NOTHING`

const INSERT_RUN_COLLECTIONS = `
  INSERT INTO run_collections (run_id, collection, total, ${STATUSES.join(', ')}, complete, not_run)
  SELECT $1::bigint, * FROM unnest($2::text[], $3::integer[], ${STATUSES.map((_, i) => `$${i + 4}::integer[]`).join(', ')},
    $${STATUSES.length + 4}::smallint[], $${STATUSES.length + 5}::integer[])`

// SQLite's unhex(group_concat(printf('%08X', cell))): the last 4 of int8send's 8 big-endian bytes (001-schema.sql)
const WRITE_OUTCOME_SET = `
  INSERT INTO outcome_sets (version_id, machine_id, cells)
  SELECT $1::bigint, $2::bigint, string_agg(substr(int8send(case_id * ${cellOf(1, 0)} + ${OUTCOME_BITS_SQL}), 5), ''::bytea ORDER BY case_id)
  FROM case_stats WHERE version_id = $1 AND machine_id = $2
  ON CONFLICT (version_id, machine_id) DO UPDATE SET cells = excluded.cells`

const SELECT_RESULTS = `
  SELECT r.seq, r.parent_seq, c.collection, c.test, c.path, r.status, r.number, r.exit_code, r.timeout_seconds,
    r.reason, r.flags, r.line_from, r.line_to
  FROM results r JOIN cases c ON c.id = r.case_id`
