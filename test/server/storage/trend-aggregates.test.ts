import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadMigrations, migrate } from '../../../server/storage/sqlite/migrate.ts'
import { AdminStore } from '../../../server/storage/sqlite/admin-store.ts'
import { compareVersions } from '../../../server/queries/compare.ts'
import { flakyPage } from '../../../server/queries/flaky.ts'
import { TrendStore } from '../../../server/storage/sqlite/trend-store.ts'
import { aggregates, recount } from '../../helpers/aggregates.ts'
import { ingestText, sqliteOf, trendsOn } from '../../helpers/store.ts'
import { buildScenario, kselftestLog, SERIES, TDX, type Scenario } from '../trend-scenario.ts'

/** A kernel WARNING printed while a test passed, as the console interleaves it with the runner's output. */
const WARNING = '[   12.345678] WARNING: CPU: 1 PID: 42 at arch/x86/kvm/mmu/mmu.c:4321 kvm_mmu_page_fault+0x1a/0x2b0'

/** Another run of v4 on tdx-host-1 in which guest_memfd_test passes with a kernel WARNING. */
async function addWarningRun (s: Scenario) {
  const { text } = kselftestLog([{ collection: 'kvm', name: 'guest_memfd_test', status: 'pass', note: WARNING }], '0x7')
  return ingestText(s.app.store, text, { series: SERIES, version: 'v4', machine: TDX })
}

