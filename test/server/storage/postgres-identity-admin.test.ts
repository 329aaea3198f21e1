// Renaming and merging series and machines with storage/postgres/identity-admin.ts against
// storage/identity-admin.ts: the trend scenario uploaded split over two titles and two machine
// names (as test/server/routes/identity-admin.test.ts does) into SQLite, copied to PostgreSQL,
// then merged and renamed through both: the same reports, the same tables (aggregates, outcome
// sets, names, known issues' scopes, audit and matches), aggregates equal to a recount.
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { IssueDefinition } from '../../../server/domain/known-issues.ts'
import { IdentityAdmin } from '../../../server/storage/sqlite/identity-admin.ts'
import { IssueStore } from '../../../server/storage/sqlite/issue-store.ts'
import { RunStore } from '../../../server/storage/sqlite/run-store.ts'
import { PostgresIdentityAdmin } from '../../../server/storage/postgres/identity-admin.ts'
import { PostgresIssueStore } from '../../../server/storage/postgres/issue-store.ts'
import { assertRecounted } from '../../helpers/aggregates.ts'
import { describePostgres, type TestPostgres } from '../../helpers/postgres.ts'
import { sqliteOf } from '../../helpers/store.ts'
import { postgresCopyOf, postgresTables, sqliteTables, testMatchRun } from '../../helpers/postgres-seed.ts'
import { buildScenario, MESSAGE_IDS, SERIES, TDX, VERSIONS, type Scenario } from '../trend-scenario.ts'

const OLD_TITLE = 'KVM: mm: fd-based approach for supporting KVM guest private memory'
const LAB_NAME = 'tdx-host-1.lab.example.org'
const NOW = new Date('2026-01-02T03:04:05.678Z')

const splitByTitle = (version: string, _machine: string, index: number) =>
  VERSIONS.indexOf(version as never) < VERSIONS.indexOf('v2') || (version === 'v2' && index === 0) ? OLD_TITLE : SERIES
const splitByMachine = (version: string, machine: string) => machine === TDX && (version === 'v3' || version === 'v4') ? LAB_NAME : machine

/** A known issue on the regression tdx-host-1 has from v3 on, scoped to one series and one machine. */
function issue (series: number, machine: string): IssueDefinition {
  return {
    title: 'memslot contents lost after SET_USER_MEMORY_REGION2',
    url: null,
    culprit: 'kernel',
    intermittent: false,
    matcher: { testGlob: 'kvm/set_memory_region_test', reasonRegex: null, logRegex: null, exitCode: null, statuses: [], kernelTrouble: false },
    scope: { series: [series], machines: [machine], arch: null, cpuFlags: [], kernelGlob: null, versionsFrom: null, versionsTo: null },
  }
}

/** The scenario's store in SQLite and its copy in PostgreSQL, each with its identity admin (one clock for both). */
async function admins (t: TestContext, server: TestPostgres, s: Scenario) {
  const db = sqliteOf(s.app).db
  const pool = await postgresCopyOf(t, server, db)
  const readLog = (runId: number, from: number, to: number) => new RunStore(db).getLogLines(runId, from, to)?.lines ?? []
  const sqlite = new IdentityAdmin(db, new IssueStore(db, { clock: () => NOW, readLog }), () => NOW)
  const issues = new PostgresIssueStore(pool, {
    clock: () => NOW, readLog: async (runId, from, to) => readLog(runId, from, to), matchRun: testMatchRun(async (...args) => readLog(...args)),
  })
  const postgres = new PostgresIdentityAdmin(pool, issues, () => NOW)
  const both = async <T>(call: (admin: IdentityAdmin | PostgresIdentityAdmin) => T | Promise<T>): Promise<T> => {
    const expected = await call(sqlite)
    assert.deepEqual(await call(postgres), expected)
    assertRecounted(db)
    assert.deepEqual(await postgresTables(pool, db), sqliteTables(db))
    return expected
  }
  return { pool, issues, sqlite, postgres, both }
}

