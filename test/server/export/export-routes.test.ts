import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { buildTestApp, uploadUrl } from '../../helpers/app.ts'
import { realFixturePath, realFixturesSkip } from '../../helpers/fixtures.ts'
import { kcidbValidator, nullPaths } from './kcidb-validator.ts'

const META = { series: 'KVM: guest_memfd', version: 'v7', machine: 'snp-host-1', arch: 'x86_64', flags: 'sev,sev_snp', cpu: 'AMD EPYC 9654' }
// synthetic log written for these tests
const LOG = 'TAP version 13\n1..2\n# selftests: kvm: a\nok 1 selftests: kvm: a\n# selftests: kvm: b\n# boom\nnot ok 2 selftests: kvm: b # exit=254\n'

test('GET /api/v1/runs/:id/kcidb.json answers a valid KCIDB document whose log_url serves the raw log', async (t) => {
  const { app, token } = await buildTestApp(t)
  const up = await app.inject({ method: 'POST', url: uploadUrl(META), payload: LOG, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  assert.equal(up.statusCode, 201)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`

  const res = await fetch(`${base}/api/v1/runs/${up.json().id}/kcidb.json?origin=lab_42`)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
  const doc = await res.json() as { builds: Array<{ id: string }>, tests: Array<{ path: string, status: string, origin: string, log_url: string, log_excerpt: string, misc: Record<string, unknown> }> }
  assert.deepEqual(kcidbValidator()(doc), [])
  assert.deepEqual(nullPaths(doc), [])
  assert.deepEqual(doc.tests.map(kt => [kt.path, kt.status, kt.origin]), [['kselftest.kvm.a', 'PASS', 'lab_42'], ['kselftest.kvm.b', 'FAIL', 'lab_42']])
  // the response schema must not drop what the exporter set
  assert.deepEqual(doc.tests[1]!.misc, { ksft_status: 'fail', names: ['kvm', 'b'], reason: 'boom', exit_code: 254, tap_number: 2, log_lines: [5, 7] })
  assert.equal(doc.tests[1]!.log_excerpt, '# selftests: kvm: b\n# boom\nnot ok 2 selftests: kvm: b # exit=254')
  const log = await fetch(doc.tests[0]!.log_url)
  assert.equal(await log.text(), LOG)

  const byDefault = await app.inject({ url: `/api/v1/runs/${up.json().id}/kcidb.json` })
  assert.equal(byDefault.json().builds[0].id, `ksft_dashboard:run-${up.json().id}`)
})

test('the export routes answer 404 for an unknown run and 400 for an origin KCIDB refuses, in the error shape', async (t) => {
  const { app } = await buildTestApp(t)
  for (const url of ['/api/v1/runs/999/kcidb.json', '/api/v1/runs/999/junit.xml']) {
    const res = await app.inject({ url })
    assert.equal(res.statusCode, 404, url)
    assert.deepEqual(res.json(), { error: { code: 'RUN_NOT_FOUND', message: 'no run 999' } })
  }
  for (const origin of ['Lab', 'lab-1', '']) {
    const res = await app.inject({ url: `/api/v1/runs/1/kcidb.json?origin=${encodeURIComponent(origin)}` })
    assert.equal(res.statusCode, 400, origin)
    assert.equal(res.json().error.code, 'BAD_REQUEST')
  }
})

test('GET /api/v1/runs/:id/junit.xml answers parseable JUnit XML of a real log', { skip: realFixturesSkip }, async (t) => {
  const { app, token } = await buildTestApp(t)
  const raw = readFileSync(realFixturePath('real-kvm-pvm-subset-8-tests.txt'))
  const up = await app.inject({ method: 'POST', url: uploadUrl(META), payload: raw, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  const res = await app.inject({ url: `/api/v1/runs/${up.json().id}/junit.xml` })
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['content-type'], 'application/xml; charset=utf-8')
  assert.equal(XMLValidator.validate(res.body), true)
  const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(res.body)
  assert.equal(parsed.testsuites.testsuite.name, 'kvm')
  assert.equal(parsed.testsuites.testsuite.failures, '2')
  assert.equal(parsed.testsuites.testsuite.skipped, '2')
})

test('the OpenAPI document lists both export routes', async (t) => {
  const { app } = await buildTestApp(t)
  const spec = (await app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, unknown> }
  assert.ok(spec.paths['/api/v1/runs/{id}/kcidb.json'])
  assert.ok(spec.paths['/api/v1/runs/{id}/junit.xml'])
})
