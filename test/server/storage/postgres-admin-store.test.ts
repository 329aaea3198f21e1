// The admin's writes of storage/postgres/admin-store.ts against storage/admin-store.ts: the same
// store (stored through SQLite's ingest, copied to PostgreSQL), the same deletes, merges and
// prunes through both, the same answers and the same tables afterwards, aggregates equal to a
// recount. Mirrors test/hardening/admin.test.ts and test/server/storage/trend-aggregates.test.ts.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AdminStore } from '../../../server/storage/sqlite/admin-store.ts'
import { RunStore } from '../../../server/storage/sqlite/run-store.ts'
import { PostgresAdminStore } from '../../../server/storage/postgres/admin-store.ts'
import { assertRecounted } from '../../helpers/aggregates.ts'
import { describePostgres } from '../../helpers/postgres.ts'
import { postgresCopyOf, postgresTables, sqliteTables } from '../../helpers/postgres-seed.ts'
import { ingestText, openTestStore, sqliteOf } from '../../helpers/store.ts'
import { buildScenario, kselftestLog, SERIES, TDX } from '../trend-scenario.ts'

// synthetic logs written for these tests
const log = (results: Record<string, 'ok' | 'not ok'>) => `TAP version 13\n1..${Object.keys(results).length}\n${Object.entries(results)
  .map(([name, r], i) => `# selftests: kvm: ${name}\n# TAP version 13\n# 1..1\n# ${r} 1 sub\n${r} ${i + 1} selftests: kvm: ${name}${r === 'ok' ? '' : ' # exit=1'}\n`).join('')}`

async function seed (store: RunStore) {
  const ids: number[] = []
  for (const [version, machine, results] of [
    ['v1', 'tdx-1', { a: 'ok', b: 'ok' }],
    ['PATCH v2', 'tdx-1', { a: 'ok', b: 'not ok' }],
    ['v2', 'tdx-1', { a: 'not ok', b: 'not ok', c: 'ok' }],
    ['v2', 'snp-1', { a: 'ok', b: 'ok' }],
    ['v2', 'snp-1', { a: 'ok', b: 'ok', d: 'ok' }],
  ] as const) {
    ids.push((await ingestText(store, log(results), { series: 'KVM: guest_memfd', version, machine })).runId)
  }
  return ids
}

