import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SqliteStore } from '../../server/storage/sqlite/sqlite-store.ts'
import type { Store } from '../../server/storage/store.ts'
import { storeTables, type StoreTables } from '../helpers/aggregates.ts'
import { buildTestApp, uploadUrl } from '../helpers/app.ts'
import { assertSqliteIntact, openTestBackendStore } from '../helpers/backend.ts'
import { runKsft } from '../helpers/cli.ts'
import { ingestText } from '../helpers/store.ts'

// synthetic logs written for these tests
const log = (results: Record<string, 'ok' | 'not ok'>) => `TAP version 13\n1..${Object.keys(results).length}\n${Object.entries(results)
  .map(([name, r], i) => `# selftests: kvm: ${name}\n# TAP version 13\n# 1..1\n# ${r} 1 sub\n${r} ${i + 1} selftests: kvm: ${name}${r === 'ok' ? '' : ' # exit=1'}\n`).join('')}`

// in the SQL both backends read alike (a sum of CASE, where SQLite alone would sum a comparison)
const count = (status: string) => `sum(CASE WHEN r.status = '${status}' THEN 1 ELSE 0 END) AS ${status}`

/** The aggregates as the remaining results say they should be, computed from scratch. */
async function aggregatesFromScratch (tables: StoreTables) {
  return {
    caseStats: await tables.all(`
      SELECT ru.version_id, ru.machine_id, r.case_id, count(*) AS total, ${count('pass')}, ${count('fail')}
      FROM results r JOIN runs ru ON ru.id = r.run_id GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`),
    seriesTests: await tables.all(`
      SELECT DISTINCT v.series_id, c.collection, c.test FROM results r JOIN runs ru ON ru.id = r.run_id
      JOIN versions v ON v.id = ru.version_id JOIN cases c ON c.id = r.case_id WHERE r.parent_seq IS NULL ORDER BY 1, 2, 3`),
    runCollections: await tables.all(`
      SELECT r.run_id, c.collection, count(*) AS total FROM results r JOIN cases c ON c.id = r.case_id
      WHERE r.parent_seq IS NULL GROUP BY 1, 2 ORDER BY 1, 2`),
  }
}

async function aggregatesKept (tables: StoreTables) {
  return {
    caseStats: await tables.all('SELECT version_id, machine_id, case_id, total, pass, fail FROM case_stats ORDER BY 1, 2, 3'),
    seriesTests: await tables.all('SELECT series_id, collection, test FROM series_tests ORDER BY 1, 2, 3'),
    runCollections: await tables.all('SELECT run_id, collection, total FROM run_collections ORDER BY 1, 2'),
  }
}

async function assertAggregatesRecounted (tables: StoreTables) {
  assert.deepEqual(await aggregatesKept(tables), await aggregatesFromScratch(tables))
}

/** One column of a statement's rows. */
async function column (tables: StoreTables, sql: string): Promise<unknown[]> {
  return (await tables.all(sql)).map(row => Object.values(row)[0])
}

async function seed (store: Store) {
  const series = 'KVM: guest_memfd'
  const ids: number[] = []
  for (const [version, machine, results] of [
    ['v1', 'tdx-1', { a: 'ok', b: 'ok' }],
    ['PATCH v2', 'tdx-1', { a: 'ok', b: 'not ok' }],
    ['v2', 'tdx-1', { a: 'not ok', b: 'not ok', c: 'ok' }],
    ['v2', 'snp-1', { a: 'ok', b: 'ok' }],
    ['v2', 'snp-1', { a: 'ok', b: 'ok', d: 'ok' }],
  ] as const) {
    ids.push((await ingestText(store, log(results), { series, version, machine })).runId)
  }
  return ids
}

test('deleting runs and merging labels keep every aggregate equal to what the results say', async (t) => {
  const { store } = await openTestBackendStore(t)
  const tables = storeTables(store)
  const ids = await seed(store)
  await assertAggregatesRecounted(tables)
  const counter = await store.runs.writeCounter()

  // the same version under two labels, folded together by hand
  assert.equal(await store.admin.mergeVersions(1, 'PATCH v2', 'v2'), 1)
  await assertAggregatesRecounted(tables)
  assert.deepEqual(await column(tables, 'SELECT label FROM versions ORDER BY sort_key'), ['v1', 'v2'])
  assert.equal(await store.admin.mergeVersions(1, 'v9', 'v2'), null)

  const removed = await store.admin.deleteRun(ids[2]!)
  assert.deepEqual({ ...removed, createdAt: undefined, logBytes: undefined }, { id: ids[2], series: 'KVM: guest_memfd', version: 'v2', machine: 'tdx-1', createdAt: undefined, logBytes: undefined })
  await assertAggregatesRecounted(tables)
  // test c ran only in the deleted run: it leaves the series' test list
  assert.ok(!((await aggregatesKept(tables)).seriesTests as Array<{ test: string }>).some(row => row.test === 'c'))
  assert.equal(await store.admin.deleteRun(ids[2]!), null)

  // the last run of a version takes the empty version with it
  await store.admin.deleteRun(ids[0]!)
  assert.deepEqual(await column(tables, 'SELECT label FROM versions'), ['v2'])
  await assertAggregatesRecounted(tables)
  assert.ok(await store.runs.writeCounter() > counter, 'readers (ETags) see the change')
  assertSqliteIntact(store)
  // PostgreSQL checks its foreign keys at every write; SQLite can be asked afterwards
  if (store instanceof SqliteStore) assert.deepEqual(store.db.pragma('foreign_key_check'), [])
})

