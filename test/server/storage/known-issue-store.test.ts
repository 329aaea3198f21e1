// Known issues over stored results (synthetic logs written here): what an edit, a race between two
// rematches, a crash mid-rematch and a version merge leave behind, and a known failure that shows
// new kernel trouble.
import assert from 'node:assert/strict'
import test, { type TestContext } from 'node:test'
import type { IssueDefinition } from '../../../server/domain/known-issues.ts'
import { buildApp } from '../../../server/app.ts'
import { AdminStore } from '../../../server/storage/sqlite/admin-store.ts'
import { openTestStore, ingestText } from '../../helpers/store.ts'

const WARNING = '[  100.123456] WARNING: CPU: 3 PID: 14290 at mm/shmem.c:1234 shmem_fault+0x3a/0x5a0'

/** demo/t fails (its subtest `dev/zero` too), demo/u passes; `warning` puts a kernel WARNING inside t. */
function log (options: { warning?: boolean, tFails?: boolean } = {}): string {
  const tFails = options.tFails ?? true
  return [
    'TAP version 13',
    '1..2',
    '# selftests: demo: t',
    '# TAP version 13',
    '# 1..2',
    tFails ? '# not ok 1 dev/zero' : '# ok 1 dev/zero',
    '# ok 2 other',
    ...(options.warning ? [WARNING] : []),
    tFails ? 'not ok 1 selftests: demo: t # exit=1' : 'ok 1 selftests: demo: t',
    '# selftests: demo: u',
    'ok 2 selftests: demo: u',
  ].join('\n')
}

function definition (testGlob: string, more: Partial<IssueDefinition['matcher']> = {}, scope: Partial<IssueDefinition['scope']> = {}): IssueDefinition {
  return {
    title: testGlob,
    url: null,
    culprit: 'kernel',
    intermittent: false,
    matcher: { testGlob, reasonRegex: null, logRegex: null, exitCode: null, statuses: [], kernelTrouble: false, ...more },
    scope: { series: [], machines: [], arch: null, cpuFlags: [], kernelGlob: null, versionsFrom: null, versionsTo: null, ...scope },
  }
}

async function lab (t: TestContext, versions: Array<[string, string]>) {
  const { db, store, path } = openTestStore(t)
  for (const [version, text] of versions) await ingestText(store, text, { series: 'S', version, machine: 'm1' })
  const matchedPaths = (issueId: number) => (db.prepare(`
    SELECT v.label || ':' || c.test || coalesce('/' || (SELECT group_concat(value, '/') FROM json_each(c.path)), '') AS p
    FROM known_issue_matches k JOIN results r ON r.run_id = k.run_id AND r.seq = k.seq JOIN cases c ON c.id = r.case_id
    JOIN runs ru ON ru.id = k.run_id JOIN versions v ON v.id = ru.version_id WHERE k.issue_id = ? ORDER BY p`).pluck().all(issueId) as string[])
  return { db, store, path, matchedPaths }
}

test('an edited matcher drops the old matches and makes the new ones; a resolved issue keeps its matches when edited', async (t) => {
  const { store, matchedPaths } = await lab(t, [['v1', log()]])
  const issue = store.issues.create(definition('demo/t/dev/zero'), 'tester')
  assert.deepEqual(matchedPaths(issue.id), ['v1:t/dev/zero'])
  store.issues.update(issue.id, { matcher: { testGlob: 'demo/t' } }, 'tester')
  assert.deepEqual(matchedPaths(issue.id), ['v1:t', 'v1:t/dev/zero'], 'a test\'s glob covers its subtests, and the old match went with the edit')
  store.issues.setActive(issue.id, false, 'tester')
  store.issues.update(issue.id, { matcher: { testGlob: 'demo/nothing' } }, 'tester')
  assert.deepEqual(matchedPaths(issue.id), ['v1:t', 'v1:t/dev/zero'], 'resolved: its history stays until it is reopened')
  store.issues.setActive(issue.id, true, 'tester')
  assert.deepEqual(matchedPaths(issue.id), [], 'reopened: matched as it now reads')
})

test('a rematch whose issue changed under it stops, and leaves no match of the old matcher', async (t) => {
  const { store, matchedPaths } = await lab(t, [['v1', log()], ['v2', log()]])
  const issue = store.issues.create(definition('demo/*'), 'tester', { match: false })
  const first = store.issues.rematchSteps(issue.id)
  first.next() // the first step: old matches deleted, the cases scanned
  store.issues.update(issue.id, { matcher: { testGlob: 'demo/u' } }, 'tester', { match: false })
  store.issues.rematch(issue.id)
  for (const _ of first) { /* the stale rematch runs out */ }
  assert.deepEqual(matchedPaths(issue.id), [], 'demo/u passes everywhere: nothing, and nothing of demo/*')
  assert.deepEqual(store.issues.pendingRematches(), [])
})

test('an issue whose rematch never finished is pending, and a server catches it up at start', async (t) => {
  const { db, store, path } = await lab(t, [['v1', log()]])
  const issue = store.issues.create(definition('demo/t'), 'tester', { match: false })
  assert.deepEqual(store.issues.pendingRematches(), [issue.id])
  db.close()
  const app = await buildApp({ dbPath: path, logger: false })
  t.after(() => app.close())
  await app.ready()
  for (let i = 0; i < 100 && (await app.store.issues.pendingRematches()).length > 0; i++) await new Promise(resolve => setTimeout(resolve, 20))
  assert.deepEqual(await app.store.issues.pendingRematches(), [])
  const detail = (await app.inject({ url: `/api/v1/issues/${issue.id}` })).json() as { issue: { matchedResults: number } }
  assert.equal(detail.issue.matchedResults, 2, 'demo/t and its failing subtest')
})

test('a known failure that shows new kernel trouble stays the series\' unless the issue claims the trouble', async (t) => {
  const { path, store } = await lab(t, [['v1', log()], ['v2', log({ warning: true })]])
  const app = await buildApp({ dbPath: path, logger: false })
  t.after(() => app.close())
  const bucketOfT = async () => {
    const res = await app.inject({ url: '/api/v1/series/1/compare?base=v1&head=v2' })
    assert.equal(res.statusCode, 200, res.body)
    return (res.json() as { entries: Array<{ test: string, path: string[], bucket: string }> }).entries.find(entry => entry.test === 't' && entry.path.length === 0)?.bucket
  }
  assert.equal(await bucketOfT(), 'new_kernel_trouble')
  const failureOnly = store.issues.create(definition('demo/t'), 'tester')
  assert.equal(await bucketOfT(), 'new_kernel_trouble', 'an issue filed for the failure does not hide the WARNING')
  store.issues.setActive(failureOnly.id, false, 'tester')
  store.issues.create(definition('demo/t', { kernelTrouble: true }), 'tester')
  assert.equal(await bucketOfT(), 'known', 'an issue that claims kernel trouble explains it')
})

test('merging versions matches the moved runs again: a version range scopes them as their new version', async (t) => {
  const { db, store, matchedPaths } = await lab(t, [['v1', log()], ['v5', log()]])
  const issue = store.issues.create(definition('demo/t', {}, { versionsFrom: 'v3' }), 'tester')
  assert.deepEqual(matchedPaths(issue.id), ['v5:t', 'v5:t/dev/zero'])
  assert.equal(new AdminStore(db, store.issues).mergeVersions(1, 'v1', 'v5'), 1)
  assert.deepEqual(matchedPaths(issue.id), ['v5:t', 'v5:t', 'v5:t/dev/zero', 'v5:t/dev/zero'], 'v1\'s run, now in v5, is in range')
})
