import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { isFailing, parseKselftestLog, runCompleteness, STATUSES, summarize, type Status, type SubtestRecord } from '../../../ingest/index.ts'
import { buildApp } from '../../../server/app.ts'
import { infrastructureEvidence, TROUBLE_FLAGS } from '../../../server/queries/verdict.ts'
import { realFixtureNames, realFixturePath, realFixturesSkip } from '../../helpers/fixtures.ts'
import { testStoreLocation } from '../../helpers/backend.ts'
import { ingestText } from '../../helpers/store.ts'

/** Every test and subtest of a parsed log, keyed by collection, test and subtest path. */
function casesOf (text: string): Map<string, Status> {
  const cases = new Map<string, Status>()
  const walk = (key: string[], subtests: SubtestRecord[]) => {
    for (const subtest of subtests) {
      const path = [...key, subtest.name]
      cases.set(JSON.stringify(path), subtest.status)
      walk(path, subtest.subtests)
    }
  }
  for (const test of parseKselftestLog(text).tests) {
    cases.set(JSON.stringify([test.collection, test.name]), test.status)
    walk([test.collection, test.name], test.subtests)
  }
  return cases
}

/** What a run says of a case over its results (a log may hold a test twice): some passed, some failed, some showed trouble. */
interface Cell { passed: boolean, failed: boolean, trouble: boolean, failing: number, troubled: number, infrastructure: number }

/** Every test and subtest of a parsed log as a cell; only tests carry flags. */
function cellsOf (text: string): Map<string, Cell> {
  const cells = new Map<string, Cell>()
  const add = (key: string[], status: Status, trouble: boolean, exitCode: number | null, reason: string | null) => {
    const id = JSON.stringify(key)
    const cell = cells.get(id) ?? { passed: false, failed: false, trouble: false, failing: 0, troubled: 0, infrastructure: 0 }
    cells.set(id, {
      passed: cell.passed || status === 'pass' || status === 'xfail',
      failed: cell.failed || isFailing(status),
      trouble: cell.trouble || trouble,
      failing: cell.failing + (isFailing(status) ? 1 : 0),
      troubled: cell.troubled + (trouble ? 1 : 0),
      infrastructure: cell.infrastructure + (infrastructureEvidence({ status, exitCode, reason }) === null ? 0 : 1),
    })
  }
  const walk = (key: string[], subtests: SubtestRecord[]) => {
    for (const subtest of subtests) {
      add([...key, subtest.name], subtest.status, false, null, subtest.reason)
      walk([...key, subtest.name], subtest.subtests)
    }
  }
  for (const test of parseKselftestLog(text).tests) {
    add([test.collection, test.name], test.status, test.flags.some(flag => TROUBLE_FLAGS.includes(flag)), test.exitCode, test.reason)
    walk([test.collection, test.name], test.subtests)
  }
  return cells
}

/**
 * The bucket of a case from one run of each version on the same machine, as the issue's rules say:
 * absent in head is not_run when the head run stopped early, missing when it finished; runs that
 * disagree are flaky unless the head brings new trouble; a new failure outranks new kernel trouble,
 * which outranks everything else.
 */
function expectedBucket (base: Cell | undefined, head: Cell | undefined, headComplete: boolean): string {
  const bucket = untriagedBucket(base, head, headComplete)
  // no known issue is recorded here; infrastructure evidence alone triages
  const failing = ['regression', 'new_failure', 'new_kernel_trouble', 'still_failing', 'still_kernel_trouble', 'flaky']
  return head !== undefined && failing.includes(bucket) && head.failing > 0 && head.infrastructure === head.failing && head.troubled === 0 ? 'infrastructure' : bucket
}

function untriagedBucket (base: Cell | undefined, head: Cell | undefined, headComplete: boolean): string {
  if (head === undefined) return headComplete ? 'missing' : 'not_run'
  if (base === undefined) return head.failed ? 'new_failure' : head.trouble ? 'new_kernel_trouble' : 'new'
  const newTrouble = head.trouble && !base.trouble
  if ((base.passed && base.failed) || (head.passed && head.failed)) return newTrouble ? 'new_kernel_trouble' : 'flaky'
  if (head.failed && !base.failed) return 'regression'
  if (newTrouble) return 'new_kernel_trouble'
  if (head.failed) return 'still_failing'
  if (base.failed) return 'fixed'
  return head.trouble ? 'still_kernel_trouble' : 'unchanged'
}

