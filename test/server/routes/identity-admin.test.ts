import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import type { IssueDefinition } from '../../../server/domain/known-issues.ts'
import { SqliteStore } from '../../../server/storage/sqlite/sqlite-store.ts'
import { storeTables } from '../../helpers/aggregates.ts'
import { uploadUrl } from '../../helpers/app.ts'
import { buildScenario, kselftestLog, MESSAGE_IDS, SERIES, TDX, VERSIONS, type Scenario } from '../trend-scenario.ts'

/**
 * Issue 17: an admin renames and merges series and machines, and the merged store is as if the runs
 * had been uploaded together. The trend scenario (test/server/trend-scenario.ts) is uploaded twice:
 * once whole, and once split over two titles (base to v2's first run under the series' old title,
 * from a lab that sends no Message-ID, which would have joined them) and two machine names
 * (tdx-host-1's runs of v3 and v4 under its lab name), then merged through the API. Both stores must
 * answer alike and keep aggregates equal to a recount.
 */
const OLD_TITLE = 'KVM: mm: fd-based approach for supporting KVM guest private memory'
const LAB_NAME = 'tdx-host-1.lab.example.org'

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

/** What the store holds, by names rather than ids: aggregates per version label, machine name and test. */
async function byNames (app: FastifyInstance) {
  const { all } = storeTables(app.store)
  return {
    caseStats: await all(`
      SELECT v.label, m.name AS machine, c.collection, c.test, c.path, cs.total, cs.pass, cs.fail, cs.skip, cs.xfail, cs.xpass, cs.timeout,
        cs.error, cs.trouble, cs.infrastructure
      FROM case_stats cs JOIN versions v ON v.id = cs.version_id JOIN machines m ON m.id = cs.machine_id JOIN cases c ON c.id = cs.case_id
      ORDER BY 1, 2, 3, 4, 5`),
    runs: await all('SELECT r.id, v.label, m.name AS machine FROM runs r JOIN versions v ON v.id = r.version_id JOIN machines m ON m.id = r.machine_id ORDER BY r.id'),
    seriesTests: await all('SELECT collection, test FROM series_tests ORDER BY 1, 2'),
    matches: await all('SELECT run_id, seq, issue_id FROM known_issue_matches ORDER BY 1, 2, 3'),
    series: (await all<{ name: string }>('SELECT name FROM series ORDER BY id')).map(row => row.name),
    machines: await all('SELECT name, arch, cpu, flags FROM machines ORDER BY name'),
  }
}

/** The store's aggregates and the same recounted from its results: equal after every write. */
async function assertRecounted (app: FastifyInstance): Promise<void> {
  const tables = storeTables(app.store)
  assert.deepEqual(await tables.aggregates(), await tables.recount())
}

/** An API answer without the ids a store hands out in its own order (series, versions). */
function withoutIds (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutIds)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(Object.entries(value).filter(([key]) => key !== 'id' && key !== 'versionId').map(([key, v]) => [key, withoutIds(v)]))
}

async function answers (s: Scenario, series: number) {
  const urls = ['trend', 'matrix', 'flaky', 'compare?base=v2&head=v3', 'compare?base=v1&head=v2', 'compare?base=base&head=v4', 'summary.txt?base=v2&head=v3']
  const out: Record<string, unknown> = {}
  for (const url of urls) {
    const res = await s.get(`/api/v1/series/${series}/${url}`)
    assert.equal(res.status, 200, url)
    out[url] = url.startsWith('summary') ? res.text : withoutIds(res.json)
  }
  return out
}

async function admin (app: FastifyInstance) {
  const token = (await app.store.tokens.create('admin-1', ['admin'])).token
  const uploader = (await app.store.tokens.create('lab-1', ['upload'])).token
  const post = async (url: string, payload: unknown, as = token) => {
    const res = await app.inject({ method: 'POST', url, payload: payload as object, headers: { authorization: `Bearer ${as}` } })
    return { status: res.statusCode, body: res.json() }
  }
  return { post, uploader }
}

