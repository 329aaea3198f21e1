import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { buildTestApp, uploadUrl } from '../helpers/app.ts'
import { sqliteOf } from '../helpers/store.ts'

// synthetic logs written for this test; random output so that the stored log needs new pages
const noise = () => Array.from({ length: 4000 }, () => `# ${randomBytes(48).toString('base64')}\n`).join('')
const log = (name: string) => `TAP version 13\n1..1\n# selftests: kvm: ${name}\n${noise()}ok 1 selftests: kvm: ${name}\n`
const META = { series: 'KVM: guest_memfd', version: 'v2', machine: 'snp-host-1' }

test('a full disk or a read-only database: uploads get 503 with a clear error, reads keep working, nothing half-stored', async (t) => {
  const { app, token } = await buildTestApp(t)
  const upload = (name: string) => app.inject({ method: 'POST', url: uploadUrl({ ...META, machine: name }), payload: log(name), headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  assert.equal((await upload('first')).statusCode, 201)
  const counts = () => sqliteOf(app).db.prepare('SELECT (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM results) AS results, (SELECT count(*) FROM log_chunks) AS chunks').get()
  const before = counts()

  // SQLite's own way to make the file "full": no page may be added (uploads write through a
  // connection of their own, so that is the one made to refuse)
  const writeDb = sqliteOf(app).writeDb
  const pages = writeDb.pragma('page_count', { simple: true }) as number
  writeDb.pragma(`max_page_count = ${pages}`)
  const full = await upload('second')
  assert.equal(full.statusCode, 503)
  assert.equal(full.json().error.code, 'STORE_UNAVAILABLE')
  assert.match(full.json().error.message, /cannot take writes now \(SQLITE_FULL\); reads still work/)
  assert.equal((await app.inject({ url: '/api/v1/runs/1' })).statusCode, 200)
  assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
  assert.deepEqual(counts(), before)
  writeDb.pragma('max_page_count = 4294967294')

  // a read-only database refuses every write the same way
  writeDb.pragma('query_only = ON')
  const readOnly = await upload('third')
  assert.equal(readOnly.statusCode, 503)
  assert.match(readOnly.json().error.message, /SQLITE_READONLY/)
  assert.equal((await app.inject({ url: '/api/v1/runs/1/results' })).statusCode, 200)
  writeDb.pragma('query_only = OFF')

  assert.equal((await upload('fourth')).statusCode, 201, 'the server recovers once the disk has room again')
  assert.equal(sqliteOf(app).db.pragma('integrity_check', { simple: true }), 'ok')
})
