// The series' patch lists of storage/postgres/patch-store.ts against storage/patch-store.ts: the
// same reports through both stores, the same answers and the same tables, also after an admin
// merges versions with lists. Mirrors what test/server/routes/series-patches.test.ts asks the store.
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { PatchRecord } from '../../../server/domain/patch-list.ts'
import { AdminStore } from '../../../server/storage/sqlite/admin-store.ts'
import { digestOf } from '../../../server/domain/patch-list.ts'
import { PatchStore } from '../../../server/storage/sqlite/patch-store.ts'
import { PostgresAdminStore } from '../../../server/storage/postgres/admin-store.ts'
import { PostgresPatchStore } from '../../../server/storage/postgres/patch-store.ts'
import { describePostgres, type TestPostgres } from '../../helpers/postgres.ts'
import { postgresCopyOf, postgresTables, sqliteTables } from '../../helpers/postgres-seed.ts'
import { ingestText, openTestStore } from '../../helpers/store.ts'

const NOW = new Date('2026-01-02T03:04:05.678Z')

function patch (n: number, messageId: string | null = null): PatchRecord {
  // a subject with quotes, a backslash and non-ASCII text: JSON written alike by both backends
  return { subject: `[PATCH ${n}/3] KVM: "fix" \\ ünïcode ${n}`, author: n === 2 ? null : 'A U Thor <a@example.org>', patchId: String(n).repeat(40), files: [`virt/kvm/f${n}.c`, 'include/linux/kvm_host.h'], messageId }
}
const LIST = [patch(1), patch(2), patch(3)]
const OTHER = [patch(1), patch(4)]

/** Four runs: v1 twice, v2, v3 once each, on one machine. */
async function lab (t: TestContext, server: TestPostgres) {
  const { db, store } = openTestStore(t)
  for (const [version, seed] of [['v1', 1], ['v1', 2], ['v2', 3], ['v3', 4]] as const) {
    await ingestText(store, `TAP version 13\n1..1\n# seed ${seed}\nok 1 selftests: kvm: t\n`, { series: 'S', version, machine: 'm1' })
  }
  const pool = await postgresCopyOf(t, server, db)
  return { db, pool, sqlite: new PatchStore(db, () => NOW), postgres: new PostgresPatchStore(pool, () => NOW) }
}

describePostgres('PostgresPatchStore', (server) => {
  test('the first report becomes the version\'s list; later ones confirm it (filling Message-IDs) or differ, as in SQLite', async (t) => {
    const { db, pool, sqlite, postgres } = await lab(t, server())
    const both = async <T>(call: (store: PatchStore | PostgresPatchStore) => T | Promise<T>): Promise<T> => {
      const expected = await call(sqlite)
      assert.deepEqual(await call(postgres), expected)
      return expected
    }
    assert.equal(await both(store => store.versionList(1)), null)
    assert.equal(await both(store => store.runReport(1, null)), null)
    assert.equal((await both(store => store.report(1, 1, LIST))).state, 'stored')
    const confirmed = await both(store => store.report(2, 1, [patch(1, '<1@example.org>'), patch(2), patch(3, '<3@example.org>')]))
    assert.equal(confirmed.state, 'confirmed')
    const list = await both(store => store.versionList(1))
    assert.deepEqual(list?.patches.map(p => p.messageId), ['<1@example.org>', null, '<3@example.org>'])
    assert.equal(list?.runId, 1)
    const differs = await both(store => store.report(2, 1, OTHER))
    assert.deepEqual([differs.state, differs.differing], ['differs', OTHER])
    assert.deepEqual(await both(store => store.differingRuns(1)), [2])
    for (const runId of [1, 2, 3]) await both(store => store.runReport(runId, digestOf(LIST)))
    assert.equal((await both(store => store.runReport(1, digestOf(LIST))))?.state, 'stored')
    assert.equal((await both(store => store.runReport(2, digestOf(LIST))))?.state, 'differs')
    await both(store => store.report(3, 2, []))
    assert.deepEqual(await postgresTables(pool, db), sqliteTables(db))
  })

  test('merging a version with a list into one with another keeps the source runs\' list as their difference, the same bytes', async (t) => {
    const { db, pool, sqlite, postgres } = await lab(t, server())
    for (const store of [sqlite, postgres]) {
      await store.report(1, 1, LIST)
      await store.report(2, 1, LIST)
      await store.report(3, 2, OTHER)
    }
    assert.equal(new AdminStore(db).mergeVersions(1, 'v1', 'v2'), 2)
    assert.equal(await new PostgresAdminStore(pool).mergeVersions(1, 'v1', 'v2'), 2)
    const tables = sqliteTables(db)
    assert.deepEqual((tables.run_patch_reports as Array<{ differing: string | null }>).map(row => row.differing === null ? null : JSON.parse(row.differing) as unknown), [LIST, LIST, null])
    assert.deepEqual(await postgresTables(pool, db), tables)
    assert.deepEqual(await postgres.differingRuns(2), sqlite.differingRuns(2))
    assert.deepEqual(await postgres.differingRuns(2), [1, 2])
    // into a version without a list: the list moves with its runs
    assert.equal(sqlite.versionList(3), null)
    assert.equal(new AdminStore(db).mergeVersions(1, 'v2', 'v3'), 3)
    assert.equal(await new PostgresAdminStore(pool).mergeVersions(1, 'v2', 'v3'), 3)
    assert.deepEqual(await postgres.versionList(3), sqlite.versionList(3))
    assert.equal((await postgres.versionList(3))?.digest, digestOf(OTHER))
    assert.deepEqual(await postgresTables(pool, db), sqliteTables(db))
  })

  test('two runs reporting different lists for a version at once: one list wins, the other run differs', async (t) => {
    const { pool, postgres } = await lab(t, server())
    const [a, b] = await Promise.all([postgres.report(1, 1, LIST), postgres.report(2, 1, OTHER)])
    assert.deepEqual([a.state, b.state].sort(), ['differs', 'stored'])
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM version_patches WHERE version_id = 1')
    assert.equal(rows[0]!.n, (a.state === 'stored' ? LIST : OTHER).length)
  })
})
