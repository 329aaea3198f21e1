import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { generateLog, scaledLogSpec } from '../../../server/demo/log-generator.ts'
import type { IssueDefinition } from '../../../server/domain/known-issues.ts'
import { buildJunitXml } from '../../../server/export/junit.ts'
import { buildKcidbDocument } from '../../../server/export/kcidb.ts'
import { exportedRun } from '../../../server/export/run-source.ts'
import { PostgresStore } from '../../../server/storage/postgres/postgres-store.ts'
import { SqliteStore } from '../../../server/storage/sqlite/sqlite-store.ts'
import type { Store } from '../../../server/storage/store.ts'
import { storeTables } from '../../helpers/aggregates.ts'
import { realFixtureNames, realFixturePath } from '../../helpers/fixtures.ts'
import { describePostgres, waitFor, type TestPostgres } from '../../helpers/postgres.ts'
import { ingestText, tempDir } from '../../helpers/store.ts'

/**
 * The PostgreSQL store behind the Store interface (postgres/postgres-store.ts): what the API suites
 * (npm run test:postgres) do not reach, held to the SQLite store's answers where both answer.
 */

const START = Date.parse('2026-03-01T00:00:00Z')
/** The same instants on both backends: every timestamp the stores write is one of these. */
function clock (): () => Date {
  let ticks = 0
  return () => new Date(START + ticks++ * 60_000)
}

function issue (title: string, matcher: Partial<IssueDefinition['matcher']>): IssueDefinition {
  return {
    title,
    url: null,
    culprit: 'kernel',
    intermittent: false,
    matcher: { testGlob: '*', reasonRegex: null, logRegex: null, exitCode: null, statuses: [], kernelTrouble: false, ...matcher },
    scope: { series: [], machines: [], arch: null, cpuFlags: [], kernelGlob: null, versionsFrom: null, versionsTo: null },
  }
}

function openSqlite (t: TestContext): SqliteStore {
  const store = new SqliteStore(join(tempDir(t), 'ksft.db'), { clock: clock() })
  t.after(() => store.close())
  return store
}

async function openPg (t: TestContext, server: TestPostgres, options: { clock?: () => Date } = {}): Promise<{ store: PostgresStore, url: string }> {
  const url = await server.createDatabase()
  const store = await PostgresStore.open(url, options)
  t.after(() => store.close())
  return { store, url }
}

/** Generated logs with failures and subtests, and the real logs when they are here: into both stores alike. */
async function seed (store: Store): Promise<number[]> {
  const ids: number[] = []
  for (const [i, version] of ['v1', 'v2', 'v2-fixup'].entries()) {
    const spec = scaledLogSpec({ seed: 7 + i, targetBytes: 0, tests: 25, failRate: 0.3, skipRate: 0.2, timeoutRate: 0.05, extraSubtests: 3 })
    ids.push((await ingestText(store, generateLog(spec), { series: 'mm: generated', version, machine: 'gen-a', arch: 'x86_64' })).runId)
  }
  for (const name of realFixtureNames().slice(0, 3)) {
    ids.push((await ingestText(store, readFileSync(realFixturePath(name)), { series: 'real logs', version: 'v1', machine: name.slice(0, 40) })).runId)
  }
  return ids
}

