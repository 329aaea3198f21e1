import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { isFailing, parseKselftestLog, summarize, type Status, type SubtestRecord } from '../../../ingest/index.ts'
import { buildApp } from '../../../server/app.ts'
import { realFixtureNames, realFixturePath, realFixturesSkip } from '../../helpers/fixtures.ts'
import { ingestText, tempDir } from '../../helpers/store.ts'

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

test('the real logs as versions of one series: trend, matrix, compare and history agree with the parser', { skip: realFixturesSkip }, async (t) => {
  const names = realFixtureNames()
  assert.ok(names.length > 1)
  const dir = tempDir(t)
  const app = await buildApp({ dbPath: join(dir, 'ksft.db'), logger: false })
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

  // trend: each version counts the tests of its one log
  const trend = await get('/api/v1/series/1/trend')
  assert.deepEqual(trend.versions.map((v: { label: string, runs: number, summary: unknown }) => [v.label, v.runs, v.summary]),
    texts.map((text, i) => [`v${i + 1}`, 1, summarize(parseKselftestLog(text).tests.map(test => test.status))]))

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
      const statuses = (Object.keys(cell) as Status[]).filter(key => key !== 'total' as never && key !== 'machines' as never && cell[key] > 0)
      assert.equal(statuses.length, 1, `one result per case in one run (${names[i]})`)
      fromMatrix.set(JSON.stringify([row.collection, row.test, ...row.path]), statuses[0]!)
    }
    assert.deepEqual(new Map([...fromMatrix].sort()), new Map([...casesOf(text)].sort()), names[i])
  })

  // compare each log with the next: what vanished is missing, what appeared is new, nothing silently dropped
  for (let i = 0; i + 1 < texts.length; i++) {
    const base = casesOf(texts[i]!)
    const head = casesOf(texts[i + 1]!)
    const url = `/api/v1/series/1/compare?base=v${i + 1}&head=v${i + 2}&limit=1000`
    const compare = await get(url)
    const counts = compare.counts as Record<string, number>
    const entries: unknown[] = [...compare.entries]
    for (let next = compare.nextCursor; next !== null;) {
      const page = await get(`${url}&cursor=${next}`)
      entries.push(...page.entries)
      next = page.nextCursor
    }
    const appeared = [...head.keys()].filter(key => !base.has(key))
    const label = `${names[i]} -> ${names[i + 1]}`
    assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), new Set([...base.keys(), ...head.keys()]).size, label)
    assert.equal(counts.missing, [...base.keys()].filter(key => !head.has(key)).length, label)
    assert.equal(counts.new_failure, appeared.filter(key => isFailing(head.get(key)!)).length, label)
    assert.equal(counts.new, appeared.filter(key => !isFailing(head.get(key)!)).length, label)
    assert.equal(entries.length, Object.entries(counts).filter(([bucket]) => bucket !== 'unchanged').reduce((a, [, n]) => a + n, 0), label)
  }

  // history: a test is found in every version whose log has it
  const [collection, name] = JSON.parse([...casesOf(texts[0]!).keys()][0]!) as [string, string]
  const history = await get(`/api/v1/tests/history?collection=${encodeURIComponent(collection)}&test=${encodeURIComponent(name)}&limit=1000`)
  const holding = texts.map((text, i) => casesOf(text).has(JSON.stringify([collection, name])) ? `v${i + 1}` : null).filter(label => label !== null)
  assert.deepEqual(history.entries.map((entry: { version: { label: string } }) => entry.version.label), holding)
})
