import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import type { InjectOptions } from 'fastify'
import { storeTables } from '../../helpers/aggregates.ts'
import { buildTestApp, uploadUrl } from '../../helpers/app.ts'
import { realFixtureNames, realFixturePath, realFixturesSkip } from '../../helpers/fixtures.ts'

const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'ingest', 'golden')
const META = { series: 'KVM: guest_memfd', version: 'v7', machine: 'snp-host-1', arch: 'x86_64', flags: 'sev,sev_snp', kernel: '6.12.0-rc1', cpu: 'AMD EPYC 9654' }
// synthetic log written for these tests
const LOG = 'TAP version 13\n1..2\n# selftests: kvm: a\nok 1 selftests: kvm: a\n# selftests: kvm: b\nnot ok 2 selftests: kvm: b # exit=254\n'

test('every real log uploaded over HTTP reads back as its golden records, raw log intact', { skip: realFixturesSkip }, async (t) => {
  const { app, token } = await buildTestApp(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address() as { port: number }
  const base = `http://127.0.0.1:${address.port}`
  for (const [i, name] of realFixtureNames().entries()) {
    const raw = readFileSync(realFixturePath(name))
    const res = await fetch(`${base}${uploadUrl({ ...META, version: `v${i + 1}` })}`, {
      method: 'POST', body: raw, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
    })
    assert.equal(res.status, 201, name)
    const created = await res.json() as { id: number, url: string, summary: { total: number } }
    assert.equal(created.url, `/runs/${created.id}`)
    const golden = JSON.parse(readFileSync(join(GOLDEN_DIR, name.replace(/\.txt$/, '.json')), 'utf8')) as { tests: unknown[] }
    const results = await (await fetch(`${base}/api/v1/runs/${created.id}/results`)).json() as { tests: unknown[], run: { summary: { total: number } } }
    assert.deepEqual(results.tests, golden.tests, name)
    assert.equal(results.run.summary.total, golden.tests.length)
    const stored = Buffer.from(await (await fetch(`${base}/api/v1/runs/${created.id}/log.txt`)).arrayBuffer())
    assert.ok(stored.equals(raw), `${name}: raw log kept byte for byte`)
  }
})

test('an upload answers 201 with the run, the same upload again 200 with the same id', async (t) => {
  const { app, token } = await buildTestApp(t)
  const send = () => app.inject({ method: 'POST', url: uploadUrl(META), payload: LOG, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  const first = await send()
  assert.equal(first.statusCode, 201)
  assert.deepEqual(first.json(), {
    id: 1,
    url: '/runs/1',
    series: { id: 1, name: 'KVM: guest_memfd' },
    version: { label: 'v7' },
    machine: { name: 'snp-host-1' },
    summary: { total: 2, pass: 1, fail: 1, skip: 0, xfail: 0, xpass: 0, timeout: 0, error: 0 },
    warnings: [],
    warningCount: 0,
  })
  const again = await send()
  assert.equal(again.statusCode, 200)
  assert.equal(again.json().id, 1)
  const run = (await app.inject({ url: '/api/v1/runs/1' })).json()
  assert.equal(run.machine.cpu, 'AMD EPYC 9654')
  assert.deepEqual(run.machine.flags, ['sev', 'sev_snp'])
  assert.equal(run.kernel, '6.12.0-rc1')
  assert.deepEqual(run.summary, first.json().summary)
})

test('gzip, octet-stream and multipart uploads store the same log', async (t) => {
  const { app, token } = await buildTestApp(t)
  const auth = { authorization: `Bearer ${token}` }
  const gz = await app.inject({ method: 'POST', url: uploadUrl({ ...META, version: 'v1' }), payload: gzipSync(LOG), headers: { ...auth, 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' } })
  assert.equal(gz.statusCode, 201)
  const form = new FormData()
  form.append('metadata', JSON.stringify({ ...META, version: 'v2' }))
  form.append('log', new Blob([LOG], { type: 'text/plain' }), 'ksft.log')
  const request = new Request('http://x/', { method: 'POST', body: form })
  const multipart = await app.inject({
    method: 'POST', url: '/api/v1/runs', payload: Buffer.from(await request.arrayBuffer()),
    headers: { ...auth, 'content-type': request.headers.get('content-type')! },
  })
  assert.equal(multipart.statusCode, 201, multipart.body)
  for (const id of [gz.json().id, multipart.json().id]) {
    const log = await app.inject({ url: `/api/v1/runs/${id}/log.txt` })
    assert.equal(log.body, LOG)
  }
})

test('every refusal has its status and the JSON error shape, and stores nothing', async (t) => {
  const { app, token } = await buildTestApp(t)
  const revoked = await app.store.tokens.create('old', ['upload'])
  await app.store.tokens.revoke('old')
  const admin = await app.store.tokens.create('reader', ['admin'])
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }
  const cases: Array<[string, InjectOptions, number, string, RegExp]> = [
    ['no token', { method: 'POST', url: uploadUrl(META), payload: LOG, headers: { 'content-type': 'text/plain' } }, 401, 'UNAUTHORIZED', /Bearer/],
    ['a revoked token', { method: 'POST', url: uploadUrl(META), payload: LOG, headers: { ...auth, authorization: `Bearer ${revoked.token}` } }, 401, 'UNAUTHORIZED', /unknown or revoked/],
    ['a forged token', { method: 'POST', url: uploadUrl(META), payload: LOG, headers: { ...auth, authorization: `Bearer ${token.slice(0, -2)}xx` } }, 401, 'UNAUTHORIZED', /unknown or revoked/],
    ['no series', { method: 'POST', url: uploadUrl({ version: 'v1' }), payload: LOG, headers: auth }, 400, 'INVALID_METADATA', /^series is required$/],
    ['a bad flag', { method: 'POST', url: uploadUrl({ ...META, flags: 'sev;rm -rf' }), payload: LOG, headers: auth }, 400, 'INVALID_METADATA', /^flags has/],
    ['an unknown key', { method: 'POST', url: uploadUrl({ ...META, colour: 'red' }), payload: LOG, headers: auth }, 400, 'INVALID_METADATA', /unknown metadata key "colour"/],
    ['an empty body', { method: 'POST', url: uploadUrl(META), payload: '', headers: auth }, 400, 'EMPTY_LOG', /empty/],
    ['JSON', { method: 'POST', url: uploadUrl(META), payload: '{"a":1}', headers: { ...auth, 'content-type': 'application/json' } }, 415, 'UNSUPPORTED_MEDIA_TYPE', /text\/plain/],
    ['XML', { method: 'POST', url: uploadUrl(META), payload: '<a/>', headers: { ...auth, 'content-type': 'application/xml' } }, 415, 'UNSUPPORTED_MEDIA_TYPE', /.+/],
    ['brotli', { method: 'POST', url: uploadUrl(META), payload: LOG, headers: { ...auth, 'content-encoding': 'br' } }, 415, 'UNSUPPORTED_MEDIA_TYPE', /Content-Encoding br/],
    ['truncated gzip', { method: 'POST', url: uploadUrl(META), payload: gzipSync(LOG).subarray(0, 20), headers: { ...auth, 'content-encoding': 'gzip' } }, 400, 'BAD_ENCODING', /gzip body is broken/],
    ['not a kselftest log', { method: 'POST', url: uploadUrl(META), payload: 'hello\nworld\n', headers: auth }, 422, 'NOT_KSELFTEST', /not a kselftest log/],
  ]
  for (const [what, request, status, code, message] of cases) {
    const res = await app.inject(request)
    assert.equal(res.statusCode, status, `${what}: ${res.body}`)
    assert.equal(res.json().error.code, code, what)
    assert.match(res.json().error.message, message, what)
  }
  const byAdmin = await app.inject({ method: 'POST', url: uploadUrl(META), payload: LOG, headers: { ...auth, authorization: `Bearer ${admin.token}` } })
  assert.equal(byAdmin.statusCode, 201, 'admin tokens may upload too')
  assert.deepEqual(await storeTables(app.store).all('SELECT count(*) AS n FROM runs'), [{ n: 1 }])
})

test('over the size limit: 413, also for a gzip bomb, which is cut off while inflating', async (t) => {
  const { app, token } = await buildTestApp(t, { maxLogBytes: 64 * 1024 })
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }
  const big = LOG + '# padding\n'.repeat(10_000)
  const plain = await app.inject({ method: 'POST', url: uploadUrl(META), payload: big, headers: auth })
  assert.equal(plain.statusCode, 413)
  assert.equal(plain.json().error.code, 'LOG_TOO_LARGE')
  // 64 MiB of zeros inflate from about 64 KiB: the limit stops it after the first 64 KiB
  const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 })
  assert.ok(bomb.length < 100 * 1024)
  const res = await app.inject({ method: 'POST', url: uploadUrl(META), payload: bomb, headers: { ...auth, 'content-encoding': 'gzip' } })
  assert.equal(res.statusCode, 413)
  assert.deepEqual(await storeTables(app.store).all('SELECT count(*) AS n FROM runs'), [{ n: 0 }])
})

test('run reads: 404 for an unknown run, log ranges checked, lore link from the Message-ID', async (t) => {
  const { app, token } = await buildTestApp(t)
  await app.inject({ method: 'POST', url: uploadUrl({ ...META, message_id: '<20231105163040.14904-1-pbonzini@redhat.com>' }), payload: LOG, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  const run = (await app.inject({ url: '/api/v1/runs/1' })).json()
  assert.equal(run.version.messageId, '20231105163040.14904-1-pbonzini@redhat.com')
  assert.equal(run.version.loreUrl, 'https://lore.kernel.org/r/20231105163040.14904-1-pbonzini%40redhat.com')
  for (const url of ['/api/v1/runs/2', '/api/v1/runs/2/results', '/api/v1/runs/2/log', '/api/v1/runs/2/log.txt']) {
    const res = await app.inject({ url })
    assert.equal(res.statusCode, 404, url)
    assert.deepEqual(res.json(), { error: { code: 'RUN_NOT_FOUND', message: 'no run 2' } })
  }
  assert.deepEqual((await app.inject({ url: '/api/v1/runs/1/log?from=5&to=99' })).json(), {
    from: 5, to: 6, totalLines: 6, lines: ['# selftests: kvm: b', 'not ok 2 selftests: kvm: b # exit=254'], truncated: false, nextFrom: null,
  })
  assert.equal((await app.inject({ url: '/api/v1/runs/1/log?from=5&to=4' })).statusCode, 400)
  assert.equal((await app.inject({ url: '/api/v1/runs/abc' })).json().error.code, 'BAD_REQUEST')
})

test('GET /hook.sh serves the upload hook', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ url: '/hook.sh' })
  assert.equal(res.statusCode, 200)
  assert.match(res.headers['content-type'] as string, /^text\/x-shellscript/)
  assert.match(res.body, /^#!\/bin\/sh/)
})

test('the checkout metadata (tree, repository, patchset hash) reaches the run and its KCIDB checkout', async (t) => {
  const { app, token } = await buildTestApp(t)
  const checkout = {
    tree_name: 'kvm-x86/next',
    git_url: 'https://github.com/kvm-x86/linux.git',
    patchset_hash: 'a'.repeat(64),
    base_commit: 'b'.repeat(40),
  }
  const res = await app.inject({ method: 'POST', url: uploadUrl({ ...META, ...checkout }), payload: LOG, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  assert.equal(res.statusCode, 201)
  const run = (await app.inject({ url: `/api/v1/runs/${res.json().id}` })).json()
  assert.deepEqual([run.version.treeName, run.version.gitUrl, run.version.patchsetHash], ['kvm-x86/next', checkout.git_url, checkout.patchset_hash])
  const kcidb = (await app.inject({ url: `/api/v1/runs/${res.json().id}/kcidb.json?origin=ksft_test` })).json()
  const [entry] = kcidb.checkouts
  assert.deepEqual([entry.tree_name, entry.git_repository_url, entry.patchset_hash, entry.git_commit_hash], ['kvm-x86/next', checkout.git_url, checkout.patchset_hash, checkout.base_commit])
  const bad = await app.inject({ method: 'POST', url: uploadUrl({ ...META, patchset_hash: 'xyz' }), payload: LOG, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  assert.equal(bad.json().error.message, 'patchset_hash must be a SHA-256 hash (64 hex digits), as KCIDB defines it')
})