/** Another run of v4 on tdx-host-1 whose log is cut inside its second test of three: the third never ran. */
async function addCutRun (s: Scenario) {
  const { text } = kselftestLog(['guest_memfd_test', 'hardware_disable_test', 'sev_smoke_test'].map(name => ({ collection: 'kvm', name, status: 'pass' as const })), '0x8')
  const cut = text.split('\n').slice(0, 8).join('\n') + '\n'
  assert.match(cut, /# selftests: kvm: hardware_disable_test\n# Random seed: 0x8\n$/)
  return ingestText(s.app.store, cut, { series: SERIES, version: 'v4', machine: TDX })
}

test('the aggregates kept by ingest equal a recount of the results, and each run\'s summary', async (t) => {
  const s = await buildScenario(t)
  const warned = await addWarningRun(s)
  const cut = await addCutRun(s)
  // the WARNING is counted as trouble in its cell (and sets bit 4 of its outcome); the cut run's kvm stream
  // promised 3 tests and 2 arrived (hardware_disable_test without its result line)
  const stats = sqliteOf(s.app).db.prepare('SELECT sum(trouble) FROM case_stats').pluck()
  assert.equal(stats.get(), 1)
  assert.deepEqual(aggregates(sqliteOf(s.app).db), recount(sqliteOf(s.app).db, { [`${cut.runId}/kvm`]: 1 }))
  assert.deepEqual(sqliteOf(s.app).db.prepare('SELECT id, complete, not_run FROM runs WHERE id IN (?, ?) ORDER BY id').all(warned.runId, cut.runId), [
    { id: warned.runId, complete: 1, not_run: 0 },
    { id: cut.runId, complete: 0, not_run: 1 },
  ])
  const mismatched = sqliteOf(s.app).db.prepare(`
    SELECT r.id FROM runs r JOIN (SELECT run_id, sum(total) AS total, sum(pass) AS pass, sum(fail) AS fail, sum(skip) AS skip, sum(timeout) AS timeout
      FROM run_collections GROUP BY run_id) rc ON rc.run_id = r.id
    WHERE rc.total <> r.total OR rc.pass <> r.pass OR rc.fail <> r.fail OR rc.skip <> r.skip OR rc.timeout <> r.timeout`).all()
  assert.deepEqual(mismatched, [])
  assert.equal((sqliteOf(s.app).db.prepare('SELECT count(*) AS n FROM case_stats').get() as { n: number }).n > 0, true)
})

test('migrations 003, 005 and 006 build the same aggregates, completeness, kernel trouble and infrastructure counts for runs stored before them', async (t) => {
  const s = await buildScenario(t)
  await addWarningRun(s)
  await addCutRun(s)
  const db = sqliteOf(s.app).db
  const runs = () => db.prepare('SELECT id, complete, incomplete_reasons, not_run FROM runs ORDER BY id').all()
  const before = { aggregates: aggregates(db), runs: runs() }
  const compare = (baseVersionId: number, headVersionId: number) =>
    compareVersions(trendsOn(db), { baseVersionId, headVersionId, machine: null, bucket: null, after: null, limit: 100 })
  // v3 -> v4 on tdx-host-1 meets the WARNING and the test the cut run never ran
  const compared = [await compare(3, 4), await compare(4, 5)]
  assert.ok(compared[1]!.entries.some(entry => entry.bucket === 'new_kernel_trouble'))
  assert.equal(compared[1]!.incomplete.head.length, 0, 'the other runs of v4 on tdx-host-1 finished')
  // back to schema 2, the runs and results kept: the aggregates, and what 005 added to runs and run_collections
  db.exec(`DROP TABLE case_stats; DROP TABLE run_collections; DROP TABLE series_tests; DROP TABLE outcome_sets;
    DROP TRIGGER runs_deleted_drop_outcome_sets; DROP TRIGGER runs_moved_drop_outcome_sets;
    ALTER TABLE runs DROP COLUMN complete; ALTER TABLE runs DROP COLUMN incomplete_reasons; ALTER TABLE runs DROP COLUMN not_run;
    DROP TABLE known_issue_audit; DROP TABLE known_issue_matches; DROP TABLE known_issues;
    PRAGMA user_version = 2`)
  // only 003, 005 and 006 (its infrastructure counts): 004, whatever else it does, is already in this file
  assert.deepEqual(migrate(db, loadMigrations().filter(migration => [3, 5, 6].includes(migration.version))), [3, 5, 6])
  assert.deepEqual({ aggregates: aggregates(db), runs: runs() }, before)
  assert.deepEqual([await compare(3, 4), await compare(4, 5)], compared)
})

test('an ingest that fails after the aggregates were counted leaves none of its counts behind', async (t) => {
  const s = await buildScenario(t)
  const { db, writeDb } = sqliteOf(s.app)
  const before = aggregates(db)
  // series_tests is written last: a failure there comes after case_stats and the outcome set (a
  // temporary trigger, on the connection uploads are written through)
  writeDb.exec("CREATE TEMP TRIGGER fail_late AFTER INSERT ON series_tests BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
  const { text } = kselftestLog([{ collection: 'kvm', name: 'a_brand_new_test', status: 'fail', note: 'never stored' }], '0x3')
  await assert.rejects(ingestText(s.app.store, text, { series: SERIES, version: 'v3', machine: TDX }), /injected failure/)
  writeDb.exec('DROP TRIGGER fail_late')
  assert.deepEqual(aggregates(db), before)
  assert.equal(await s.app.store.runs.writeCounter(), 11)
})

test('the same log again is the same run and counts nothing twice', async (t) => {
  const s = await buildScenario(t)
  const before = aggregates(sqliteOf(s.app).db)
  const { text } = kselftestLog([{ collection: 'kvm', name: 'guest_memfd_test', status: 'pass' }], '0x4')
  const meta = { series: SERIES, version: 'v4', machine: TDX }
  const first = await ingestText(s.app.store, text, meta)
  const after = aggregates(sqliteOf(s.app).db)
  assert.notDeepEqual(after, before)
  const again = await ingestText(s.app.store, text, meta)
  assert.equal(again.runId, first.runId)
  assert.equal(again.created, false)
  assert.deepEqual(aggregates(sqliteOf(s.app).db), after)
})

test('a run deleted or moved by an admin drops its outcome sets, and compare reads case_stats until the next upload', async (t) => {
  const s = await buildScenario(t)
  const db = sqliteOf(s.app).db
  const sets = () => db.prepare('SELECT version_id || \'/\' || machine_id FROM outcome_sets ORDER BY 1').pluck().all()
  const admin = new AdminStore(db)
  const trends = trendsOn(db)
  const compared = () => compareVersions(trends, { baseVersionId: 3, headVersionId: 4, machine: null, bucket: null, after: null, limit: 100 })
  const buckets = async () => (await compared()).entries.map(e => `${e.bucket} ${e.test}${e.path.map(p => `/${p}`).join('')} ${e.machine}${e.sameMachine ? '' : ' (other machines)'}`)

  // v4 moved into v3: tdx-host-1 then ran v3 twice, once timing out and once passing run_hugetlbfs_test.sh
  assert.equal(admin.mergeVersions(1, 'v4', 'v3'), 1)
  assert.deepEqual(sets(), ['1/1', '1/2', '2/1', '2/2', '3/1', '3/2', '4/2'], 'the sets of v3 and v4 on tdx-host-1 are gone')
  assert.deepEqual(await buckets(), [
    'regression kvm_binary_stats_test/vm1 arm64-host-1',
    'regression set_memory_region_test tdx-host-1',
    'regression run_hugetlbfs_test.sh arm64-host-1',
    'new_failure private_mem_conversions_test tdx-host-1',
    'flaky memfd_test tdx-host-1',
    'flaky run_hugetlbfs_test.sh tdx-host-1',
    'new private_mem_conversions_test arm64-host-1',
    'missing pmu_counters_test arm64-host-1',
    'missing pmu_counters_test tdx-host-1',
  ])

  // with no run of v3 left on arm64-host-1, that machine ran v2 only: named, never compared with tdx-host-1
  assert.notEqual(admin.deleteRun(s.run('v3', 'arm64-host-1').runId), null)
  assert.deepEqual(sets(), ['1/1', '1/2', '2/1', '2/2', '3/1', '3/2'])
  assert.deepEqual([(await compared()).pairedMachines, (await compared()).unpaired], [['tdx-host-1'], { base: ['arm64-host-1'], head: [] }])
  assert.deepEqual(await buckets(), [
    'regression set_memory_region_test tdx-host-1',
    'new_failure private_mem_conversions_test tdx-host-1',
    'flaky memfd_test tdx-host-1',
    'flaky run_hugetlbfs_test.sh tdx-host-1',
    'missing pmu_counters_test tdx-host-1',
  ])

  // the next upload to v3 on tdx-host-1 stores its set again, built from everything v3 holds there
  const { text } = kselftestLog([{ collection: 'kvm', name: 'guest_memfd_test', status: 'pass' }], '0x5')
  await ingestText(s.app.store, text, { series: SERIES, version: 'v3', machine: TDX })
  assert.deepEqual(sets(), ['1/1', '1/2', '2/1', '2/2', '3/1', '3/2', '4/1'])
  assert.deepEqual(aggregates(db).outcomeSets, recount(db).outcomeSets)
})

test('flaky builds from case_stats the outcome sets an admin dropped', async (t) => {
  const s = await buildScenario(t)
  const db = sqliteOf(s.app).db
  const trends = trendsOn(db)
  const flaky = async () => (await flakyPage(trends, { versions: await trends.versions(1), collection: null, machineId: null, arch: null, after: null, limit: 100 }))
    .entries.map(e => `${e.test} ${e.machine} mixed ${e.mixedVersions} flips ${e.flips} ${e.versions.map(v => `${v.version}:${v.passRatio}`).join(' ')}`)
  // v4 moved into v3: on tdx-host-1 run_hugetlbfs_test.sh now times out in one run of v3 and passes in the other
  assert.equal(new AdminStore(db).mergeVersions(1, 'v4', 'v3'), 1)
  assert.equal(db.prepare('SELECT count(*) FROM outcome_sets WHERE version_id = 4 AND machine_id = 1').pluck().get(), 0)
  assert.deepEqual(await flaky(), [
    'memfd_test tdx-host-1 mixed 1 flips 0 base:1:1 v1:1:1 v2:2:3 v3:2:2',
    'run_hugetlbfs_test.sh tdx-host-1 mixed 1 flips 0 base:1:1 v1:1:1 v2:3:3 v3:1:2',
  ])
})

test('trend, compare and matrix never read the results table; history and log links reach it only through results_by_case (and a reason by its key)', async (t) => {
  const s = await buildScenario(t)
  const db = sqliteOf(s.app).db
  const prepared: string[] = []
  const spy = new Proxy(db, {
    get (target, property) {
      if (property === 'prepare') return (sql: string) => { prepared.push(sql); return target.prepare(sql) }
      const value = Reflect.get(target, property) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  new TrendStore(spy) // eslint-disable-line no-new
  assert.ok(prepared.length > 20)
  const readingResults: string[] = []
  for (const sql of prepared) {
    const named = [...new Set([...sql.matchAll(/@(\w+)/g)].map(m => m[1]!))]
    const explain = db.prepare(`EXPLAIN QUERY PLAN ${sql}`)
    const rows = (named.length > 0
      ? explain.all(Object.fromEntries(named.map(name => [name, null])))
      : explain.all(...Array<null>((sql.match(/\?/g) ?? []).length).fill(null))) as Array<{ detail: string }>
    const plan = rows.map(row => row.detail)
    const fullScans = plan.filter(line => /^SCAN (results|case_stats|runs|run_collections|series_tests|cases|versions|outcome_sets)\b/.test(line))
    assert.deepEqual(fullScans, [], `a full scan in:\n${sql}\n${plan.join('\n')}`)
    if (/\bresults\b/.test(sql.replace(/run_collections|results_by_case/g, ''))) {
      readingResults.push(sql)
      // by case (history, the log links of compare entries), or by the key of each known-issue match (triage)
      assert.ok(plan.some(line => /SEARCH r USING ((COVERING )?INDEX results_by_case \(case_id=\?|PRIMARY KEY \(run_id=\? AND seq=\?)/.test(line)), `results read without an index:\n${sql}\n${plan.join('\n')}`)
      // every other read of results names its row: in results_with_reason (whose entries alone lead
      // to the table), or by its key
      const otherReads = plan.filter(line => /^(SEARCH|SCAN) x\b/.test(line))
      assert.ok(otherReads.every(line => /^SEARCH x USING (INDEX results_with_reason \(case_id=\? AND run_id=\? AND seq=\?\)|PRIMARY KEY \(run_id=\? AND seq=\?\))$/.test(line)), `results read without their key:\n${plan.join('\n')}`)
    }
    if (sql.includes('INDEXED BY case_stats_failing')) assert.ok(plan.some(line => line.includes('USING INDEX case_stats_failing')))
  }
  assert.equal(readingResults.length, 3, 'only history, the log links of compare entries and the triage of failing cells')
})