test('merging a series and a machine through the API gives what uploading the runs together gives, aggregates equal to a recount', async (t) => {
  const together = await buildScenario(t)
  await together.app.store.issues.create(issue(1, TDX), 'triager')

  const split = await buildScenario(t, undefined, {
    series: splitByTitle,
    machine: splitByMachine,
    messageId: (version, machine, index) => splitByTitle(version, machine, index) === OLD_TITLE ? undefined : MESSAGE_IDS[version],
  })
  assert.deepEqual(await storeTables(split.app.store).all('SELECT id, name FROM series ORDER BY id'), [{ id: 1, name: OLD_TITLE }, { id: 2, name: SERIES }])
  // triaged where the old title's runs are: it matches nothing yet, the failures are in the other series
  await split.app.store.issues.create(issue(1, LAB_NAME), 'triager')
  assert.deepEqual(await storeTables(split.app.store).all('SELECT count(*) AS n FROM known_issue_matches'), [{ n: 0 }])
  const { post, uploader } = await admin(split.app)

  // only an admin may; a series cannot merge into itself
  assert.equal((await post('/api/v1/series/1/merge', { into: '2' }, uploader)).status, 403)
  assert.equal((await post('/api/v1/series/1/merge', { into: OLD_TITLE })).body.error.code, 'BAD_REQUEST')
  assert.equal((await post('/api/v1/series/1/merge', { into: 'no such series' })).status, 404)
  assert.deepEqual((await byNames(split.app)).series, [OLD_TITLE, SERIES], 'a refused merge changes nothing')

  const merged = await post(`/api/v1/series/${encodeURIComponent(OLD_TITLE)}/merge`, { into: SERIES })
  assert.equal(merged.status, 200, JSON.stringify(merged.body))
  assert.deepEqual(merged.body.merged, {
    from: { id: 1, name: OLD_TITLE },
    into: { id: 2, name: SERIES },
    versionsMoved: ['base', 'v1'],
    versionsMerged: ['v2'],
    // base and v1 on both machines, and the first run of v2 on each
    runs: 6,
    issuesRematched: [1],
  })
  await assertRecounted(split.app)

  const machine = await post(`/api/v1/machines/${encodeURIComponent(LAB_NAME)}/merge`, { into: TDX })
  assert.equal(machine.status, 200, JSON.stringify(machine.body))
  assert.deepEqual(machine.body.merged, { from: { id: 3, name: LAB_NAME }, into: { id: 1, name: TDX }, runs: 2, issuesRematched: [1] })
  await assertRecounted(split.app)

  // the same runs, results, aggregates, known-issue matches and answers as the store uploaded together
  assert.deepEqual(await byNames(split.app), await byNames(together.app))
  assert.deepEqual(await answers(split, 2), await answers(together, 1))
  const scoped = (await split.app.store.issues.get(1))!
  assert.deepEqual([scoped.scope.series, scoped.scope.machines], [[2], [TDX]])
  assert.deepEqual((await split.app.store.issues.audit(1)).slice(1).map(entry => [entry.action, entry.actor, entry.changes]), [
    ['edit', 'admin-1', { 'scope.series': { from: [1], to: [2] } }],
    ['edit', 'admin-1', { 'scope.machines': { from: [LAB_NAME], to: [TDX] } }],
  ])
  if (split.app.store instanceof SqliteStore) {
    assert.equal(split.app.store.db.pragma('integrity_check', { simple: true }), 'ok')
    assert.deepEqual(split.app.store.db.pragma('foreign_key_check'), [])
  } else {
    // the references PostgreSQL's schema leaves unchecked for ingest's speed (001-schema.sql): none dangles
    assert.deepEqual(await storeTables(split.app.store).all(`
      SELECT (SELECT count(*) FROM results r WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = r.case_id))
        + (SELECT count(*) FROM case_stats s WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = s.case_id)
          OR NOT EXISTS (SELECT 1 FROM machines m WHERE m.id = s.machine_id))
        + (SELECT count(*) FROM series_tests t WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = t.case_id)) AS dangling`), [{ dangling: 0 }])
  }

  // later uploads under the old title and the old machine name land where they were merged
  const { text } = kselftestLog([{ collection: 'kvm', name: 'guest_memfd_test', status: 'pass' }], '0xabc')
  const res = await split.app.inject({ method: 'POST', url: uploadUrl({ series: OLD_TITLE, version: 'v5', machine: LAB_NAME }), payload: text, headers: { authorization: `Bearer ${uploader}`, 'content-type': 'text/plain' } })
  assert.equal(res.statusCode, 201)
  assert.deepEqual([res.json().series, res.json().machine, res.json().seriesMatch.by], [{ id: 2, name: SERIES }, { name: TDX }, 'other_name'])
  await assertRecounted(split.app)
  // and the old names still find them
  assert.equal((await split.get(`/api/v1/series/${encodeURIComponent(OLD_TITLE)}/trend?machine=${encodeURIComponent(LAB_NAME)}`)).json.filters.machine, LAB_NAME)
})

test('a rename keeps the old name a name; a name another series or machine has is refused', async (t) => {
  const s = await buildScenario(t, [['v1', TDX, 0], ['v2', TDX, 0]], { series: version => version === 'v1' ? 'KVM: one' : 'KVM: two' })
  const { post } = await admin(s.app)
  const renamed = await post('/api/v1/series/1/rename', { name: '  KVM: guest_memfd:  the first  ' })
  assert.equal(renamed.status, 200)
  assert.deepEqual(renamed.body.renamed, { id: 1, from: 'KVM: one', to: 'KVM: guest_memfd: the first' })
  const listed = (await s.get('/api/v1/series?q=KVM: ONE')).json.series
  assert.deepEqual(listed.map((item: { name: string, names: string[] }) => [item.name, item.names]), [['KVM: guest_memfd: the first', ['KVM: one', 'KVM: guest_memfd: the first']]])

  for (const name of ['KVM: two', 'kvm:  TWO']) {
    const taken = await post('/api/v1/series/1/rename', { name })
    assert.equal(taken.status, 409, name)
    assert.deepEqual(taken.body.error, { code: 'NAME_TAKEN', message: 'series 2 "KVM: two" has that name already; merge into it instead' })
  }
  const bad = await post('/api/v1/series/1/rename', { name: 'KVM: \u202eevil' })
  assert.equal(bad.status, 400)
  assert.match(bad.body.error.message, /^series contains U\+202E RIGHT-TO-LEFT OVERRIDE/)
  assert.equal((await post('/api/v1/series/1/rename', { name: 'KVM: guest_memfd: the first' })).status, 400, 'the same name')

  const machine = await post(`/api/v1/machines/${TDX}/rename`, { name: 'tdx-host-one' })
  assert.deepEqual(machine.body.renamed, { id: 1, from: TDX, to: 'tdx-host-one' })
  assert.equal((await s.get(`/api/v1/series/2/compare?base=v2&head=v2&machine=${TDX}`)).json.machine, 'tdx-host-one', 'the old name still finds it')
  assert.equal((await post('/api/v1/machines/nope/rename', { name: 'x' })).status, 404)
  await assertRecounted(s.app)
})
