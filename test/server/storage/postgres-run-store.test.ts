// The PostgreSQL run store against the SQLite one: the same logs stored in both leave the same rows
// in every table (ids and times included) and get the same answers; and what only many nodes on one
// database can do to it: the same log stored at once from two pools, different logs into one version
// at once, a failure halfway.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test, type TestContext } from 'node:test'
import type { Database } from 'better-sqlite3'
import type pg from 'pg'
import { generateLog, scaledLogSpec, type LogSpec } from '../../../server/demo/log-generator.ts'
import type { IssueDefinition } from '../../../server/domain/known-issues.ts'
import { parseRunMetadata } from '../../../server/domain/run-metadata.ts'
import { LogIntake, storedLog } from '../../../server/services/ingest-log.ts'
import { openDatabase } from '../../../server/storage/sqlite/database.ts'
import { openPostgres } from '../../../server/storage/postgres/connect.ts'
import { PostgresRunStore } from '../../../server/storage/postgres/run-store.ts'
import { RunStore } from '../../../server/storage/sqlite/run-store.ts'
import { TROUBLE_FLAGS } from '../../../server/queries/verdict.ts'
import type { Status } from '../../../ingest/index.ts'
import type { IngestOutcome, ParsedRun, StoredLog } from '../../../server/storage/rows.ts'
import { capturedFixtureNames, capturedFixturePath, realFixtureNames, realFixturePath } from '../../helpers/fixtures.ts'
import { describePostgres, waitFor, type TestPostgres } from '../../helpers/postgres.ts'
import { tempDir } from '../../helpers/store.ts'

/** A clock that moves a second at every call: both stores ask it as often, so their times agree. */
function steppingClock (): () => Date {
  let calls = 0
  return () => new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678) + 1000 * calls++)
}

/** A log parsed and spooled once, as ingestLog does, to hand to both stores (each reads the spool anew). */
interface Spooled { parsed: ParsedRun, log: () => StoredLog, bytes: Buffer }

async function spool (t: TestContext, text: string | Buffer): Promise<Spooled> {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text
  const dir = tempDir(t)
  const intake = new LogIntake(dir)
  try {
    // in pieces, as an upload arrives
    for (let at = 0; at < bytes.length; at += 65_536) await intake.push(bytes.subarray(at, at + 65_536))
    const result = await intake.finish()
    return { parsed: result.parse, log: () => storedLog(dir, result), bytes }
  } finally {
    intake.close()
  }
}

function openSqlite (t: TestContext): { db: Database, store: RunStore } {
  const db = openDatabase(':memory:')
  t.after(() => db.close())
  return { db, store: new RunStore(db, { clock: steppingClock() }) }
}

async function openPg (t: TestContext, server: () => TestPostgres, url?: string): Promise<{ pool: pg.Pool, store: PostgresRunStore, url: string }> {
  const database = url ?? await server().createDatabase()
  const pool = await openPostgres(database)
  t.after(() => pool.end())
  return { pool, store: new PostgresRunStore(pool, { clock: steppingClock() }), url: database }
}

interface Both { sqlite: { db: Database, store: RunStore }, pg: { pool: pg.Pool, store: PostgresRunStore } }

/** Stores one log in both, and checks that they say the same about it. */
async function ingestBoth (t: TestContext, both: Both, text: string | Buffer, meta: Record<string, unknown>): Promise<IngestOutcome> {
  const spooled = await spool(t, text)
  const metadata = parseRunMetadata(meta)
  const fromSqlite = both.sqlite.store.ingestRun(metadata, spooled.parsed, spooled.log())
  const fromPg = await both.pg.store.ingestRun(metadata, spooled.parsed, spooled.log())
  assert.deepEqual(fromPg, fromSqlite)
  return fromPg
}

function quoted (name: string): string {
  return `"${name}"`
}

