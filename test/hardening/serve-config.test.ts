// Issue 12, the small ones: links in exports name the public URL, not the Host header (behind a
// proxy that is 127.0.0.1:8080), and the read token can come from a file rather than argv.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildApp } from '../../server/app.ts'
import { serveOptionsFromEnv } from '../../server/main.ts'
import { buildTestApp, uploadUrl } from '../helpers/app.ts'
import { tempDir } from '../helpers/store.ts'

const LOG = 'TAP version 13\n1..1\nnot ok 1 selftests: kvm: a # exit=1\n'

test('--public-url: kcidb.json and junit.xml link the raw log under it, whatever Host the request had', async (t) => {
  const { app, token } = await buildTestApp(t, { publicUrl: 'https://ksft.example.org/lab/' })
  const up = await app.inject({ method: 'POST', url: uploadUrl({ series: 's', version: 'v1' }), payload: LOG, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  assert.equal(up.statusCode, 201)
  const kcidb = await app.inject({ url: '/api/v1/runs/1/kcidb.json', headers: { host: '127.0.0.1:8080' } })
  assert.equal(kcidb.statusCode, 200)
  assert.equal(kcidb.json().tests[0].log_url, 'https://ksft.example.org/lab/api/v1/runs/1/log.txt')
  const junit = await app.inject({ url: '/api/v1/runs/1/junit.xml', headers: { host: '127.0.0.1:8080' } })
  // (JUnit names the log only where it cuts an output; it never names the Host it was asked by)
  assert.doesNotMatch(junit.body, /127\.0\.0\.1/)
  // without it, the request's own address as before
  const { app: plain, token: plainToken } = await buildTestApp(t)
  await plain.inject({ method: 'POST', url: uploadUrl({ series: 's', version: 'v1' }), payload: LOG, headers: { authorization: `Bearer ${plainToken}`, 'content-type': 'text/plain' } })
  assert.equal((await plain.inject({ url: '/api/v1/runs/1/kcidb.json', headers: { host: 'dash:8080' } })).json().tests[0].log_url, 'http://dash:8080/api/v1/runs/1/log.txt')
})

test('a public URL that is not an http(s) URL stops the server at start', async () => {
  for (const bad of ['ksft.example.org', 'ftp://ksft.example.org', 'https://ksft.example.org/?a=1']) {
    await assert.rejects(buildApp({ publicUrl: bad }), /public URL/)
  }
})

test('KSFT_READ_TOKEN_FILE: the read token from the first line of a file; KSFT_PUBLIC_URL and the limits from the environment', (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'read-token')
  writeFileSync(file, 'secret-from-file\n# a comment line\n')
  const options = serveOptionsFromEnv({ KSFT_READ_TOKEN_FILE: file, KSFT_READ_TOKEN: 'not-this', KSFT_PUBLIC_URL: 'https://ksft.example.org', KSFT_PARSE_DEADLINE_MS: '5000', KSFT_UPLOADS_IN_FLIGHT_PER_TOKEN: '0' })
  assert.equal(options.security?.readToken, 'secret-from-file')
  assert.equal(options.publicUrl, 'https://ksft.example.org')
  assert.equal(options.limits?.parseDeadlineMs, 5000)
  assert.equal(options.limits?.uploadsInFlightPerToken, 0)
  writeFileSync(file, '\n')
  assert.throws(() => serveOptionsFromEnv({ KSFT_READ_TOKEN_FILE: file }), /is empty/)
})
