import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { buildTestApp, uploadUrl } from '../helpers/app.ts'
import { ensureWebBuilt } from '../helpers/web-build.ts'

// synthetic log written for these tests
const LOG = 'TAP version 13\n1..1\n# selftests: kvm: a\nok 1 selftests: kvm: a\n'

test('a read token makes every page and API read private; upload tokens and the health check still work', async (t) => {
  await ensureWebBuilt() // the page URLs answer 200 only with the dashboard built
  const { app, token } = await buildTestApp(t, { security: { readToken: 'read-secret-123' } })
  const upload = await app.inject({ method: 'POST', url: uploadUrl({ series: 'S', version: 'v1' }), payload: LOG, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  assert.equal(upload.statusCode, 201)
  for (const url of ['/api/v1/runs/1', '/api/v1/series', '/openapi.json', '/', '/runs/1', '/hook.sh']) {
    const res = await app.inject({ url })
    assert.equal(res.statusCode, 401, url)
    assert.equal(res.json().error.code, 'UNAUTHORIZED')
    assert.match(res.headers['www-authenticate'] as string, /^Basic realm="ksft-dashboard"/)
    assert.equal((await app.inject({ url, headers: { authorization: 'Bearer read-secret-123' } })).statusCode, 200, url)
  }
  const basic = `Basic ${Buffer.from('anyone:read-secret-123').toString('base64')}`
  assert.equal((await app.inject({ url: '/api/v1/runs/1', headers: { authorization: basic } })).statusCode, 200)
  assert.equal((await app.inject({ url: '/api/v1/runs/1', headers: { authorization: 'Bearer read-secret-124' } })).statusCode, 401)
  assert.equal((await app.inject({ url: '/api/v1/runs/1', headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
  assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
})

test('security headers and a strict CSP on every response; no stack trace in an error', async (t) => {
  const { app } = await buildTestApp(t)
  for (const url of ['/', '/api/v1/series', '/api/v1/runs/99', '/nope']) {
    const res = await app.inject({ url })
    const csp = res.headers['content-security-policy'] as string
    assert.match(csp, /default-src 'self'/, url)
    assert.match(csp, /script-src 'self'(;|$)/, url)
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, url)
    assert.equal(res.headers['x-content-type-options'], 'nosniff', url)
    assert.ok(res.headers['strict-transport-security'], url)
    assert.doesNotMatch(res.body, /at \w+ \(|node_modules|\.ts:\d+/, url)
  }
})

test('the logs never contain a token', async (t) => {
  let logged = ''
  const sink = new Writable({ write (chunk, _encoding, done) { logged += chunk.toString(); done() } })
  const { app, token } = await buildTestApp(t, { logger: { level: 'trace', stream: sink } })
  await app.inject({ method: 'POST', url: uploadUrl({ series: 'S', version: 'v1' }), payload: LOG, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  await app.inject({ method: 'POST', url: uploadUrl({ series: 'S', version: 'v2' }), payload: LOG, headers: { authorization: `Bearer ${token}x`, 'content-type': 'text/plain' } })
  await app.inject({ url: '/api/v1/runs/1', headers: { authorization: `Bearer ${token}` } })
  assert.match(logged, /run uploaded/)
  const secret = token.split('_').at(-1)!
  assert.equal(logged.includes(secret), false)
})