/** Every row of every table of both, in key order, ids and all: equal. */
async function assertSameRows (both: Both): Promise<void> {
  const { db } = both.sqlite
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[]
  for (const table of tables) {
    const columns = db.prepare(`SELECT name, pk FROM pragma_table_info(?) ORDER BY cid`).all(table) as Array<{ name: string, pk: number }>
    const key = columns.filter(column => column.pk > 0).sort((a, b) => a.pk - b.pk)
    const order = (key.length > 0 ? key : columns).map(column => quoted(column.name)).join(', ')
    const list = columns.map(column => quoted(column.name)).join(', ')
    // the fact PostgreSQL stores where SQLite calls its function (001-schema.sql, results.infrastructure)
    const sqliteExtra = table === 'results' ? ', ksft_infrastructure(status, exit_code, reason) AS infrastructure' : ''
    const pgExtra = table === 'results' ? ', infrastructure' : ''
    const fromSqlite = (db.prepare(`SELECT ${list}${sqliteExtra} FROM ${table} ORDER BY ${order}`).all() as Array<Record<string, unknown>>).map(comparable)
    const fromPg = (await both.pg.pool.query(`SELECT ${list}${pgExtra} FROM ${table} ORDER BY ${order}`)).rows.map(comparable)
    assert.deepEqual(fromPg, fromSqlite, `table ${table}`)
  }
}

/** A row with its blobs as hex, so that a Buffer and a Uint8Array of the same bytes compare equal. */
function comparable (row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([column, value]) => [column, value instanceof Uint8Array ? `bytes:${Buffer.from(value).toString('hex')}` : value]))
}

/** Every read of every run answers alike from both, and the raw log comes back byte for byte. */
async function assertSameAnswers (both: Both, logs: ReadonlyMap<number, Buffer>): Promise<void> {
  const ids = both.sqlite.db.prepare('SELECT id FROM runs ORDER BY id').pluck().all() as number[]
  assert.ok(ids.length > 0)
  for (const id of ids) {
    const run = both.sqlite.store.getRun(id)!
    assert.deepEqual(await both.pg.store.getRun(id), run, `run ${id}`)
    assert.deepEqual(await both.pg.store.getRunTests(id), both.sqlite.store.getRunTests(id), `tests of run ${id}`)
    for (const [limit, maxRows] of [[2, 1000], [5, 3], [1000, 1000]] as const) {
      let cursor: number | null = 0
      while (cursor !== null) {
        const page = both.sqlite.store.getRunTestsPage(id, cursor, limit, maxRows)
        assert.deepEqual(await both.pg.store.getRunTestsPage(id, cursor, limit, maxRows), page, `page of run ${id} at ${cursor}`)
        cursor = page.nextCursor
      }
    }
    const lines = run.logLines
    for (const [from, to, caps] of [[1, lines, {}], [1, lines + 10, { maxBytes: 2000 }], [Math.ceil(lines / 2), lines, { maxLineBytes: 20 }], [lines + 1, lines + 5, {}], [3, 2, {}]] as const) {
      assert.deepEqual(await both.pg.store.getLogLines(id, from, to, caps), both.sqlite.store.getLogLines(id, from, to, caps), `lines ${from}..${to} of run ${id}`)
    }
    const pieces: Buffer[] = []
    for await (const piece of both.pg.store.readLog(id)) pieces.push(piece)
    assert.ok(Buffer.concat(pieces).equals(logs.get(id)!), `the raw log of run ${id}, byte for byte`)
    const full = await both.pg.store.getLogLines(id, 1, lines)
    const expected = logs.get(id)!.toString('utf8').split('\n').slice(0, lines).map(line => line.endsWith('\r') ? line.slice(0, -1) : line)
    assert.deepEqual(full!.lines, expected, `the lines of run ${id}`)
  }
  assert.equal(await both.pg.store.getRun(999_999), null)
  assert.equal(await both.pg.store.getLogLines(999_999, 1, 10), null)
  assert.equal(await both.pg.store.writeCounter(), both.sqlite.store.writeCounter())
}

