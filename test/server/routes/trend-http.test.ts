import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ingestText } from '../../helpers/store.ts'
import { buildScenario, kselftestLog, SERIES, TDX } from '../trend-scenario.ts'

const URLS = [
  '/api/v1/series',
  '/api/v1/series/1/trend',
  '/api/v1/series/1/collections',
  '/api/v1/series/1/compare?base=v2&head=v3',
  '/api/v1/series/1/compare?base=v2&head=v3&limit=0&arch=x86_64&collection=kvm',
  '/api/v1/series/1/matrix',
  '/api/v1/series/1/flaky',
  '/api/v1/series/1/summary.txt?base=v2&head=v3',
  '/api/v1/tests/history?collection=kvm&test=guest_memfd_test',
  '/api/v1/machines',
]

test('every trend endpoint gives an ETag and answers a current If-None-Match with an empty 304', async (t) => {
  const s = await buildScenario(t)
  const tags = new Set<string>()
  for (const url of URLS) {
    const first = await s.app.inject({ url })
    assert.equal(first.statusCode, 200, url)
    const etag = first.headers.etag as string
    assert.match(etag, /^W\/"11-[\w-]+"$/, url)
    tags.add(etag)
    const again = await s.app.inject({ url, headers: { 'if-none-match': etag } })
    assert.equal(again.statusCode, 304, url)
    assert.equal(again.body, '')
    assert.equal(again.headers.etag, etag)
    // the strong form of the same tag, and a list holding it, match too (RFC 9110 weak comparison)
    assert.equal((await s.app.inject({ url, headers: { 'if-none-match': `"x", ${etag.slice(2)}` } })).statusCode, 304)
    assert.equal((await s.app.inject({ url, headers: { 'if-none-match': 'W/"10-stale"' } })).statusCode, 200)
  }
  assert.equal(tags.size, URLS.length, 'the URL is part of the tag')
})

test('a new run changes every tag: the old one gets a full answer with the new data', async (t) => {
  const s = await buildScenario(t)
  const url = '/api/v1/series/1/trend'
  const before = await s.app.inject({ url })
  const { text } = kselftestLog([{ collection: 'kvm', name: 'guest_memfd_test', status: 'fail', note: 'a new failure' }], '0x0badcafe')
  await ingestText(s.app.store, text, { series: SERIES, version: 'v4', machine: TDX })
  const after = await s.app.inject({ url, headers: { 'if-none-match': before.headers.etag as string } })
  assert.equal(after.statusCode, 200)
  assert.notEqual(after.headers.etag, before.headers.etag)
  assert.equal(after.json().versions[4].runs, before.json().versions[4].runs + 1)
})

test('errors carry no ETag and are never 304', async (t) => {
  const s = await buildScenario(t)
  const res = await s.app.inject({ url: '/api/v1/series/999/trend', headers: { 'if-none-match': '*' } })
  assert.equal(res.statusCode, 404)
  assert.equal(res.headers.etag, undefined)
})

test('bad parameters are a 400 that names the field', async (t) => {
  const s = await buildScenario(t)
  const cases: Array<[string, RegExp]> = [
    ['/api/v1/series?limit=0', /limit/],
    ['/api/v1/series?limit=many', /limit/],
    ['/api/v1/machines?limit=100000', /limit/],
    ['/api/v1/series/1/compare?base=v2', /head/],
    ['/api/v1/series/1/compare?head=v2', /base/],
    ['/api/v1/series/1/compare?base=v2&head=v3&bucket=sideways', /bucket/],
    ['/api/v1/series/1/compare?base=v2&head=v3&limit=-1', /limit/],
    ['/api/v1/series/1/compare?base=v2&head=v3&limit=1001', /limit/],
    ['/api/v1/series/1/compare?base=v2&head=v3&arch=', /arch/],
    ['/api/v1/series/1/matrix?limit=0', /limit/],
    ['/api/v1/series/1/flaky?arch=', /arch/],
    ['/api/v1/series/1/summary.txt?base=v2', /head/],
    ['/api/v1/series/1/compare?base=v2&head=v3&cursor=not-a-cursor', /^cursor: /],
    // a cursor of another list is refused, not read as a position in this one
    ['/api/v1/series/1/compare?base=v2&head=v3&cursor=WyJrdm0iLCJndWVzdF9tZW1mZF90ZXN0Il0', /^cursor: /],
    ['/api/v1/series/1/matrix?cursor=WzFd', /^cursor: /],
    ['/api/v1/series?cursor=WyJrdm0iXQ', /^cursor: /],
  ]
  for (const [url, field] of cases) {
    const res = await s.get(url)
    assert.equal(res.status, 400, url)
    assert.equal(res.json.error.code, 'BAD_REQUEST', url)
    assert.match(res.json.error.message, field, url)
  }
})

