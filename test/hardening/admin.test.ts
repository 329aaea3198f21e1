import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Database } from 'better-sqlite3'
import { AdminStore } from '../../server/storage/sqlite/admin-store.ts'
import { RunStore } from '../../server/storage/sqlite/run-store.ts'
import { buildTestApp, uploadUrl } from '../helpers/app.ts'
import { runKsft } from '../helpers/cli.ts'
import { ingestText, openTestStore } from '../helpers/store.ts'

// synthetic logs written for these tests
const log = (results: Record<string, 'ok' | 'not ok'>) => `TAP version 13\n1..${Object.keys(results).length}\n${Object.entries(results)
  .map(([name, r], i) => `# selftests: kvm: ${name}\n# TAP version 13\n# 1..1\n# ${r} 1 sub\n${r} ${i + 1} selftests: kvm: ${name}${r === 'ok' ? '' : ' # exit=1'}\n`).join('')}`

/** The aggregates as the remaining results say they should be, computed from scratch. */
function aggregatesFromScratch (db: Database) {
  return {
    caseStats: db.prepare(`
      SELECT ru.version_id, ru.machine_id, r.case_id, count(*) AS total, sum(r.status = 'pass') AS pass, sum(r.status = 'fail') AS fail
      FROM results r JOIN runs ru ON ru.id = r.run_id GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`).all(),
    seriesTests: db.prepare(`
      SELECT DISTINCT v.series_id, c.collection, c.test FROM results r JOIN runs ru ON ru.id = r.run_id
      JOIN versions v ON v.id = ru.version_id JOIN cases c ON c.id = r.case_id WHERE r.parent_seq IS NULL ORDER BY 1, 2, 3`).all(),
    runCollections: db.prepare(`
      SELECT r.run_id, c.collection, count(*) AS total FROM results r JOIN cases c ON c.id = r.case_id
      WHERE r.parent_seq IS NULL GROUP BY 1, 2 ORDER BY 1, 2`).all(),
  }
}

function aggregatesKept (db: Database) {
  return {
    caseStats: db.prepare('SELECT version_id, machine_id, case_id, total, pass, fail FROM case_stats ORDER BY 1, 2, 3').all(),
    seriesTests: db.prepare('SELECT series_id, collection, test FROM series_tests ORDER BY 1, 2, 3').all(),
    runCollections: db.prepare('SELECT run_id, collection, total FROM run_collections ORDER BY 1, 2').all(),
  }
}

async function seed (store: RunStore) {
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
  const { db, store } = openTestStore(t)
  const admin = new AdminStore(db)
  const ids = await seed(store)
  assert.deepEqual(aggregatesKept(db), aggregatesFromScratch(db))
  const counter = store.writeCounter()

  // the same version under two labels, folded together by hand
  assert.equal(admin.mergeVersions(1, 'PATCH v2', 'v2'), 1)
  assert.deepEqual(aggregatesKept(db), aggregatesFromScratch(db))
  assert.deepEqual(db.prepare('SELECT label FROM versions ORDER BY sort_key').pluck().all(), ['v1', 'v2'])
  assert.equal(admin.mergeVersions(1, 'v9', 'v2'), null)

  const removed = admin.deleteRun(ids[2]!)
  assert.deepEqual({ ...removed, createdAt: undefined, logBytes: undefined }, { id: ids[2], series: 'KVM: guest_memfd', version: 'v2', machine: 'tdx-1', createdAt: undefined, logBytes: undefined })
  assert.deepEqual(aggregatesKept(db), aggregatesFromScratch(db))
  // test c ran only in the deleted run: it leaves the series' test list
  assert.ok(!(aggregatesKept(db).seriesTests as Array<{ test: string }>).some(row => row.test === 'c'))
  assert.equal(admin.deleteRun(ids[2]!), null)

  // the last run of a version takes the empty version with it
  admin.deleteRun(ids[0]!)
  assert.deepEqual(db.prepare('SELECT label FROM versions').pluck().all(), ['v2'])
  assert.deepEqual(aggregatesKept(db), aggregatesFromScratch(db))
  assert.ok(store.writeCounter() > counter, 'readers (ETags) see the change')
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
  assert.deepEqual(db.pragma('foreign_key_check'), [])
})

test('prune removes old runs but never the newest of a version (of a machine, with --keep-versions)', async (t) => {
  const { db, path } = openTestStore(t)
  const old = new RunStore(db, { clock: () => new Date('2025-01-01T00:00:00Z') })
  const ids = await seed(old)
  const admin = new AdminStore(db)
  const dry = admin.prune(new Date('2025-06-01T00:00:00Z'), { perMachine: true, dryRun: true })
  // v1 and PATCH v2 keep their only runs; v2 keeps its newest per machine: runs 3 and 5
  assert.deepEqual(dry.removed.map(run => run.id), [ids[3]])
  assert.equal(dry.kept, 4)
  assert.equal(db.prepare("SELECT count(*) FROM runs").pluck().get() as number, 5)

  const res = await runKsft(['prune', '--older-than', '30d', '--db', path])
  assert.equal(res.code, 0, res.stderr)
  // without --keep-versions, v2 keeps only its newest run (5)
  assert.match(res.stdout, new RegExp(`^removed run ${ids[2]}: KVM: guest_memfd v2 on tdx-1, stored 2025-01-01T00:00:00.000Z, \\d+ log bytes\\nremoved run ${ids[3]}: .*\\nremoved 2 runs stored before .* \\(\\d+ log bytes\\); 3 kept\\n$`))
  assert.deepEqual(db.prepare('SELECT id FROM runs ORDER BY id').pluck().all(), [ids[0], ids[1], ids[4]])
  assert.deepEqual(aggregatesKept(db), aggregatesFromScratch(db))
  assert.match((await runKsft(['prune', '--older-than', 'soon', '--db', path])).stderr, /^ksft: error: --older-than takes an age such as 180d/)
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