test('the real logs as versions of one series: trend, matrix, compare and history agree with the parser', { skip: realFixturesSkip }, async (t) => {
  const names = realFixtureNames()
  assert.ok(names.length > 1)
  const app = await buildApp({ dbPath: await testStoreLocation(t), logger: false })
  t.after(() => app.close())
  const texts = names.map(name => readFileSync(realFixturePath(name), 'utf8'))
  for (const [i, text] of texts.entries()) {
    await ingestText(app.store, text, { series: 'real logs', version: `v${i + 1}`, machine: 'real-host', arch: 'x86_64' })
  }
  const get = async (url: string) => {
    const res = await app.inject({ url })
    assert.equal(res.statusCode, 200, url)
    return res.json()
  }

  // trend: each version counts the tests of its one log, the tests its plans promised that never ran, and
  // whether it stopped early; the pass rate counts what never ran as not passed
  const trend = await get('/api/v1/series/1/trend')
  assert.deepEqual(trend.versions.map((v: { label: string, runs: number, summary: unknown, notRun: number, incompleteRuns: number, passRate: number | null }) =>
    [v.label, v.runs, v.summary, v.notRun, v.incompleteRuns, v.passRate]),
  texts.map((text, i) => {
    const parsed = parseKselftestLog(text)
    const summary = summarize(parsed.tests.map(test => test.status))
    const { complete, notRun } = runCompleteness(parsed)
    const ran = summary.total - summary.skip + notRun
    return [`v${i + 1}`, 1, summary, notRun, complete ? 0 : 1, ran === 0 ? null : Math.round((summary.pass + summary.xfail) / ran * 10_000) / 10_000]
  }))
  assert.ok(trend.versions.some((v: { incompleteRuns: number }) => v.incompleteRuns > 0), 'some of the real logs stopped early')

  // matrix: each column holds every test and subtest of its log, with its status
  const rows: Array<{ collection: string, test: string, path: string[], cells: Array<Record<Status, number> | null> }> = []
  let cursor: string | null = null
  do {
    const page = await get(`/api/v1/series/1/matrix?limit=7${cursor === null ? '' : `&cursor=${cursor}`}`)
    rows.push(...page.rows)
    cursor = page.nextCursor
  } while (cursor !== null)
  texts.forEach((text, i) => {
    const fromMatrix = new Map<string, Status>()
    for (const row of rows) {
      const cell = row.cells[i]
      if (!cell) continue
      const statuses = STATUSES.filter(status => cell[status] > 0)
      assert.equal(statuses.length, 1, `one result per case in one run (${names[i]})`)
      fromMatrix.set(JSON.stringify([row.collection, row.test, ...row.path]), statuses[0]!)
    }
    assert.deepEqual(new Map([...fromMatrix].sort()), new Map([...casesOf(text)].sort()), names[i])
  })

  // compare each log with the next: what vanished is missing (or not run, when the next log stopped early), what
  // appeared is new, each case in its bucket, nothing silently dropped
  for (let i = 0; i + 1 < texts.length; i++) {
    const base = cellsOf(texts[i]!)
    const head = cellsOf(texts[i + 1]!)
    const headComplete = runCompleteness(parseKselftestLog(texts[i + 1]!)).complete
    const url = `/api/v1/series/1/compare?base=v${i + 1}&head=v${i + 2}&limit=1000`
    const compare = await get(url)
    const counts = compare.counts as Record<string, number>
    const entries: unknown[] = [...compare.entries]
    for (let next = compare.nextCursor; next !== null;) {
      const page = await get(`${url}&cursor=${next}`)
      entries.push(...page.entries)
      next = page.nextCursor
    }
    const label = `${names[i]} -> ${names[i + 1]}`
    const expected: Record<string, number> = Object.fromEntries(Object.keys(counts).map(bucket => [bucket, 0]))
    for (const key of new Set([...base.keys(), ...head.keys()])) expected[expectedBucket(base.get(key), head.get(key), headComplete)]!++
    assert.deepEqual(counts, expected, label)
    // one machine: a test counts once either way
    assert.deepEqual(compare.machineCounts, counts, label)
    assert.equal(entries.length, Object.entries(counts).filter(([bucket]) => bucket !== 'unchanged').reduce((a, [, n]) => a + n, 0), label)
  }

  // history: a test is found in every version whose log has it
  const [collection, name] = JSON.parse([...casesOf(texts[0]!).keys()][0]!) as [string, string]
  const history = await get(`/api/v1/tests/history?collection=${encodeURIComponent(collection)}&test=${encodeURIComponent(name)}&limit=1000`)
  const holding = texts.map((text, i) => casesOf(text).has(JSON.stringify([collection, name])) ? `v${i + 1}` : null).filter(label => label !== null)
  assert.deepEqual(history.entries.map((entry: { version: { label: string } }) => entry.version.label), holding)
})
