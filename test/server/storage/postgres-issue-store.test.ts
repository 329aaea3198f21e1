// The known issues of storage/postgres/issue-store.ts against storage/issue-store.ts: the same
// store (synthetic logs written here, stored through SQLite's ingest and copied to PostgreSQL), the
// same calls through both, the same answers and the same tables afterwards. Mirrors
// test/server/storage/known-issue-store.test.ts.
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { IssueDefinition } from '../../../server/domain/known-issues.ts'
import { AdminStore } from '../../../server/storage/sqlite/admin-store.ts'
import { IssueStore } from '../../../server/storage/sqlite/issue-store.ts'
import { PostgresAdminStore } from '../../../server/storage/postgres/admin-store.ts'
import { PostgresIssueStore } from '../../../server/storage/postgres/issue-store.ts'
import { describePostgres, type TestPostgres } from '../../helpers/postgres.ts'
import { postgresCopyOf, postgresTables, sqliteTables, testMatchRun } from '../../helpers/postgres-seed.ts'
import { ingestText, openTestStore } from '../../helpers/store.ts'

const WARNING = '[  100.123456] WARNING: CPU: 3 PID: 14290 at mm/shmem.c:1234 shmem_fault+0x3a/0x5a0'
const NOW = new Date('2026-01-02T03:04:05.678Z')

/** demo/t fails (its subtest `dev/zero` too, with a reason), demo/u passes; `warning` puts a kernel WARNING inside t. */
function log (options: { warning?: boolean, tFails?: boolean } = {}): string {
  const tFails = options.tFails ?? true
  return [
    'TAP version 13',
    '1..2',
    '# selftests: demo: t',
    '# TAP version 13',
    '# 1..2',
    '# shmem: page lost at offset 4096',
    tFails ? '# not ok 1 dev/zero' : '# ok 1 dev/zero',
    '# ok 2 other',
    ...(options.warning ? [WARNING] : []),
    tFails ? 'not ok 1 selftests: demo: t # exit=1' : 'ok 1 selftests: demo: t',
    '# selftests: demo: u',
    'ok 2 selftests: demo: u',
  ].join('\n')
}

function definition (testGlob: string, more: Partial<IssueDefinition['matcher']> = {}, scope: Partial<IssueDefinition['scope']> = {}, intermittent = false): IssueDefinition {
  return {
    title: testGlob,
    url: null,
    culprit: 'kernel',
    intermittent,
    matcher: { testGlob, reasonRegex: null, logRegex: null, exitCode: null, statuses: [], kernelTrouble: false, ...more },
    scope: { series: [], machines: [], arch: null, cpuFlags: [], kernelGlob: null, versionsFrom: null, versionsTo: null, ...scope },
  }
}

/** Runs stored in SQLite and copied to PostgreSQL, with an issue store on each (one clock for both). */
async function lab (t: TestContext, server: TestPostgres, runs: Array<[version: string, machine: string, text: string]>) {
  const { db, store } = openTestStore(t)
  for (const [version, machine, text] of runs) await ingestText(store, text, { series: 'S', version, machine, arch: 'x86_64', flags: 'tdx' })
  const pool = await postgresCopyOf(t, server, db)
  const readLog = (runId: number, from: number, to: number) => store.getLogLines(runId, from, to)?.lines ?? []
  const sqlite = new IssueStore(db, { clock: () => NOW, readLog })
  const postgres = new PostgresIssueStore(pool, {
    clock: () => NOW,
    // the log is not this store's: the SQLite copy's lines are the same lines
    readLog: async (runId, from, to) => readLog(runId, from, to),
    matchRun: testMatchRun(async (runId, from, to) => readLog(runId, from, to)),
  })
  const sameTables = async (message?: string) => assert.deepEqual(await postgresTables(pool, db), sqliteTables(db), message)
  const matchedPaths = async (issueId: number) => (await pool.query<{ p: string }>(`
    SELECT v.label || ':' || c.test || coalesce('/' || (SELECT string_agg(value, '/') FROM jsonb_array_elements_text(c.path::jsonb)), '') AS p
    FROM known_issue_matches k JOIN results r ON r.run_id = k.run_id AND r.seq = k.seq JOIN cases c ON c.id = r.case_id
    JOIN runs ru ON ru.id = k.run_id JOIN versions v ON v.id = ru.version_id WHERE k.issue_id = $1 ORDER BY p`, [issueId])).rows.map(row => row.p)
  return { db, store, pool, sqlite, postgres, sameTables, matchedPaths }
}

