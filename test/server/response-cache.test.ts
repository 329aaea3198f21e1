import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, uploadUrl } from '../helpers/app.ts'

// synthetic logs written for this test
const log = (status: 'ok' | 'not ok') => `TAP version 13\n1..1\n# selftests: kvm: a\n${status} 1 selftests: kvm: a${status === 'ok' ? '' : ' # exit=1'}\n`

test('a cached trend answer never outlives a write: uploads and admin deletes show at once', async (t) => {
  const { app, token } = await buildTestApp(t)
  const admin = (await app.store.tokens.create('root', ['admin'])).token
  const upload = (version: string, status: 'ok' | 'not ok') => app.inject({ method: 'POST', url: uploadUrl({ series: 'S', version, machine: 'm' }), payload: log(status), headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  const trend = async () => {
    const res = await app.inject({ url: '/api/v1/series/1/trend' })
    assert.equal(res.statusCode, 200)
    return { etag: res.headers.etag, points: (res.json().versions as Array<{ label: string, summary: { fail: number } }>).map(v => [v.label, v.summary.fail]) }
  }
  await upload('v1', 'ok')
  const first = await trend()
  assert.deepEqual(await trend(), first, 'the same answer twice while nothing changes')
  await upload('v2', 'not ok')
  const second = await trend()
  assert.notEqual(second.etag, first.etag)
  assert.deepEqual(second.points, [['v1', 0], ['v2', 1]])
  assert.equal((await app.inject({ method: 'DELETE', url: '/api/v1/runs/2', headers: { authorization: `Bearer ${admin}` } })).statusCode, 200)
  const third = await trend()
  assert.deepEqual(third.points, [['v1', 0]])
  assert.notEqual(third.etag, second.etag)
})

test('a kept answer is sent again as it was, without reading the store, until a write', async (t) => {
  const { app, token } = await buildTestApp(t)
  // a reason outside ASCII, so that the body's bytes and characters differ
  const upload = (version: string, status: 'ok' | 'not ok') => app.inject({ method: 'POST', url: uploadUrl({ series: 'S', version, machine: 'm' }), payload: log(status).replace('not ok', '# a: déjà vu, 0 ≠ 1\nnot ok'), headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  await upload('v1', 'not ok')
  const trends = app.store.trends
  const findCase = trends.findCase
  let reads = 0
  trends.findCase = async (...args) => {
    reads++
    return findCase.apply(trends, args)
  }
  t.after(() => { trends.findCase = findCase })
  const url = '/api/v1/tests/history?collection=kvm&test=a'
  const first = await app.inject({ url })
  assert.equal(first.statusCode, 200, first.body)
  assert.match(first.json().entries[0].reason, /déjà vu, 0 ≠ 1/)
  const again = await app.inject({ url })
  assert.equal(again.statusCode, 200)
  assert.equal(reads, 1, 'the second answer is the kept one')
  assert.equal(again.headers['content-type'], first.headers['content-type'])
  assert.equal(again.headers.etag, first.headers.etag)
  assert.ok(again.rawPayload.equals(first.rawPayload), 'byte for byte')
  assert.equal(again.headers['content-length'], String(first.rawPayload.length))
  await upload('v2', 'ok')
  const after = await app.inject({ url })
  assert.equal(reads, 2, 'a write drops what was kept')
  assert.equal(after.json().entries.length, 2)
})