test('prune removes old runs but never the newest of a version (of a machine, with --keep-versions)', async (t) => {
  const { store, location } = await openTestBackendStore(t, { clock: () => new Date('2025-01-01T00:00:00Z') })
  const tables = storeTables(store)
  const ids = await seed(store)
  const dry = await store.admin.prune(new Date('2025-06-01T00:00:00Z'), { perMachine: true, dryRun: true })
  // v1 and PATCH v2 keep their only runs; v2 keeps its newest per machine: runs 3 and 5
  assert.deepEqual(dry.removed.map(run => run.id), [ids[3]])
  assert.equal(dry.kept, 4)
  assert.deepEqual(await column(tables, 'SELECT count(*) AS n FROM runs'), [5])

  const res = await runKsft(['prune', '--older-than', '30d', '--db', location])
  assert.equal(res.code, 0, res.stderr)
  // without --keep-versions, v2 keeps only its newest run (5)
  assert.match(res.stdout, new RegExp(`^removed run ${ids[2]}: KVM: guest_memfd v2 on tdx-1, stored 2025-01-01T00:00:00.000Z, \\d+ log bytes\\nremoved run ${ids[3]}: .*\\nremoved 2 runs stored before .* \\(\\d+ log bytes\\); 3 kept\\n$`))
  assert.deepEqual(await column(tables, 'SELECT id FROM runs ORDER BY id'), [ids[0], ids[1], ids[4]])
  await assertAggregatesRecounted(tables)
  assert.match((await runKsft(['prune', '--older-than', 'soon', '--db', location])).stderr, /^ksft: error: --older-than takes an age such as 180d/)
})

test('admin endpoints need an admin token; the upload token is refused with 403', async (t) => {
  const { app, token } = await buildTestApp(t)
  const admin = (await app.store.tokens.create('root', ['admin'])).token
  for (const version of ['v1', 'RFC v1']) {
    await app.inject({ method: 'POST', url: uploadUrl({ series: 'S', version, machine: 'm' }), payload: log({ a: 'ok' }), headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  }
  const del = (auth?: string) => app.inject({ method: 'DELETE', url: '/api/v1/runs/1', headers: auth ? { authorization: `Bearer ${auth}` } : {} })
  assert.equal((await del()).statusCode, 401)
  const forbidden = await del(token)
  assert.equal(forbidden.statusCode, 403)
  assert.deepEqual(forbidden.json(), { error: { code: 'FORBIDDEN', message: 'the token "test-uploader" lacks the admin scope' } })
  const ok = await del(admin)
  assert.equal(ok.statusCode, 200)
  assert.equal(ok.json().deleted.id, 1)
  assert.equal((await del(admin)).statusCode, 404)
  assert.equal((await app.inject({ url: '/api/v1/runs/1' })).statusCode, 404)

  await app.inject({ method: 'POST', url: uploadUrl({ series: 'S', version: 'v1', machine: 'm' }), payload: log({ a: 'not ok' }), headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  const merge = (body: object, auth = admin) => app.inject({ method: 'POST', url: '/api/v1/series/1/versions/merge', payload: body, headers: { authorization: `Bearer ${auth}` } })
  assert.equal((await merge({ from: 'RFC v1', into: 'v1' }, token)).statusCode, 403)
  const merged = await merge({ from: 'RFC v1', into: 'v1' })
  assert.deepEqual(merged.json(), { merged: { from: 'RFC v1', into: 'v1', runs: 1 } })
  assert.equal((await merge({ from: 'RFC v1', into: 'v1' })).json().error.code, 'VERSION_NOT_FOUND')
  assert.equal((await merge({ from: 'v1', into: 'v1' })).statusCode, 400)
  assert.equal((await merge({ from: 'v1', into: 'v2', extra: 1 })).statusCode, 400)
  assert.equal((await app.inject({ method: 'POST', url: '/api/v1/series/99/versions/merge', payload: { from: 'a', into: 'b' }, headers: { authorization: `Bearer ${admin}` } })).json().error.code, 'SERIES_NOT_FOUND')
})