/** A synthetic log with some of everything: failures, skips, timeouts, a kernel WARNING, nested results, a panic at the end. */
function syntheticLog (seed: number, options: { tests?: number, panic?: boolean, extraSubtests?: number } = {}): string {
  const spec: LogSpec = scaledLogSpec({ seed, targetBytes: 0, tests: options.tests ?? 40, failRate: 0.2, skipRate: 0.15, timeoutRate: 0.05, extraSubtests: options.extraSubtests })
  const tests = spec.tests.map((test, i) => ({ ...test, kernelWarning: i % 7 === 3 }))
  if (options.panic) tests[tests.length - 1] = { ...tests[tests.length - 1]!, outcome: 'panic' }
  return generateLog({ ...spec, tests })
}

/** `count` test names: `prefix_1`... */
function names (prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}_${i + 1}`)
}

/** A small run_kselftest.sh log of these tests, each with two subtests, outcomes drawn from the seed. */
function tapLog (seed: number, tests: readonly string[]): string {
  const lines = ['TAP version 13', `1..${tests.length}`]
  for (const [i, name] of tests.entries()) {
    const fails = (seed * 7 + i * 3) % 5 === 0
    lines.push(`# selftests: demo: ${name}`, '# TAP version 13', '# 1..2', '# ok 1 setup', `# ${fails ? 'not ok' : 'ok'} 2 check`,
      `${fails ? 'not ok' : 'ok'} ${i + 1} selftests: demo: ${name}${fails ? ' # exit=1' : ''}`)
  }
  return `${lines.join('\n')}\n`
}

const META = { series: 'KVM: guest_memfd', version: 'v1', machine: 'snp-host-1', arch: 'x86_64', flags: 'sev,sev_snp', kernel: '6.12.0-rc1' }

/** Known issues as the SQLite IssueStore records them (row, revision, write counter), written by hand into either database. */
const ISSUES: Array<Pick<IssueDefinition, 'title'> & { columns: Record<string, unknown> }> = [
  { title: 'kvm failures', columns: { test_glob: 'kvm/*', statuses: '' } },
  { title: 'memfd timeouts on snp', columns: { test_glob: 'memfd/*', statuses: 'timeout,fail', machines: '["snp-host-1"]' } },
  { title: 'assertions in the log', columns: { test_glob: '*', log_regex: 'Assertion|assert|WARNING' } },
  { title: 'kernel trouble anywhere', columns: { test_glob: '*', kernel_trouble: 1, versions_from: 'v2' } },
  { title: 'resolved', columns: { test_glob: '*', resolved_at: '2026-01-01T00:00:00.000Z' } },
]

function issueInsert (issue: (typeof ISSUES)[number], placeholder: (i: number) => string): { sql: string, values: unknown[] } {
  const columns: Record<string, unknown> = {
    title: issue.title, culprit: 'kernel', created_at: '2026-01-01T00:00:00.000Z', created_by: 'test', updated_at: '2026-01-01T00:00:00.000Z', ...issue.columns,
  }
  const names = Object.keys(columns)
  return { sql: `INSERT INTO known_issues (${names.join(', ')}) VALUES (${names.map((_, i) => placeholder(i + 1)).join(', ')})`, values: Object.values(columns) }
}

const BUMP_REVISION = "INSERT INTO store_state (key, value) VALUES ('known_issues_revision', 1) ON CONFLICT (key) DO UPDATE SET value = store_state.value + 1"
const BUMP_COUNTER = "UPDATE store_state SET value = value + 1 WHERE key = 'write_counter'"

async function addIssues (both: Both): Promise<void> {
  for (const issue of ISSUES) {
    const forSqlite = issueInsert(issue, () => '?')
    both.sqlite.db.prepare(forSqlite.sql).run(...forSqlite.values)
    both.sqlite.db.prepare(BUMP_REVISION).run()
    both.sqlite.db.prepare(BUMP_COUNTER).run()
    const forPg = issueInsert(issue, i => `$${i}`)
    await both.pg.pool.query(forPg.sql, forPg.values)
    await both.pg.pool.query(BUMP_REVISION)
    await both.pg.pool.query(BUMP_COUNTER)
  }
}

