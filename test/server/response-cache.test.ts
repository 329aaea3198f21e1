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
