// Issue 12: everything a run produces is bounded. A tiny upload must not make a huge answer: a
// run lists 100 warnings and plans with their counts, results come in pages, log slices are cut.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { gzipSync } from 'node:zlib'
import { buildTestApp, uploadUrl } from '../helpers/app.ts'

const META = { series: 'bounded', version: 'v1', machine: 'm1' }

test('one result line repeated 20 000 times: the run answers a few KB, whatever the parser warned', async (t) => {
  const { app, token } = await buildTestApp(t)
  const body = gzipSync('TAP version 13\n1..1\n' + 'ok 1 selftests: c: a\n1..1\n'.repeat(20_000))
  const res = await app.inject({ method: 'POST', url: uploadUrl(META), payload: body, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain', 'content-encoding': 'gzip' } })
  assert.equal(res.statusCode, 201, res.body.slice(0, 300))
  assert.ok(res.json().warnings.length <= 100)
  const run = await app.inject({ url: `/api/v1/runs/${res.json().id}` })
  t.diagnostic(`gzip ${body.length} bytes; GET run ${run.body.length} bytes, ${run.json().warningCount} warnings and ${run.json().planCount} plans kept`)
  assert.ok(run.body.length < 64 * 1024, `the run is ${run.body.length} bytes`)
  assert.ok(run.json().warnings.length <= 100)
  assert.ok(run.json().plans.length <= 100)
  assert.ok(run.json().planCount <= 1000)
  assert.ok(run.json().warningCount <= 1002)
  assert.ok(run.json().planCount > run.json().plans.length, 'plans beyond the list are counted')
})

test('results come a page at a time: following nextCursor gives every test once, each page bounded', async (t) => {
  const { app, token } = await buildTestApp(t)
  const count = 2500
  const lines = ['TAP version 13', `1..${count}`]
  for (let i = 1; i <= count; i++) {
    lines.push(`# selftests: c: t${i}`)
    if (i === 7) for (let j = 1; j <= 3; j++) lines.push(`# ok ${j} sub${j}`)
    lines.push(`ok ${i} selftests: c: t${i}`)
  }
  const res = await app.inject({ method: 'POST', url: uploadUrl(META), payload: `${lines.join('\n')}\n`, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  assert.equal(res.statusCode, 201, res.body.slice(0, 300))
  const names: string[] = []
  let cursor: number | null = 0
  let pages = 0
  while (cursor !== null) {
    const page: { tests: Array<{ name: string, subtests: Array<{ name: string }> }>, truncated: boolean, nextCursor: number | null } = (await app.inject({ url: `/api/v1/runs/${res.json().id}/results?limit=1000&cursor=${cursor}` })).json()
    assert.ok(page.tests.length <= 1000)
    assert.equal(page.truncated, false)
    for (const test of page.tests) names.push(test.name)
    if (page.tests.some((test: { name: string }) => test.name === 't7')) {
      assert.deepEqual(page.tests.find((test: { name: string }) => test.name === 't7')!.subtests.map((s: { name: string }) => s.name), ['sub1', 'sub2', 'sub3'])
    }
    cursor = page.nextCursor
    pages++
  }
  assert.equal(pages, 3)
  assert.deepEqual(names, Array.from({ length: count }, (_, i) => `t${i + 1}`))
  // the default page is 1000 tests
  assert.equal((await app.inject({ url: `/api/v1/runs/${res.json().id}/results` })).json().tests.length, 1000)
  assert.equal((await app.inject({ url: `/api/v1/runs/${res.json().id}/results?limit=100000` })).statusCode, 400)
})

test('a log slice is cut: a 3 MB line at 64 KiB with a marker, a range past 1 MiB with nextFrom to go on', async (t) => {
  const { app, token } = await buildTestApp(t)
  const long = 'x'.repeat(3 * 1024 * 1024)
  const lines = ['TAP version 13', long, '1..1', ...Array.from({ length: 40 }, (_, i) => `# ${String(i).padEnd(60 * 1024, '.')}`), 'ok 1 selftests: c: a']
  const res = await app.inject({ method: 'POST', url: uploadUrl(META), payload: gzipSync(`${lines.join('\n')}\n`), headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain', 'content-encoding': 'gzip' } })
  assert.equal(res.statusCode, 201, res.body.slice(0, 300))
  const id = res.json().id
  const one = await app.inject({ url: `/api/v1/runs/${id}/log?from=2&to=2` })
  t.diagnostic(`one 3 MiB line: ${one.body.length} bytes answered`)
  assert.ok(one.body.length < 70 * 1024, `${one.body.length} bytes`)
  const line = one.json().lines[0] as string
  assert.ok(line.startsWith('x'.repeat(65536)))
  assert.match(line, /\[\.\.\. 3080192 more bytes of this line: see log\.txt\]$/)

  // 40 lines of 60 KiB: a slice stops near 1 MiB and says where to go on
  const got: string[] = []
  let from: number | null = 3
  let slices = 0
  while (from !== null) {
    const res: { body: string, json: () => any } = await app.inject({ url: `/api/v1/runs/${id}/log?from=${from}&to=44` })
    assert.ok(res.body.length < 1.1 * 1024 * 1024, `a slice of ${res.body.length} bytes`)
    const slice: { from: number, to: number, lines: string[], truncated: boolean, nextFrom: number | null } = res.json()
    assert.equal(slice.from, from)
    assert.equal(slice.lines.length, slice.to - slice.from + 1)
    if (slice.truncated) assert.equal(slice.nextFrom, slice.to + 1)
    else assert.equal(slice.nextFrom, null)
    got.push(...slice.lines)
    from = slice.nextFrom
    slices++
  }
  assert.equal(slices, 3)
  assert.equal(got.length, 42)
  assert.equal(got.at(-1), 'ok 1 selftests: c: a')
})