describePostgres('PostgresIssueStore', (server) => {
  test('create, edit, resolve and reopen answer and write as SQLite does: matches, audit, revision and write counter', async (t) => {
    const { sqlite, postgres, sameTables, matchedPaths } = await lab(t, server(), [['v1', 'm1', log()], ['v2', 'm1', log({ warning: true })], ['v2', 'm2', log()], ['v3', 'm1', log({ warning: true, tFails: false })]])
    await sameTables('the copy')
    const both = async <T>(call: (store: IssueStore | PostgresIssueStore) => T | Promise<T>): Promise<T> => {
      const expected = await call(sqlite)
      assert.deepEqual(await call(postgres), expected)
      return expected
    }
    const created = await both(store => store.create(definition('demo/t/dev/zero'), 'tester'))
    assert.deepEqual(await matchedPaths(created.id), ['v1:t/dev/zero', 'v2:t/dev/zero', 'v2:t/dev/zero'])
    await both(store => store.create(definition('demo/*', { reasonRegex: 'page lost' }, { machines: ['m2'] }), 'tester'))
    // the log regex, read from the log of each result that all else matched; only from v2 on
    const logged = await both(store => store.create(definition('demo/t', { logRegex: 'shmem: page lost at offset \\d+' }, { versionsFrom: 'v2' }), 'tester'))
    assert.deepEqual(await matchedPaths(logged.id), ['v2:t', 'v2:t', 'v2:t/dev/zero', 'v2:t/dev/zero'])
    const trouble = await both(store => store.create(definition('demo/**', { kernelTrouble: true, statuses: ['pass'] }, { arch: 'x86_64', cpuFlags: ['tdx'] }, true), 'tester'))
    assert.ok((await matchedPaths(trouble.id)).includes('v3:t'), 'a pass with a kernel WARNING, claimed by the issue')
    await sameTables('after the creations')

    assert.deepEqual(await both(store => store.update(created.id, { matcher: { testGlob: 'demo/t' } }, 'editor')), {
      issue: { ...created, matcher: { ...created.matcher, testGlob: 'demo/t' } }, rematch: false,
    })
    assert.deepEqual(await matchedPaths(created.id), ['v1:t', 'v1:t/dev/zero', 'v2:t', 'v2:t', 'v2:t/dev/zero', 'v2:t/dev/zero'])
    await both(store => store.update(created.id, { title: 'renamed', url: 'https://bugzilla.kernel.org/1' }, 'editor'))
    assert.deepEqual((await both(store => store.update(created.id, { title: 'renamed' }, 'editor')))?.rematch, false, 'nothing changed')
    assert.equal(await both(store => store.update(999, { title: 'x' }, 'editor')), null)
    assert.deepEqual(await both(store => store.update(logged.id, { scope: { versionsFrom: null } }, 'editor', { match: false })).then(edit => edit?.rematch), true)
    // a title's edit moves the generation too (SQLite's rule): pending until matched again
    assert.deepEqual(await both(store => store.pendingRematches()), [created.id, logged.id])
    assert.equal(await both(store => store.rematch(logged.id)), 6)
    assert.deepEqual(await both(store => store.pendingRematches()), [created.id])

    await both(store => store.setActive(created.id, false, 'closer'))
    assert.equal((await both(store => store.setActive(created.id, false, 'closer')))?.resolvedAt, NOW.toISOString(), 'resolved already: no change')
    await both(store => store.update(created.id, { matcher: { testGlob: 'demo/nothing' } }, 'editor'))
    assert.equal((await matchedPaths(created.id)).length, 6, 'resolved: its history stays until it is reopened')
    await both(store => store.setActive(created.id, true, 'opener'))
    assert.deepEqual(await matchedPaths(created.id), [], 'reopened: matched as it now reads')
    assert.equal(await both(store => store.setActive(999, true, 'opener')), null)
    await sameTables('after the edits')

    for (const id of [created.id, logged.id, trouble.id, 999]) {
      await both(store => store.get(id))
      await both(store => store.listed(id))
      await both(store => store.audit(id))
      await both(store => store.matches(id))
    }
    assert.equal((await both(store => store.list())).length, 4)
    assert.deepEqual((await both(store => store.list({ active: true }))).map(issue => issue.id), [4, 3, 2, 1])
    for (const runId of [1, 2, 3, 4, 99]) await both(store => store.exportedMatches(runId))
    assert.deepEqual((await postgres.exportedMatches(2))?.issues.map(issue => [issue.id, issue.version]), [[3, 1]])
  })

  test('perhaps fixed: the newest version a machine ran passes every case the issue matched before', async (t) => {
    const { sqlite, postgres } = await lab(t, server(), [['v1', 'm1', log()], ['v1', 'm2', log()], ['v2', 'm1', log({ tFails: false })], ['v3', 'm2', log()]])
    const issue = await postgres.create(definition('demo/t'), 'tester')
    await sqlite.create(definition('demo/t'), 'tester')
    const fixed = [{ seriesId: 1, series: 'S', machine: 'm1', version: 'v2', lastMatchedVersion: 'v1' }]
    assert.deepEqual(sqlite.perhapsFixed(issue.id), fixed)
    assert.deepEqual(await postgres.perhapsFixed(issue.id), fixed)
    const flaky = await postgres.create(definition('demo/t', {}, {}, true), 'tester')
    assert.deepEqual(await postgres.perhapsFixed(flaky.id), [], 'intermittent: passing once is no fix')
    assert.deepEqual(await postgres.perhapsFixed(999), [])
  })

  test('a rematch whose issue changed under it stops, and leaves no match of the old matcher', async (t) => {
    const { postgres, matchedPaths, pool } = await lab(t, server(), [['v1', 'm1', log()], ['v2', 'm1', log()]])
    const issue = await postgres.create(definition('demo/*'), 'tester', { match: false })
    assert.deepEqual(await postgres.pendingRematches(), [issue.id])
    const first = postgres.rematchSteps(issue.id)
    await first.next() // the first step: old matches deleted, the cases scanned
    await postgres.update(issue.id, { matcher: { testGlob: 'demo/u' } }, 'tester', { match: false })
    await postgres.rematch(issue.id)
    for await (const _ of first) { /* the stale rematch runs out */ }
    assert.deepEqual(await matchedPaths(issue.id), [], 'demo/u passes everywhere: nothing, and nothing of demo/*')
    assert.deepEqual(await postgres.pendingRematches(), [])
    const { rows: [state] } = await pool.query("SELECT generation, matched_generation FROM known_issues WHERE id = $1", [issue.id])
    assert.deepEqual(state, { generation: 2, matched_generation: 2 })
  })

  test('a rematch step waits for an edit in progress on another connection, then stops: no match of the old matcher', async (t) => {
    const { postgres, pool, matchedPaths } = await lab(t, server(), [['v1', 'm1', log()], ['v2', 'm1', log()]])
    const issue = await postgres.create(definition('demo/t'), 'tester', { match: false })
    const steps = postgres.rematchSteps(issue.id)
    assert.deepEqual(await steps.next(), { value: 0, done: false }, 'old matches deleted, the cases scanned')
    // another node's edit, not yet committed: the step that would write demo/t's matches must wait for it
    const editor = await pool.connect()
    try {
      await editor.query('BEGIN')
      await editor.query('UPDATE known_issues SET generation = generation + 1, test_glob = $2 WHERE id = $1', [issue.id, 'demo/u'])
      const rest = (async () => {
        const yielded: number[] = []
        for await (const step of steps) yielded.push(step)
        return yielded
      })()
      await new Promise(resolve => setTimeout(resolve, 300))
      await editor.query('COMMIT')
      assert.deepEqual(await rest, [], 'stopped before writing a match')
    } finally {
      editor.release()
    }
    assert.deepEqual(await matchedPaths(issue.id), [])
    assert.deepEqual(await postgres.pendingRematches(), [issue.id], 'still pending: its current matcher was never run')
  })

  test('renaming in scopes, inside the caller\'s transaction: audited edits, a merge makes the issue pending', async (t) => {
    const { sqlite, postgres, db, pool, sameTables } = await lab(t, server(), [['v1', 'm1', log()]])
    for (const store of [sqlite, postgres]) {
      await store.create(definition('demo/t', {}, { series: [1], machines: ['m1'] }), 'tester')
      await store.create(definition('demo/u', {}, { machines: ['m2', 'm1'] }), 'tester')
      await store.create(definition('demo/v', {}, { machines: ['m10'] }), 'tester')
    }
    const expected = db.transaction(() => [
      sqlite.renameInScopes('machines', 'm1', 'm2', 'admin'),
      sqlite.renameInScopes('series', 1, 7, 'admin', { merge: false }),
      sqlite.renameInScopes('series', 5, 6, 'admin'),
    ])()
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      assert.deepEqual([
        await postgres.renameInScopes(client, 'machines', 'm1', 'm2', 'admin'),
        await postgres.renameInScopes(client, 'series', 1, 7, 'admin', { merge: false }),
        await postgres.renameInScopes(client, 'series', 5, 6, 'admin'),
      ], expected)
      await client.query('COMMIT')
    } finally {
      client.release()
    }
    assert.deepEqual(expected, [[1, 2], [1], []])
    assert.deepEqual(await postgres.pendingRematches(), [1, 2])
    await sameTables()
  })

  test('a rematch over more cases than a page reads every page, as SQLite reads them all', async (t) => {
    const subtests = 5_200
    const many = ['TAP version 13', '1..1', '# selftests: demo: many', '# TAP version 13', `# 1..${subtests}`,
      ...Array.from({ length: subtests }, (_, i) => `# ${i % 2 === 0 ? 'not ok' : 'ok'} ${i + 1} sub-${i + 1}`), 'not ok 1 selftests: demo: many # exit=1'].join('\n')
    const { sqlite, postgres, sameTables } = await lab(t, server(), [['v1', 'm1', many]])
    const expected = sqlite.create(definition('demo/many/sub-*'), 'tester')
    const steps: number[] = []
    const issue = await postgres.create(definition('demo/many/sub-*'), 'tester', { match: false })
    for await (const step of postgres.rematchSteps(issue.id)) steps.push(step)
    assert.deepEqual(steps, [0, 0, subtests / 2, subtests / 2], 'a turn after each page of cases, then the one step of matching and the last')
    assert.deepEqual(await postgres.listed(issue.id), sqlite.listed(expected.id))
    await sameTables()
  })

  test('merging versions matches the moved runs again: a version range scopes them as their new version', async (t) => {
    const { db, sqlite, postgres, pool, matchedPaths, sameTables } = await lab(t, server(), [['v1', 'm1', log()], ['v5', 'm1', log()]])
    const issue = await postgres.create(definition('demo/t', {}, { versionsFrom: 'v3' }), 'tester')
    sqlite.create(definition('demo/t', {}, { versionsFrom: 'v3' }), 'tester')
    assert.deepEqual(await matchedPaths(issue.id), ['v5:t', 'v5:t/dev/zero'])
    assert.equal(new AdminStore(db, sqlite).mergeVersions(1, 'v1', 'v5'), 1)
    assert.equal(await new PostgresAdminStore(pool, postgres).mergeVersions(1, 'v1', 'v5'), 1)
    assert.deepEqual(await matchedPaths(issue.id), ['v5:t', 'v5:t', 'v5:t/dev/zero', 'v5:t/dev/zero'], 'v1\'s run, now in v5, is in range')
    await sameTables()
  })
})
