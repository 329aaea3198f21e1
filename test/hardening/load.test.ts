// Load on a real server (a child process on 127.0.0.1) with synthetic logs: bounded in count and time.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, uploadUrl } from '../helpers/app.ts'
import { assertSqliteIntact, readStore, testStoreLocation } from '../helpers/backend.ts'
import { runKsft, startServer } from '../helpers/cli.ts'

const UPLOADERS = 8
const UPLOADS_EACH = 6
const READERS = 16
const SERIES = 'KVM: guest_memfd'

function syntheticLog (uploader: number, upload: number): string {
  const lines = ['TAP version 13', '1..40']
  for (let i = 1; i <= 40; i++) {
    lines.push(`# selftests: kvm: test_${i}`)
    for (let j = 0; j < 50; j++) lines.push(`# uploader ${uploader} upload ${upload} line ${j}`)
    lines.push((i + uploader + upload) % 7 === 0 ? `not ok ${i} selftests: kvm: test_${i} # exit=1` : `ok ${i} selftests: kvm: test_${i}`)
  }
  return `${lines.join('\n')}\n`
}

test('8 uploaders, 16 readers and a CLI writer on the same store: every upload stored once, no SQLITE_BUSY, reads answered throughout', async (t) => {
  const db = await testStoreLocation(t)
  const token = (await runKsft(['token', 'create', '--name', 'load', '--db', db])).stdout.trim().split('\n').at(-1)!
  const { url } = await startServer(t, [], { KSFT_DB: db, KSFT_READS_PER_MINUTE: '0', KSFT_UPLOADS_PER_MINUTE: '0', KSFT_UPLOADS_IN_FLIGHT_PER_TOKEN: '0' })

  const failures: string[] = []
  let uploadsDone = false
  let reads = 0
  const uploaders = Array.from({ length: UPLOADERS }, async (_, u) => {
    for (let i = 0; i < UPLOADS_EACH; i++) {
      const res = await fetch(`${url}${uploadUrl({ series: SERIES, version: `v${i + 1}`, machine: `host-${u}` })}`, {
        method: 'POST', body: syntheticLog(u, i), headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
      })
      if (res.status !== 201) failures.push(`upload ${u}/${i}: ${res.status} ${await res.text()}`)
    }
  })
  const readers = Array.from({ length: READERS }, async (_, r) => {
    const deadline = Date.now() + 60_000
    while (!uploadsDone && Date.now() < deadline) {
      const path = r % 2 === 0 ? '/api/v1/series' : '/api/v1/series/1/trend'
      const res = await fetch(`${url}${path}`)
      // the series appears with the first upload; before that its trend is an honest 404
      if (res.status !== 200 && !(res.status === 404 && path.endsWith('/trend'))) failures.push(`read ${path}: ${res.status} ${await res.text()}`)
      reads++
    }
  })
  // a second process writing the same store: SQLite's busy timeout must absorb the lock on the
  // file, PostgreSQL's the locks of the rows both write (series, versions, cases); never surface them
  const cliWriter = (async () => {
    for (let i = 0; i < 3; i++) {
      const res = await runKsft(['ingest', '-', '--series', SERIES, '--version', 'base', '--machine', `cli-${i}`, '--db', db], { input: syntheticLog(99, i) })
      if (res.code !== 0) failures.push(`cli ingest ${i}: ${res.stderr}`)
    }
  })()
  await Promise.all([...uploaders, cliWriter])
  uploadsDone = true
  await Promise.all(readers)

  assert.deepEqual(failures, [])
  assert.ok(reads >= READERS, `reads answered: ${reads}`)
  await readStore(db, async (tables, store) => {
    assert.deepEqual(await tables.all('SELECT count(*) AS n, count(DISTINCT dedup_key) AS keys FROM runs'), [{ n: UPLOADERS * UPLOADS_EACH + 3, keys: UPLOADERS * UPLOADS_EACH + 3 }])
    assertSqliteIntact(store)
  })
})

test('rate limits answer 429 with Retry-After: uploads per token, reads per address', async (t) => {
  const { app, token } = await buildTestApp(t, { security: { readsPerMinute: 5, uploadsPerMinute: 2 } })
  const other = (await app.store.tokens.create('other-lab', ['upload'])).token
  const upload = (auth: string, version: string) => app.inject({ method: 'POST', url: uploadUrl({ series: SERIES, version }), payload: syntheticLog(0, 0), headers: { authorization: `Bearer ${auth}`, 'content-type': 'text/plain' } })
  assert.equal((await upload(token, 'v1')).statusCode, 201)
  assert.equal((await upload(token, 'v2')).statusCode, 201)
  const limited = await upload(token, 'v3')
  assert.equal(limited.statusCode, 429)
  assert.equal(limited.json().error.code, 'RATE_LIMITED')
  assert.ok(Number(limited.headers['retry-after']) > 0)
  assert.equal((await upload(other, 'v3')).statusCode, 201, 'another token has its own budget')

  const statuses: number[] = []
  for (let i = 0; i < 7; i++) statuses.push((await app.inject({ url: '/api/v1/runs/1' })).statusCode)
  assert.deepEqual(statuses.slice(-2), [429, 429])
  assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'the health check is never limited')
})
