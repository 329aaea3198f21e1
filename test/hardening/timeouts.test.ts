// Issue 12: slow bodies are cut, early answers close the connection, one token cannot hold every
// upload slot, and a token's use is never written under another process's write lock.
import assert from 'node:assert/strict'
import { Agent, request, type IncomingMessage } from 'node:http'
import { test, type TestContext } from 'node:test'
import BetterSqlite3 from 'better-sqlite3'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, uploadUrl } from '../helpers/app.ts'
import { sqliteOnly } from '../helpers/backend.ts'

const META = { series: 'timeouts', version: 'v1', machine: 'm1' }
const LOG = 'TAP version 13\n1..1\nok 1 selftests: c: a\n'

async function listen (app: FastifyInstance): Promise<{ host: string, port: number }> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  assert.ok(address && typeof address === 'object')
  return { host: '127.0.0.1', port: address.port }
}

interface Answer { status: number, headers: IncomingMessage['headers'], body: string }

function answer (res: IncomingMessage): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let body = ''
    res.setEncoding('utf8')
    res.on('data', (chunk: string) => { body += chunk })
    res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
    res.on('error', reject)
  })
}

/** An upload whose body the test writes itself, a piece at a time. */
function openUpload (at: { host: string, port: number }, headers: Record<string, string>, agent?: Agent) {
  const req = request({ ...at, method: 'POST', path: uploadUrl(META), headers: { 'content-type': 'text/plain', ...headers }, agent })
  const response = new Promise<Answer>((resolve, reject) => {
    req.on('response', res => { answer(res).then(resolve, reject) })
    req.on('error', reject)
  })
  return { req, response }
}

async function built (t: TestContext, limits: Parameters<typeof buildTestApp>[1]) {
  const built = await buildTestApp(t, limits)
  return { ...built, at: await listen(built.app) }
}

test('a body sent a byte every 250 ms is cut with 408 and the connection closed; so is one that stops', async (t) => {
  const { at, token } = await built(t, { limits: { bodyIdleMs: 700, bodyRateWindowMs: 1000, bodyMinBytesPerSecond: 1000 } })
  const slow = openUpload(at, { authorization: `Bearer ${token}` })
  slow.req.write('TAP version 13\n')
  const dribble = setInterval(() => { if (!slow.req.destroyed) slow.req.write('#') }, 250)
  t.after(() => clearInterval(dribble))
  const started = performance.now()
  const cut = await slow.response
  clearInterval(dribble)
  slow.req.destroy()
  assert.equal(cut.status, 408)
  assert.equal(JSON.parse(cut.body).error.code, 'REQUEST_TIMEOUT')
  assert.match(JSON.parse(cut.body).error.message, /under the floor of 1000 bytes\/s/)
  assert.equal(cut.headers.connection, 'close')
  assert.ok(performance.now() - started < 5000)

  const stalled = openUpload(at, { authorization: `Bearer ${token}` })
  stalled.req.write('TAP version 13\n')
  const idle = await stalled.response
  stalled.req.destroy()
  assert.equal(idle.status, 408)
  assert.match(JSON.parse(idle.body).error.message, /sent nothing for 0.7 s/)
})

test('a keep-alive client: an upload refused before its body was read (401, broken gzip) closes the connection, and the next request on the agent works', async (t) => {
  const { at, token } = await built(t, {})
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.after(() => agent.destroy())
  const big = Buffer.alloc(4 * 1024 * 1024, 'x')
  for (const [what, headers] of [
    ['no token', {}],
    ['a broken gzip', { authorization: `Bearer ${token}`, 'content-encoding': 'gzip' }],
  ] as const) {
    const upload = openUpload(at, headers, agent)
    upload.req.on('error', () => {})
    upload.req.end(big)
    const refused = await upload.response
    assert.ok(refused.status === 401 || refused.status === 400, `${what}: ${refused.status} ${refused.body}`)
    assert.equal(refused.headers.connection, 'close', what)
    const next = await new Promise<Answer>((resolve, reject) => {
      request({ ...at, path: '/healthz', agent }, res => { answer(res).then(resolve, reject) }).on('error', reject).end()
    })
    assert.equal(next.status, 200, what)
  }
})

test('a token with an upload in flight gets 429 with Retry-After for a second one at a limit of 1; another token does not', async (t) => {
  const { app, at, token } = await built(t, { limits: { uploadsInFlightPerToken: 1 } })
  const first = openUpload(at, { authorization: `Bearer ${token}` })
  first.req.write('TAP version 13\n')
  // the first upload holds its slot while its body is still coming
  await new Promise(resolve => setTimeout(resolve, 300))
  const second = await app.inject({ method: 'POST', url: uploadUrl({ ...META, version: 'v2' }), payload: LOG, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  assert.equal(second.statusCode, 429)
  assert.equal(second.json().error.code, 'RATE_LIMITED')
  assert.equal(second.headers['retry-after'], '5')
  const other = (await app.store.tokens.create('other-lab', ['upload'])).token
  const third = await app.inject({ method: 'POST', url: uploadUrl({ ...META, version: 'v3' }), payload: LOG, headers: { authorization: `Bearer ${other}`, 'content-type': 'text/plain' } })
  assert.equal(third.statusCode, 201, third.body)
  first.req.end('1..1\nok 1 selftests: c: a\n')
  assert.equal((await first.response).status, 201)
  const again = await app.inject({ method: 'POST', url: uploadUrl({ ...META, version: 'v4' }), payload: LOG, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  assert.equal(again.statusCode, 201, again.body)
})

test('an authenticated request while another process holds the write lock answers at once; the token\'s last use is written later',
  { skip: sqliteOnly('the write lock is SQLite\'s one lock on its file, taken by a second connection to it') }, async (t) => {
  const { app, dbPath, token } = await buildTestApp(t, { security: { readToken: 'reader-secret' } })
  const other = new BetterSqlite3(dbPath)
  t.after(() => { if (other.inTransaction) other.exec('ROLLBACK'); other.close() })
  other.exec('BEGIN IMMEDIATE')
  const started = performance.now()
  const res = await app.inject({ url: '/api/v1/series', headers: { authorization: `Bearer ${token}` } })
  const ms = performance.now() - started
  assert.equal(res.statusCode, 200, res.body)
  assert.ok(ms < 1000, `the request took ${ms.toFixed(0)} ms`)
  // nothing waits for the lock: the use stays kept for the next flush
  const flushStarted = performance.now()
  assert.equal(await app.store.tokens.flushLastUsed(), 0)
  assert.ok(performance.now() - flushStarted < 200)
  other.exec('ROLLBACK')
  assert.equal(await app.store.tokens.flushLastUsed(), 1)
  const row = other.prepare("SELECT last_used_at FROM tokens WHERE name = 'test-uploader'").get() as { last_used_at: string | null }
  assert.notEqual(row.last_used_at, null)
})