describePostgres('PostgresStore', (server) => {
  test('exports a run as the SQLite store does: the same KCIDB document and JUnit XML, excerpts and known issues included', async (t) => {
    const sqlite = openSqlite(t)
    const { store: pg } = await openPg(t, server(), { clock: clock() })
    for (const store of [sqlite, pg] as Store[]) await store.issues.create(issue('every failure of kvm', { testGlob: 'kvm/*', statuses: ['fail'] }), 'tester')
    const ids = await seed(sqlite)
    assert.deepEqual(await seed(pg), ids)
    for (const id of ids) {
      const [a, b] = [await exportedRun(sqlite, id), await exportedRun(pg, id)]
      assert.deepEqual(buildJunitXml(b, { logUrl: 'log' }), buildJunitXml(a, { logUrl: 'log' }), `run ${id}`)
      assert.deepEqual(await buildKcidbDocument([b], { origin: 'lab' }), await buildKcidbDocument([a], { origin: 'lab' }), `run ${id}`)
      // each test's own lines, which is what is read ahead: the lines before the first test (make's) are not
      for (const test of a.tests) assert.deepEqual(b.lines(...test.lines), a.lines(...test.lines), `run ${id}: ${test.name}`)
      if (a.tests[0]!.lines[0] > 1) assert.deepEqual(b.lines(1, 1), [])
    }
    assert.equal(await pg.exports.run(999), null)
  })

  test('a version merge matches the moved runs again with ingest\'s matcher, log regexes read in its transaction, as SQLite does', async (t) => {
    const sqlite = openSqlite(t)
    const { store: pg } = await openPg(t, server(), { clock: clock() })
    const stores = [sqlite, pg] as Store[]
    const answers = []
    for (const store of stores) {
      await seed(store)
      const byLog = await store.issues.create(issue('a log line', { testGlob: '*', logRegex: 'exit=|timeout' }), 'tester')
      const before = await store.issues.listed(byLog.id)
      const versioned = await store.issues.create({ ...issue('from v2 on', { testGlob: '*' }), scope: { ...issue('', {}).scope, versionsFrom: 'v2' } }, 'tester')
      const series = (await store.trends.seriesByName('mm: generated'))!
      const moved = await store.admin.mergeVersions(series.id, 'v2-fixup', 'v1')
      answers.push({
        before, moved,
        matched: [await store.issues.listed(byLog.id), await store.issues.listed(versioned.id)],
        matches: [await store.issues.matches(byLog.id), await store.issues.matches(versioned.id)],
        pending: await store.issues.pendingRematches(),
      })
    }
    assert.ok(answers[0]!.before!.matchedResults > 0, 'the log regex matches something')
    assert.deepEqual(answers[1], answers[0])
  })

  test('an issue edited, resolved and reopened is matched again as on SQLite, and nothing stays pending', async (t) => {
    const sqlite = openSqlite(t)
    const { store: pg } = await openPg(t, server(), { clock: clock() })
    const answers = []
    for (const store of [sqlite, pg] as Store[]) {
      await seed(store)
      const created = await store.issues.create(issue('kvm', { testGlob: 'kvm/*' }), 'tester')
      const steps = [await store.issues.listed(created.id)]
      await store.issues.update(created.id, { matcher: { testGlob: '*', statuses: ['timeout'] } }, 'tester')
      steps.push(await store.issues.listed(created.id))
      await store.issues.update(created.id, { active: false }, 'tester')
      await ingestText(store, generateLog(scaledLogSpec({ seed: 99, targetBytes: 0, tests: 20, timeoutRate: 0.5 })), { series: 'mm: generated', version: 'v3', machine: 'gen-a' })
      steps.push(await store.issues.listed(created.id))
      await store.issues.update(created.id, { active: true }, 'tester')
      steps.push(await store.issues.listed(created.id))
      answers.push({ steps: steps.map(step => ({ ...step, createdAt: null, updatedAt: null, resolvedAt: step!.resolvedAt === null })), pending: await store.issues.pendingRematches() })
    }
    assert.deepEqual(answers[1], answers[0])
    assert.deepEqual(answers[1]!.pending, [])
  })

  test('the export lookups, a prune and a run\'s delete answer as on SQLite', async (t) => {
    const sqlite = openSqlite(t)
    const { store: pg } = await openPg(t, server(), { clock: clock() })
    const answers = []
    for (const store of [sqlite, pg] as Store[]) {
      await seed(store)
      // a second run of v1 on gen-a: the first is then not the newest of its version, and a prune removes it
      await ingestText(store, generateLog(scaledLogSpec({ seed: 50, targetBytes: 0, tests: 10 })), { series: 'mm: generated', version: 'v1', machine: 'gen-a' })
      const series = (await store.exports.findSeries('mm: generated'))!
      answers.push({
        lookups: [series, await store.exports.findSeries(String(series.id)), await store.exports.findSeries('none'),
          await store.exports.hasVersion(series.id, 'v2'), await store.exports.hasVersion(series.id, 'v9'),
          await store.exports.runIds(series.id), await store.exports.runIds(series.id, 'v2')],
        // every run is older than this: the newest of each version (and machine) stays
        dryRun: await store.admin.prune(new Date(START + 3_600_000_000), { dryRun: true }),
        pruned: await store.admin.prune(new Date(START + 3_600_000_000), { perMachine: true }),
        deleted: [await store.admin.deleteRun(2), await store.admin.deleteRun(2)],
        series: await store.trends.listSeries(10, null),
        counter: await store.runs.writeCounter(),
      })
    }
    assert.deepEqual(answers[1], answers[0])
    // of a version's runs on several machines, only the newest stays unless per machine
    assert.equal(answers[0]!.dryRun.removed[0]!.id, 1)
    assert.deepEqual(answers[0]!.pruned.removed.map(run => run.id), [1])
    assert.equal(answers[0]!.deleted[0]!.id, 2)
    assert.equal(answers[0]!.deleted[1], null)
    // a deleted run's version and machine have their outcome set built from case_stats until the next upload there
    const [kept, counted] = [await storeTables(pg).aggregates(), await storeTables(pg).recount()]
    assert.deepEqual({ ...kept, outcomeSets: null }, { ...counted, outcomeSets: null })
    for (const set of kept.outcomeSets) assert.deepEqual(set, counted.outcomeSets.find(other => other.version_id === set.version_id && other.machine_id === set.machine_id))
  })

  test('a token\'s use is written at close; close waits for an upload in flight', async (t) => {
    const { url } = await openPg(t, server())
    const first = await PostgresStore.open(url)
    const { token } = await first.tokens.create('lab', ['upload'])
    assert.equal((await first.tokens.verify(token))?.name, 'lab')
    const spec = scaledLogSpec({ seed: 3, targetBytes: 0, tests: 200, extraSubtests: 5 })
    // closed as soon as the store was given the run (the parse before it is not the store's work)
    let given!: () => void
    const ingesting = new Promise<void>(resolve => { given = resolve })
    const uploading = ingestText({
      runs: { ingest: (...args: Parameters<Store['runs']['ingest']>) => { const stored = first.runs.ingest(...args); given(); return stored } },
    }, generateLog(spec), { series: 'late', version: 'v1', machine: 'm' })
    await ingesting
    await first.close()
    const { runId } = await uploading
    const again = await PostgresStore.open(url)
    t.after(() => again.close())
    assert.notEqual((await again.tokens.list())[0]!.lastUsedAt, null)
    assert.notEqual(await again.runs.getRun(runId), null)
    assert.deepEqual(await again.health(), { backend: 'postgres', writeCounter: 1 })
  })

  test('a write on one store moves the write counter another store of the database reads', async (t) => {
    const { store: a, url } = await openPg(t, server())
    const b = await PostgresStore.open(url)
    t.after(() => b.close())
    const before = await b.runs.writeCounter()
    await ingestText(a, generateLog(scaledLogSpec({ seed: 1, targetBytes: 0, tests: 5 })), { series: 's', version: 'v1' })
    assert.equal(await b.runs.writeCounter(), before + 1)
  })

  test('an issue created and matched while an upload was being stored, on another node, matches that upload too', async (t) => {
    const { store: a, url } = await openPg(t, server())
    const b = await PostgresStore.open(url)
    t.after(() => b.close())
    const meta = { series: 'mm: race', version: 'v1', machine: 'race-host', arch: 'x86_64' }
    const failing = (seed: number) => generateLog(scaledLogSpec({ seed, targetBytes: 0, tests: 12, failRate: 0.5, skipRate: 0, timeoutRate: 0 }))
    // an issue (so that ingest gathers the results to triage), then a first run: the version and machine exist
    await b.issues.create(issue('unrelated', { testGlob: 'nosuchcollection/*' }), 'lab')
    const first = await ingestText(a, failing(1), meta)
    const { rows: [ids] } = await a.pool.query<{ version: number, machine: number }>('SELECT version_id AS version, machine_id AS machine FROM runs WHERE id = $1', [first.runId])
    // the second upload is held after its matching, before its last statements (the outcome set's lock)
    const holder = await a.pool.connect()
    await holder.query('BEGIN')
    await holder.query('SELECT pg_advisory_xact_lock($1::integer, $2::integer)', [ids!.version, ids!.machine])
    const upload = ingestText(a, failing(2), meta)
    await waitFor(async () => (await a.pool.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).rows[0].n === 1)
    // meanwhile on node B: an issue for every failure, created and matched over every stored run
    const created = await b.issues.create(issue('every failure', { testGlob: '*', statuses: ['fail'] }), 'lab')
    assert.deepEqual(await b.issues.pendingRematches(), [])
    await holder.query('COMMIT')
    holder.release()
    const second = await upload
    const matched = async (runId: number) => (await a.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM known_issue_matches WHERE run_id = $1 AND issue_id = $2', [runId, created.id])).rows[0]!.n
    const failures = async (runId: number) => (await a.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM results WHERE run_id = $1 AND status = 'fail'", [runId])).rows[0]!.n
    assert.ok(await failures(second.runId) > 0)
    assert.equal(await matched(first.runId), await failures(first.runId))
    assert.equal(await matched(second.runId), await failures(second.runId), 'the upload stored meanwhile is matched by the new issue')
  })
})