test('unknown series, versions, machines and collections are 404 with their own codes', async (t) => {
  const s = await buildScenario(t)
  // a machine that exists but ran neither version
  const { text } = kselftestLog([{ collection: 'memfd', name: 'memfd_test', status: 'pass' }], '0x1')
  await ingestText(s.app.store, text, { series: 'another series', version: 'v1', machine: 'snp-host-1' })
  const cases: Array<[string, string, RegExp]> = [
    ['/api/v1/series/999/trend', 'SERIES_NOT_FOUND', /999/],
    [`/api/v1/series/${encodeURIComponent('KVM: no such series')}/matrix`, 'SERIES_NOT_FOUND', /no such series/],
    ['/api/v1/series/999/compare?base=v1&head=v2', 'SERIES_NOT_FOUND', /999/],
    ['/api/v1/series/1/compare?base=v1&head=v9', 'VERSION_NOT_FOUND', /^head: .*"v9".*base, v1, v2, v3, v4$/],
    ['/api/v1/series/1/compare?base=RFC%20v1&head=v2', 'VERSION_NOT_FOUND', /^base: /],
    ['/api/v1/series/1/summary.txt?base=v1&head=v9', 'VERSION_NOT_FOUND', /^head: /],
    ['/api/v1/series/1/compare?base=v1&head=v2&machine=nowhere', 'MACHINE_NOT_FOUND', /^machine: /],
    ['/api/v1/series/1/compare?base=v1&head=v2&machine=snp-host-1', 'NO_RUNS', /^machine: snp-host-1 ran neither v1 nor v2/],
    ['/api/v1/series/1/trend?machine=nowhere', 'MACHINE_NOT_FOUND', /nowhere/],
    ['/api/v1/series/1/trend?collection=net', 'COLLECTION_NOT_FOUND', /^collection: /],
    ['/api/v1/series/1/matrix?collection=net', 'COLLECTION_NOT_FOUND', /^collection: /],
    ['/api/v1/series/1/flaky?machine=nowhere', 'MACHINE_NOT_FOUND', /^machine: /],
    ['/api/v1/series/1/compare?base=v1&head=v2&collection=net', 'COLLECTION_NOT_FOUND', /^collection: /],
    ['/api/v1/series/1/flaky?collection=net', 'COLLECTION_NOT_FOUND', /^collection: /],
    ['/api/v1/series/1/compare?base=v1&head=v2&arch=riscv64', 'NO_RUNS', /^arch: no machine ran v1 or v2 on riscv64$/],
    ['/api/v1/series/1/compare?base=v1&head=v2&machine=tdx-host-1&arch=aarch64', 'NO_RUNS', /^machine: tdx-host-1 ran neither v1 nor v2 on aarch64$/],
    ['/api/v1/series/999/collections', 'SERIES_NOT_FOUND', /999/],
    ['/api/v1/series/2/compare?base=v1&head=v1&machine=tdx-host-1', 'NO_RUNS', /tdx-host-1/],
  ]
  for (const [url, code, message] of cases) {
    const res = await s.get(url)
    assert.equal(res.status, 404, url)
    assert.equal(res.json.error.code, code, url)
    assert.match(res.json.error.message, message, url)
  }
})

test('a series named like a number is reached by its id; names with slashes and spaces by their URL-encoded name', async (t) => {
  const s = await buildScenario(t)
  const { text } = kselftestLog([{ collection: 'memfd', name: 'memfd_test', status: 'pass' }], '0x2')
  await ingestText(s.app.store, text, { series: 'mm/memfd: F_SEAL_EXEC, v2 fixes', version: 'v1', machine: TDX })
  const res = await s.get(`/api/v1/series/${encodeURIComponent('mm/memfd: F_SEAL_EXEC, v2 fixes')}/trend`)
  assert.equal(res.status, 200)
  assert.deepEqual(res.json.series, { id: 2, name: 'mm/memfd: F_SEAL_EXEC, v2 fixes' })

  await ingestText(s.app.store, text, { series: '2024', version: 'v1', machine: TDX })
  assert.equal((await s.get('/api/v1/series/2024/trend')).json.error.code, 'SERIES_NOT_FOUND')
  assert.deepEqual((await s.get('/api/v1/series/3/trend')).json.series, { id: 3, name: '2024' })
})
