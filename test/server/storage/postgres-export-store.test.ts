// The exporters' lookups of storage/postgres/export-store.ts against storage/export-store.ts, on
// the same store: series by id or name, versions, run ids in version order then upload order.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ExportStore } from '../../../server/storage/sqlite/export-store.ts'
import { PostgresExportStore } from '../../../server/storage/postgres/export-store.ts'
import { describePostgres } from '../../helpers/postgres.ts'
import { postgresCopyOf } from '../../helpers/postgres-seed.ts'
import { ingestText, openTestStore } from '../../helpers/store.ts'

describePostgres('PostgresExportStore', (server) => {
  test('finds series and versions and lists run ids as SQLite does', async (t) => {
    const { db, store } = openTestStore(t)
    // uploaded out of version order, and a series named like another's id
    for (const [series, version, seed] of [['S', 'v2', 1], ['S', 'base', 2], ['S', 'v1', 3], ['S', 'v2', 4], ['S', 'RFC v1', 5], ['1', 'v1', 6]] as const) {
      await ingestText(store, `TAP version 13\n1..1\n# seed ${seed}\nok 1 selftests: kvm: t\n`, { series, version, machine: 'm1' })
    }
    const pool = await postgresCopyOf(t, server(), db)
    const sqlite = new ExportStore(db)
    const postgres = new PostgresExportStore(pool)
    for (const idOrName of ['1', '2', 'S', '3', 'nothing', '01', '99999999999999999']) {
      assert.deepEqual(await postgres.findSeries(idOrName), sqlite.findSeries(idOrName), idOrName)
    }
    assert.deepEqual(await postgres.findSeries('2'), { id: 2, name: '1' })
    for (const [seriesId, label] of [[1, 'v2'], [1, 'v3'], [2, 'v1'], [2, 'v2']] as const) {
      assert.equal(await postgres.hasVersion(seriesId, label), sqlite.hasVersion(seriesId, label))
    }
    for (const [seriesId, label] of [[1, undefined], [1, 'v2'], [1, 'v9'], [2, undefined], [3, undefined]] as const) {
      assert.deepEqual(await postgres.runIds(seriesId, label), sqlite.runIds(seriesId, label))
    }
    assert.deepEqual(await postgres.runIds(1), [2, 5, 3, 1, 4], 'base, RFC v1, v1, then v2\'s two runs in upload order')
  })
})