describePostgres('PostgresIdentityAdmin', (server) => {
  test('merging a series and a machine: the same reports and tables as SQLite, known issues rescoped and matched again', async (t) => {
    const s = await buildScenario(t, undefined, {
      series: splitByTitle,
      machine: splitByMachine,
      messageId: (version, machine, index) => splitByTitle(version, machine, index) === OLD_TITLE ? undefined : MESSAGE_IDS[version],
    })
    s.app.store.issues.create(issue(1, LAB_NAME), 'triager')
    s.app.store.issues.create(issue(2, TDX), 'triager')
    const { both, issues } = await admins(t, server(), s)

    assert.deepEqual(await both(admin => admin.mergeSeries(1, 1, 'admin-1')), { refused: 'same' })
    assert.equal(await both(admin => admin.mergeSeries(99, 1, 'admin-1')), null)
    assert.deepEqual(await both(admin => admin.mergeSeries(1, 2, 'admin-1')), {
      from: { id: 1, name: OLD_TITLE },
      into: { id: 2, name: SERIES },
      versionsMoved: ['base', 'v1'],
      versionsMerged: ['v2'],
      runs: 6,
      issuesRematched: [1, 2],
    })
    assert.deepEqual(await both(admin => admin.mergeMachines(3, 3, 'admin-1')), { refused: 'same' })
    assert.deepEqual(await both(admin => admin.mergeMachines(3, 1, 'admin-1')), {
      from: { id: 3, name: LAB_NAME }, into: { id: 1, name: TDX }, runs: 2, issuesRematched: [1, 2],
    })
    assert.deepEqual((await issues.get(1))?.scope.series, [2])
    assert.deepEqual((await issues.listed(1))?.matchedResults, 2, 'the regression of v3 and v4 on tdx-host-1, now in its scope')
    assert.deepEqual(await issues.pendingRematches(), [])
  })

  test('with match: false, the merged issues are left pending for the caller', async (t) => {
    const s = await buildScenario(t, [['v1', TDX, 0], ['v2', TDX, 0]], { series: version => version === 'v1' ? 'KVM: one' : 'KVM: two' })
    s.app.store.issues.create(issue(1, TDX), 'triager')
    const { both, issues } = await admins(t, server(), s)
    const report = await both(admin => admin.mergeSeries(1, 2, 'admin-1', { match: false }))
    assert.deepEqual(report !== null && 'issuesRematched' in report ? report.issuesRematched : report, [1])
    assert.deepEqual(await issues.pendingRematches(), [1])
  })

  test('two opposite merges of the same series and of the same machines at once: one of each is made, the other finds its series gone', async (t) => {
    const s = await buildScenario(t, [['v1', TDX, 0], ['v2', TDX, 0], ['v2', 'arm64-host-1', 0]], {
      series: version => version === 'v1' ? 'KVM: one' : 'KVM: two',
      machine: (version, machine) => version === 'v2' && machine === TDX ? LAB_NAME : machine,
    })
    const { pool, sqlite, postgres } = await admins(t, server(), s)
    const series = await Promise.all([postgres.mergeSeries(1, 2, 'admin-1'), postgres.mergeSeries(2, 1, 'admin-1')])
    const seriesWon = series.findIndex(report => report !== null)
    assert.deepEqual(series.map(report => report === null), seriesWon === 0 ? [false, true] : [true, false])
    // machines 1 (tdx-host-1), 2 (the lab's name for it), 3 (arm64-host-1)
    const machines = await Promise.all([postgres.mergeMachines(1, 2, 'admin-1'), postgres.mergeMachines(2, 1, 'admin-1')])
    const machineWon = machines.findIndex(report => report !== null)
    assert.deepEqual(machines.map(report => report === null), machineWon === 0 ? [false, true] : [true, false])
    // the same merges, one after the other, in SQLite
    assert.deepEqual(seriesWon === 0 ? sqlite.mergeSeries(1, 2, 'admin-1') : sqlite.mergeSeries(2, 1, 'admin-1'), series[seriesWon])
    assert.deepEqual(machineWon === 0 ? sqlite.mergeMachines(1, 2, 'admin-1') : sqlite.mergeMachines(2, 1, 'admin-1'), machines[machineWon])
    assertRecounted(sqliteOf(s.app).db)
    assert.deepEqual(await postgresTables(pool, sqliteOf(s.app).db), sqliteTables(sqliteOf(s.app).db))
  })

  test('a rename keeps the old name a name; a name another series or machine has is refused', async (t) => {
    const s = await buildScenario(t, [['v1', TDX, 0], ['v2', TDX, 0], ['v2', 'arm64-host-1', 0]], { series: version => version === 'v1' ? 'KVM: one' : 'KVM: two' })
    s.app.store.issues.create(issue(1, TDX), 'triager')
    const { both } = await admins(t, server(), s)
    assert.deepEqual(await both(admin => admin.renameSeries(1, 'KVM: guest_memfd: the first')), { id: 1, name: 'KVM: guest_memfd: the first' })
    for (const name of ['KVM: two', 'kvm:  TWO']) {
      assert.deepEqual(await both(admin => admin.renameSeries(1, name)), { refused: 'name_taken', by: { id: 2, name: 'KVM: two' } })
    }
    assert.deepEqual(await both(admin => admin.renameSeries(1, 'KVM: guest_memfd: the first')), { refused: 'same' })
    assert.deepEqual(await both(admin => admin.renameSeries(2, 'KVM: one')), { refused: 'name_taken', by: { id: 1, name: 'KVM: guest_memfd: the first' } })
    assert.equal(await both(admin => admin.renameSeries(99, 'x')), null)

    assert.deepEqual(await both(admin => admin.renameMachine(1, 'tdx-host-one', 'admin-1')), { id: 1, name: 'tdx-host-one' })
    assert.deepEqual(await both(admin => admin.renameMachine(2, TDX, 'admin-1')), { refused: 'name_taken', by: { id: 1, name: 'tdx-host-one' } })
    assert.deepEqual(await both(admin => admin.renameMachine(2, 'tdx-host-one', 'admin-1')), { refused: 'name_taken', by: { id: 1, name: 'tdx-host-one' } })
    // back to its old name: the old name's row goes, and the new old name is the other
    assert.deepEqual(await both(admin => admin.renameMachine(1, TDX, 'admin-1')), { id: 1, name: TDX })
    assert.equal(await both(admin => admin.renameMachine(99, 'x', 'admin-1')), null)
  })
})