describePostgres('PostgresAdminStore', (server) => {
  test('deleting runs and merging labels answer as SQLite does and leave the same tables, aggregates equal to a recount', async (t) => {
    const { db, store } = openTestStore(t)
    const ids = await seed(store)
    const pool = await postgresCopyOf(t, server(), db)
    const sqlite = new AdminStore(db)
    const postgres = new PostgresAdminStore(pool)
    const both = async <T>(call: (admin: AdminStore | PostgresAdminStore) => T | Promise<T>): Promise<T> => {
      const expected = await call(sqlite)
      assert.deepEqual(await call(postgres), expected)
      assertRecounted(db)
      assert.deepEqual(await postgresTables(pool, db), sqliteTables(db))
      return expected
    }
    assert.equal(await both(admin => admin.mergeVersions(1, 'PATCH v2', 'v2')), 1)
    assert.equal(await both(admin => admin.mergeVersions(1, 'v9', 'v2')), null)
    assert.equal(await both(admin => admin.mergeVersions(1, 'v2', 'v2')), null)
    const removed = await both(admin => admin.deleteRun(ids[2]!))
    assert.deepEqual({ ...removed, createdAt: undefined, logBytes: undefined }, { id: ids[2], series: 'KVM: guest_memfd', version: 'v2', machine: 'tdx-1', createdAt: undefined, logBytes: undefined })
    // test c ran only in the deleted run: it left the series' test list
    assert.ok(!(sqliteTables(db).series_tests as Array<{ test: string }>).some(row => row.test === 'c'))
    assert.equal(await both(admin => admin.deleteRun(ids[2]!)), null)
    // the last run of a version takes the empty version with it, and the last of the series the series
    await both(admin => admin.deleteRun(ids[0]!))
    assert.deepEqual((await pool.query('SELECT label FROM versions')).rows, [{ label: 'v2' }])
    for (const id of [ids[1]!, ids[3]!, ids[4]!]) await both(admin => admin.deleteRun(id))
    assert.deepEqual((await pool.query('SELECT count(*)::int AS n FROM series')).rows, [{ n: 0 }])
  })

  test('prune removes old runs but never the newest of a version (of a machine, with perMachine), as SQLite does', async (t) => {
    const { db } = openTestStore(t)
    const ids = await seed(new RunStore(db, { clock: () => new Date('2025-01-01T00:00:00Z') }))
    const pool = await postgresCopyOf(t, server(), db)
    const sqlite = new AdminStore(db)
    const postgres = new PostgresAdminStore(pool)
    const cutoff = new Date('2025-06-01T00:00:00Z')
    const dry = await postgres.prune(cutoff, { perMachine: true, dryRun: true })
    assert.deepEqual(dry, sqlite.prune(cutoff, { perMachine: true, dryRun: true }))
    assert.deepEqual([dry.removed.map(run => run.id), dry.kept], [[ids[3]], 4])
    assert.deepEqual(await postgres.prune(new Date('2024-01-01T00:00:00Z')), { removed: [], kept: 5, logBytes: 0 })
    const pruned = await postgres.prune(cutoff)
    assert.deepEqual(pruned, sqlite.prune(cutoff))
    assert.deepEqual([pruned.removed.map(run => run.id), pruned.kept], [[ids[2], ids[3]], 3])
    assertRecounted(db)
    assert.deepEqual(await postgresTables(pool, db), sqliteTables(db))
  })

  test('a merge and a delete in the trend scenario drop the same outcome sets and keep trouble and infrastructure counts', async (t) => {
    const s = await buildScenario(t)
    const db = sqliteOf(s.app).db
    // a pass with a kernel WARNING on v4 (trouble in its cell), and a test the runner found not built (infrastructure)
    const { text } = kselftestLog([
      { collection: 'kvm', name: 'guest_memfd_test', status: 'pass', note: '[   12.345678] WARNING: CPU: 1 PID: 42 at mm/shmem.c:1 x+0x1/0x2' },
      { collection: 'memfd', name: 'memfd_test', status: 'fail', note: 'Warning: file memfd_test is missing!' },
    ], '0x7')
    const warned = await ingestText(s.app.store, text, { series: SERIES, version: 'v4', machine: TDX })
    const pool = await postgresCopyOf(t, server(), db)
    assert.deepEqual(await postgresTables(pool, db), sqliteTables(db))
    const sqlite = new AdminStore(db)
    const postgres = new PostgresAdminStore(pool)
    assert.equal(sqlite.mergeVersions(1, 'v4', 'v3'), 2)
    assert.equal(await postgres.mergeVersions(1, 'v4', 'v3'), 2)
    const sets = async () => (await pool.query<{ key: string }>("SELECT version_id || '/' || machine_id AS key FROM outcome_sets ORDER BY 1")).rows.map(row => row.key)
    assert.deepEqual(await sets(), ['1/1', '1/2', '2/1', '2/2', '3/1', '3/2', '4/2'], 'the sets of v3 and v4 on tdx-host-1 are gone')
    assert.deepEqual(await postgresTables(pool, db), sqliteTables(db))
    const run = s.run('v3', 'arm64-host-1').runId
    assert.deepEqual(await postgres.deleteRun(run), sqlite.deleteRun(run))
    assert.deepEqual(await sets(), ['1/1', '1/2', '2/1', '2/2', '3/1', '3/2'])
    assertRecounted(db)
    assert.deepEqual(await postgresTables(pool, db), sqliteTables(db))
    const troubled = async () => (await pool.query<{ n: number[] }>('SELECT ARRAY[sum(trouble), sum(infrastructure)]::int[] AS n FROM case_stats')).rows[0]!.n
    assert.deepEqual(await troubled(), [1, 1])
    // the WARNING's run, now of v3: its trouble and infrastructure counts go with it
    assert.deepEqual(await postgres.deleteRun(warned.runId), sqlite.deleteRun(warned.runId))
    assert.deepEqual(await troubled(), [0, 0])
    assertRecounted(db)
    assert.deepEqual(await postgresTables(pool, db), sqliteTables(db))
  })

  test('deletes of the same run from two connections at once subtract it once', async (t) => {
    const { db, store } = openTestStore(t)
    const ids = await seed(store)
    const pool = await postgresCopyOf(t, server(), db)
    const postgres = new PostgresAdminStore(pool)
    const [a, b] = await Promise.all([postgres.deleteRun(ids[3]!), postgres.deleteRun(ids[3]!)])
    assert.deepEqual([a === null, b === null].sort(), [false, true])
    new AdminStore(db).deleteRun(ids[3]!)
    assert.deepEqual(await postgresTables(pool, db), sqliteTables(db))
  })

  test('the last runs of a version deleted from two connections at once take the version along, the aggregates recounted', async (t) => {
    const { db, store } = openTestStore(t)
    const ids = await seed(store)
    const pool = await postgresCopyOf(t, server(), db)
    const postgres = new PostgresAdminStore(pool)
    const sqlite = new AdminStore(db)
    for (const admin of [sqlite, postgres]) await admin.deleteRun(ids[4]!)
    // v2's last two runs, on two machines (no cell in common). The write counter, moved last in
    // each delete, is held meanwhile: unless the deletes waited for each other before their checks,
    // each would find the other's run still there and leave the empty version behind.
    const blocker = await pool.connect()
    try {
      await blocker.query('BEGIN')
      await blocker.query("UPDATE store_state SET value = value WHERE key = 'write_counter'")
      const deleting = Promise.all([ids[2]!, ids[3]!].map(id => postgres.deleteRun(id)))
      await new Promise(resolve => setTimeout(resolve, 300))
      await blocker.query('COMMIT')
      assert.deepEqual((await deleting).map(run => run?.id), [ids[2], ids[3]])
    } finally {
      blocker.release()
    }
    for (const id of [ids[2]!, ids[3]!]) sqlite.deleteRun(id)
    assertRecounted(db)
    assert.deepEqual(await postgresTables(pool, db), sqliteTables(db))
    assert.deepEqual((await pool.query('SELECT label FROM versions ORDER BY id')).rows, [{ label: 'v1' }, { label: 'PATCH v2' }])
  })
})