/** case_stats and series_tests as counted again from the results: what ingest must have kept. */
async function assertAggregatesRecount (pool: pg.Pool): Promise<void> {
  const stored = await pool.query(`
    SELECT version_id, machine_id, case_id, total, pass, fail, skip, xfail, xpass, timeout, error, trouble, infrastructure
    FROM case_stats ORDER BY 1, 2, 3`)
  const recount = await pool.query(`
    SELECT ru.version_id, ru.machine_id, r.case_id, count(*)::int AS total,
      count(*) FILTER (WHERE r.status = 'pass')::int AS pass, count(*) FILTER (WHERE r.status = 'fail')::int AS fail,
      count(*) FILTER (WHERE r.status = 'skip')::int AS skip, count(*) FILTER (WHERE r.status = 'xfail')::int AS xfail,
      count(*) FILTER (WHERE r.status = 'xpass')::int AS xpass, count(*) FILTER (WHERE r.status = 'timeout')::int AS timeout,
      count(*) FILTER (WHERE r.status = 'error')::int AS error,
      count(*) FILTER (WHERE r.flags <> '' AND string_to_array(r.flags, ',') && $1::text[])::int AS trouble,
      sum(r.infrastructure)::int AS infrastructure
    FROM results r JOIN runs ru ON ru.id = r.run_id GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, [TROUBLE_FLAGS])
  assert.equal(stored.rows.length, recount.rows.length)
  assert.deepEqual(stored.rows, recount.rows)
  const seriesTests = await pool.query('SELECT series_id, collection, test, case_id FROM series_tests ORDER BY 1, 2, 3')
  const recountTests = await pool.query(`
    SELECT DISTINCT v.series_id, c.collection, c.test, c.id AS case_id FROM results r JOIN runs ru ON ru.id = r.run_id
    JOIN versions v ON v.id = ru.version_id JOIN cases c ON c.id = r.case_id WHERE r.parent_seq IS NULL ORDER BY 1, 2, 3`)
  assert.deepEqual(seriesTests.rows, recountTests.rows)
  // each outcome set as built again from its version and machine's cells
  const sets = await pool.query(`
    SELECT o.version_id, o.machine_id, o.cells = (
      SELECT string_agg(substr(int8send(s.case_id * 8 + CASE WHEN s.pass + s.xfail > 0 THEN 1 ELSE 0 END
        + CASE WHEN s.fail + s.xpass + s.timeout + s.error > 0 THEN 2 ELSE 0 END + CASE WHEN s.trouble > 0 THEN 4 ELSE 0 END), 5), ''::bytea ORDER BY s.case_id)
      FROM case_stats s WHERE s.version_id = o.version_id AND s.machine_id = o.machine_id) AS current
    FROM outcome_sets o`)
  assert.ok(sets.rows.length > 0)
  for (const row of sets.rows) assert.equal(row.current, true, `the outcome set of version ${row.version_id} on machine ${row.machine_id}`)
}

describePostgres('PostgreSQL run store', server => {
  test('synthetic logs leave the same rows as in SQLite, and every read answers the same', async (t) => {
    const both: Both = { sqlite: openSqlite(t), pg: await openPg(t, server) }
    const logs = new Map<number, Buffer>()
    const store = async (text: string | Buffer, meta: Record<string, unknown>) => {
      const outcome = await ingestBoth(t, both, text, meta)
      logs.set(outcome.runId, Buffer.from(text))
      return outcome
    }
    const first = syntheticLog(1, { extraSubtests: 3 })
    assert.equal((await store(first, META)).created, true)
    await store(syntheticLog(2), { ...META, machine: 'tdx-host-1', flags: 'tdx', cpu: 'Xeon' })
    await store(syntheticLog(3, { panic: true }), { ...META, version: 'v2', message_id: '<v2-cover@example.org>', base_commit: 'abc1234def' })
    // the same run again, from another CI job: the first one
    const again = await store(first, { ...META, job_url: 'https://ci.example.org/job/2' })
    assert.equal(again.created, false)
    // series identity: a change-id, a folded title, a chain of cover letters, a machine described anew
    await store(syntheticLog(4), { ...META, series: 'kvm:  GUEST_MEMFD', version: 'v3', change_id: '20241001-guest-memfd-a1b2c3d4e5f6' })
    await store(syntheticLog(5), { ...META, series: 'Another title', version: 'v4', change_id: '20241001-guest-memfd-a1b2c3d4e5f6', tree_name: 'kvm-next' })
    await store(syntheticLog(6), { ...META, series: 'Renamed again', version: 'v5', previous_message_ids: '<v2-cover@example.org>', arch: 'aarch64' })
    await store(syntheticLog(7), { ...META, series: 'KVM: guest_memfd', version: 'v6', change_id: '20241002-other-0123456789ab' })
    await store(syntheticLog(8, { tests: 120 }), { series: 'mm: other', version: 'RFC v1', machine: 'plain-host' })
    // a version that an upload says more about than its first did
    await store(syntheticLog(9), { ...META, version: 'v2', machine: 'tdx-host-1', git_url: 'https://git.example.org/kvm.git' })
    // a log of more chunks than a read of the log takes at once
    await store(generateLog(scaledLogSpec({ seed: 10, targetBytes: 6_000_000 })), { ...META, version: 'v7' })
    await assertSameRows(both)
    await assertSameAnswers(both, logs)
  })

  test('the real and captured logs leave the same rows as in SQLite, and read back byte for byte', async (t) => {
    const both: Both = { sqlite: openSqlite(t), pg: await openPg(t, server) }
    const logs = new Map<number, Buffer>()
    const paths = [...realFixtureNames().map(realFixturePath), ...capturedFixtureNames().map(capturedFixturePath)]
    for (const [i, path] of paths.entries()) {
      const bytes = readFileSync(path)
      let outcome: IngestOutcome
      try {
        outcome = await ingestBoth(t, both, bytes, { ...META, version: `v${1 + (i % 4)}`, machine: `host-${i % 3}` })
      } catch (err) {
        // a file that is not a kselftest log is refused by the intake, before either store
        if ((err as { code?: string }).code === 'NOT_KSELFTEST') continue
        throw err
      }
      logs.set(outcome.runId, bytes)
    }
    assert.ok(logs.size > 5, `${logs.size} logs stored`)
    await assertSameRows(both)
    await assertSameAnswers(both, logs)
  })

  test('known issues match at ingest as in SQLite, and a changed issue is seen by the next ingest', async (t) => {
    const both: Both = { sqlite: openSqlite(t), pg: await openPg(t, server) }
    await ingestBoth(t, both, syntheticLog(11), META)
    await addIssues(both)
    await ingestBoth(t, both, syntheticLog(12), META)
    await ingestBoth(t, both, syntheticLog(13, { panic: true }), { ...META, version: 'v2' })
    await ingestBoth(t, both, syntheticLog(14), { ...META, version: 'v2', machine: 'tdx-host-1' })
    const matched = await both.pg.pool.query<{ issue_id: number, count: number }>('SELECT issue_id, count(*)::int AS count FROM known_issue_matches GROUP BY 1 ORDER BY 1')
    // every active issue matched something, and the resolved one nothing
    assert.deepEqual(matched.rows.map(row => row.issue_id), [1, 2, 3, 4])
    // the first run came before the issues: ingest matched nothing of it
    assert.equal((await both.pg.pool.query('SELECT 1 FROM known_issue_matches WHERE run_id = 1')).rowCount, 0)
    // an issue resolved (on another node, say): the next ingest no longer matches it
    for (const sql of ["UPDATE known_issues SET resolved_at = '2026-01-03T00:00:00.000Z' WHERE id = 1", BUMP_REVISION, BUMP_COUNTER]) {
      both.sqlite.db.prepare(sql).run()
      await both.pg.pool.query(sql)
    }
    const last = await ingestBoth(t, both, syntheticLog(15), { ...META, version: 'v3' })
    assert.equal((await both.pg.pool.query('SELECT 1 FROM known_issue_matches WHERE run_id = $1 AND issue_id = 1', [last.runId])).rowCount, 0)
    await assertSameRows(both)
  })

  test('U+0000, which PostgreSQL text cannot hold, is stored as U+FFFD in names and reasons; the raw log keeps the byte', async (t) => {
    const { store, pool } = await openPg(t, server)
    // a serial console's NULs, in a test's name and in its reason
    const text = 'TAP version 13\n1..2\n# selftests: kvm: nul\u0000test\nnot ok 1 selftests: kvm: nul\u0000test # exit=1\n' +
      '# selftests: kvm: other\nok 2 selftests: kvm: other # SKIP no\u0000 device\n'
    const spooled = await spool(t, text)
    const { runId } = await store.ingestRun(parseRunMetadata(META), spooled.parsed, spooled.log())
    const { rows: cases } = await pool.query<{ test: string }>('SELECT c.test FROM results r JOIN cases c ON c.id = r.case_id WHERE r.run_id = $1 ORDER BY r.seq', [runId])
    assert.deepEqual(cases.map(row => row.test), ['nul\uFFFDtest', 'other'])
    const { rows: reasons } = await pool.query<{ reason: string | null }>('SELECT reason FROM results WHERE run_id = $1 ORDER BY seq', [runId])
    assert.deepEqual(reasons.map(row => row.reason), [null, 'no\uFFFD device'])
    const log: Buffer[] = []
    for await (const chunk of store.readLog(runId)) log.push(chunk)
    assert.deepEqual(Buffer.concat(log), Buffer.from(text))
  })

  test('reasons holding what COPY escapes (backslashes, a tab, \\N, \\.) are stored as read, and a second run adds to the first run\'s counts, as in SQLite', async (t) => {
    const both: Both = { sqlite: openSqlite(t), pg: await openPg(t, server) }
    // synthetic: results are written with COPY's text format, where these characters mean something
    const text = 'TAP version 13\n1..3\n# selftests: kvm: paths\nok 1 selftests: kvm: paths # SKIP no C:\\kvm\\N here\n' +
      '# selftests: kvm: tabs\nok 2 selftests: kvm: tabs # SKIP a\ttab \\.\n' +
      '# selftests: kvm: plain\nnot ok 3 selftests: kvm: plain # exit=1\n'
    const first = await ingestBoth(t, both, text, META)
    const { rows } = await both.pg.pool.query<{ reason: string | null }>('SELECT reason FROM results WHERE run_id = $1 ORDER BY seq', [first.runId])
    assert.deepEqual(rows.map(row => row.reason), ['no C:\\kvm\\N here', 'a\ttab \\.', null])
    // the same version and machine again: its counts are added to the first run's (an upsert, not an insert)
    await ingestBoth(t, both, text.replace('1..3', '1..3\n# again'), META)
    const { rows: [cell] } = await both.pg.pool.query<{ total: number }>('SELECT total FROM case_stats ORDER BY case_id LIMIT 1')
    assert.equal(cell!.total, 2)
    await assertSameRows(both)
  })

  test('a result row the database refuses in the COPY rolls the whole run back, and the same connection stores the next run', async (t) => {
    // one connection, so that the next upload runs on the one whose COPY failed
    const pool = await openPostgres(await server().createDatabase(), { maxConnections: 1 })
    t.after(() => pool.end())
    const store = new PostgresRunStore(pool, { clock: steppingClock() })
    const refused = await spool(t, syntheticLog(31))
    // a status outside the vocabulary, which only a bug could produce: results' CHECK refuses it mid-COPY
    const tests = refused.parsed.tests.map((test, i) => i === 3 ? { ...test, status: 'bogus' as Status } : test)
    await assert.rejects(store.ingestRun(parseRunMetadata(META), { ...refused.parsed, tests }, refused.log()), /results_status_check/)
    const { rows: [empty] } = await pool.query<{ runs: number, results: number, cells: number }>(
      'SELECT (SELECT count(*) FROM runs)::int AS runs, (SELECT count(*) FROM results)::int AS results, (SELECT count(*) FROM case_stats)::int AS cells')
    assert.deepEqual(empty, { runs: 0, results: 0, cells: 0 })
    const next = await spool(t, syntheticLog(32))
    const stored = await store.ingestRun(parseRunMetadata(META), next.parsed, next.log())
    assert.equal(stored.created, true)
    assert.equal((await store.getRunTests(stored.runId)).length, next.parsed.tests.length)
  })

  test('the same log again is the same run, also when it reaches two nodes at once', async (t) => {
    const a = await openPg(t, server)
    const b = await openPg(t, server, a.url)
    const spooled = await spool(t, syntheticLog(21))
    const meta = parseRunMetadata(META)
    const first = await a.store.ingestRun(meta, spooled.parsed, spooled.log())
    const again = await b.store.ingestRun(meta, spooled.parsed, spooled.log())
    // found by its title now, as SQLite says it
    assert.deepEqual(again, { runId: first.runId, created: false, series: { ...first.series!, match: 'name' } })

    // two nodes, one new log, at the same moment: one stores it, both answer with its id
    const other = await spool(t, syntheticLog(22))
    const otherMeta = parseRunMetadata({ ...META, series: 'a new series', machine: 'a-new-machine' })
    const [fromA, fromB] = await Promise.all([
      a.store.ingestRun(otherMeta, other.parsed, other.log()),
      b.store.ingestRun(otherMeta, other.parsed, other.log()),
    ])
    assert.equal(fromA.runId, fromB.runId)
    assert.deepEqual([fromA.created, fromB.created].sort(), [false, true])
    assert.equal(fromA.series!.id, fromB.series!.id)
    const { rows } = await a.pool.query<{ runs: number, series: number, machines: number }>(`
      SELECT (SELECT count(*) FROM runs)::int AS runs, (SELECT count(*) FROM series)::int AS series, (SELECT count(*) FROM machines)::int AS machines`)
    assert.deepEqual(rows[0], { runs: 2, series: 2, machines: 2 })
    assert.equal(await a.store.writeCounter(), 2)
    await assertAggregatesRecount(a.pool)
  })

  test('different logs stored at once from two nodes into one version keep the aggregates equal to a recount', async (t) => {
    const a = await openPg(t, server)
    const b = await openPg(t, server, a.url)
    const meta = parseRunMetadata(META)
    // the series, version and machine exist: the uploads below overlap from their first statement on
    const first = await spool(t, tapLog(30, names('shared', 5)))
    await a.store.ingestRun(meta, first.parsed, first.log())
    // each log has tests new to the store that every other log has too, met in another order by
    // half of them (two nodes inserting the same new cases in opposite orders), and tests of its own
    const logs = await Promise.all([31, 32, 33, 34, 35, 36].map(seed => {
      const shared = names('shared', 2000)
      return spool(t, tapLog(seed, [...(seed % 2 === 0 ? shared.reverse() : shared), ...names(`own${seed}`, 20)]))
    }))
    const outcomes = await Promise.all(logs.map((log, i) => (i % 2 === 0 ? a : b).store.ingestRun(meta, log.parsed, log.log())))
    assert.equal(new Set(outcomes.map(outcome => outcome.runId)).size, logs.length)
    assert.ok(outcomes.every(outcome => outcome.created))
    const { rows } = await a.pool.query<{ series: number, versions: number, machines: number, cases: number }>(`
      SELECT (SELECT count(*) FROM series)::int AS series, (SELECT count(*) FROM versions)::int AS versions,
        (SELECT count(*) FROM machines)::int AS machines, (SELECT count(*) FROM cases)::int AS cases`)
    // each test with its two subtests
    assert.deepEqual(rows[0], { series: 1, versions: 1, machines: 1, cases: 3 * (2000 + 6 * 20) })
    assert.equal(await a.store.writeCounter(), 1 + logs.length)
    await assertAggregatesRecount(a.pool)
  })

  test('a run that fails halfway leaves nothing stored, and the next one is stored whole', async (t) => {
    const { pool, store } = await openPg(t, server)
    const good = await spool(t, syntheticLog(41))
    await store.ingestRun(parseRunMetadata(META), good.parsed, good.log())
    const tablesBefore = await counts(pool)
    const bad = await spool(t, syntheticLog(42, { tests: 30 }))
    // a result PostgreSQL refuses (a status its CHECK does not know), far into the run: after the
    // run's row, its log, its cases and the first results were written
    const tests = bad.parsed.tests.map(test => ({ ...test }))
    tests[tests.length - 1] = { ...tests[tests.length - 1]!, status: 'no-such-status' as Status }
    await assert.rejects(store.ingestRun(parseRunMetadata({ ...META, series: 'never stored', machine: 'never-seen' }), { ...bad.parsed, tests }, bad.log()))
    assert.deepEqual(await counts(pool), tablesBefore)
    // the store goes on: the same run, without the bad row, is stored (and its new cases too)
    const outcome = await store.ingestRun(parseRunMetadata({ ...META, series: 'never stored', machine: 'never-seen' }), bad.parsed, bad.log())
    assert.equal(outcome.created, true)
    assert.deepEqual((await store.getRunTests(outcome.runId)).length, bad.parsed.tests.length)
    await assertAggregatesRecount(pool)
  })

  test('a run whose transaction PostgreSQL ends in a deadlock with another node\'s is stored by the transaction run again, its log read again from the spool', async (t) => {
    const { pool, store } = await openPg(t, server)
    const meta = parseRunMetadata(META)
    const first = await spool(t, syntheticLog(51))
    await store.ingestRun(meta, first.parsed, first.log())
    // another node's transaction holds the write counter, which an upload updates last ...
    const second = await spool(t, syntheticLog(52, { tests: 30 }))
    const other = await pool.connect()
    let storing: Promise<IngestOutcome>
    try {
      await other.query('BEGIN')
      await other.query(BUMP_COUNTER)
      storing = store.ingestRun(meta, second.parsed, second.log())
      await waitFor(async () => (await pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).rows[0]!.n === 1)
      // ... and then waits for the series, which the upload holds: PostgreSQL ends the upload's
      // transaction (the first to wait, it finds the deadlock), and this one goes on
      await other.query('SELECT 1 FROM series FOR UPDATE')
    } finally {
      await other.query('ROLLBACK')
      other.release()
    }
    const outcome = await storing
    assert.equal(outcome.created, true)
    const log: Buffer[] = []
    for await (const chunk of store.readLog(outcome.runId)) log.push(chunk)
    assert.ok(Buffer.concat(log).equals(second.bytes), 'the whole log, stored by the second run of the transaction')
    assert.equal((await store.getRunTests(outcome.runId)).length, second.parsed.tests.length)
    assert.equal(await store.writeCounter(), 2)
    await assertAggregatesRecount(pool)
  })
})

/** Rows per table, and the write counter. */
async function counts (pool: pg.Pool): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1")
  const result: Record<string, number> = {}
  for (const { table_name: table } of rows) result[table] = (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n
  result.write_counter = (await pool.query<{ value: number }>("SELECT value FROM store_state WHERE key = 'write_counter'")).rows[0]!.value
  return result
}
