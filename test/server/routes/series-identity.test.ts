import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, uploadUrl } from '../../helpers/app.ts'

/**
 * Issue 17: which series an upload belongs to. A b4 change-id first, then the cover letters'
 * Message-IDs, then the title, where a title is any the series was uploaded under, in any case and
 * spacing (docs/series.md). Logs: synthetic, written for these tests.
 */
const log = (seed: string) => `TAP version 13\n1..1\n# selftests: kvm: a\n# Random seed: ${seed}\nok 1 selftests: kvm: a\n`
const CHANGE_ID = '20230110-guest-private-memory-0123456789ab'

async function uploader (t: Parameters<typeof buildTestApp>[0]) {
  const { app, token } = await buildTestApp(t)
  let seed = 0
  const upload = async (meta: Record<string, string>, body = log(`0x${++seed}`)) => {
    const res = await app.inject({ method: 'POST', url: uploadUrl(meta), payload: body, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
    return { status: res.statusCode, body: res.json() }
  }
  const get = async (url: string) => {
    const res = await app.inject({ url })
    return { status: res.statusCode, body: res.json() }
  }
  return { app, upload, get }
}

test('a title differing only in case or white space lands in the series, and the answer says so', async (t) => {
  const { upload, get } = await uploader(t)
  const first = await upload({ series: 'KVM: guest_memfd: a file for guest memory', version: 'v1' })
  assert.equal(first.status, 201)
  assert.equal(first.body.seriesMatch, undefined, 'an exact title needs no note')
  const again = await upload({ series: 'kvm:  GUEST_MEMFD: a file   for guest memory ', version: 'v2' })
  assert.equal(again.status, 201)
  assert.deepEqual(again.body.series, { id: 1, name: 'KVM: guest_memfd: a file for guest memory' })
  assert.deepEqual(again.body.seriesMatch, {
    by: 'folded_name',
    sent: 'kvm: GUEST_MEMFD: a file for guest memory',
    note: 'stored in series 1 "KVM: guest_memfd: a file for guest memory": "kvm: GUEST_MEMFD: a file for guest memory" differs from its name only in case or white space',
  })
  const list = (await get('/api/v1/series')).body.series
  assert.equal(list.length, 1)
  // the folded spelling is not a name of its own: it is the same name
  assert.deepEqual(list[0].names, ['KVM: guest_memfd: a file for guest memory'])
  assert.deepEqual((await get('/api/v1/series/1/trend')).body.versions.map((v: { label: string }) => v.label), ['v1', 'v2'])
})

test('a b4 change-id keeps a retitled series one series; every title is a name search finds', async (t) => {
  const { upload, get } = await uploader(t)
  assert.equal((await upload({ series: 'KVM: mm: fd-based approach for supporting KVM guest private memory', version: 'v10', change_id: CHANGE_ID })).status, 201)
  // retitled at v11, as the real series was
  const retitled = await upload({ series: 'KVM: guest_memfd() and per-page attributes', version: 'v11', change_id: CHANGE_ID })
  assert.equal(retitled.status, 201)
  assert.equal(retitled.body.series.id, 1)
  assert.equal(retitled.body.seriesMatch.by, 'change_id')
  assert.match(retitled.body.seriesMatch.note, /the b4 change-id is that series'/)
  // without the change-id, the new title alone still finds it: it is one of its names now
  const byOtherName = await upload({ series: 'KVM: guest_memfd() and per-page attributes', version: 'v12' })
  assert.equal(byOtherName.body.series.id, 1)
  assert.equal(byOtherName.body.seriesMatch.by, 'other_name')

  const [item] = (await get('/api/v1/series')).body.series
  assert.deepEqual(item.names, ['KVM: mm: fd-based approach for supporting KVM guest private memory', 'KVM: guest_memfd() and per-page attributes'])
  assert.deepEqual(item.changeIds, [CHANGE_ID])
  for (const q of ['per-page ATTRIBUTES', 'fd-based', 'kvm:  mm:']) {
    assert.deepEqual((await get(`/api/v1/series?q=${encodeURIComponent(q)}`)).body.series.map((s: { id: number }) => s.id), [1], q)
  }
  assert.deepEqual((await get('/api/v1/series?q=memfd_restricted')).body.series, [])
  // the compare, trend and matrix routes take any name too
  const trend = await get(`/api/v1/series/${encodeURIComponent('kvm: guest_memfd() and per-page attributes')}/trend`)
  assert.equal(trend.status, 200)
  assert.deepEqual(trend.body.versions.map((v: { label: string }) => v.label), ['v10', 'v11', 'v12'])
})

test("the cover letters' Message-ID chain finds the series when the title changed and there is no change-id", async (t) => {
  const { upload, get } = await uploader(t)
  await upload({ series: 'memfd: seal writes', version: 'v1', message_id: '<20240101.1-0-a@example.org>' })
  await upload({ series: 'x86/sev: something else entirely', version: 'v1' })
  // v2 sent in reply to v1's cover letter, under a new title
  const v2 = await upload({ series: 'memfd: F_SEAL_WRITE for shared mappings', version: 'v2', message_id: '20240201.1-0-a@example.org', previous_message_ids: '20240101.1-0-a@example.org' })
  assert.equal(v2.body.series.id, 1)
  assert.equal(v2.body.seriesMatch.by, 'message_id')
  // v2 again from another lab, which knows only v2's own Message-ID
  const elsewhere = await upload({ series: 'memfd: sealing (lab B)', version: 'v2', message_id: '20240201.1-0-a@example.org', machine: 'lab-b' })
  assert.equal(elsewhere.body.series.id, 1)
  assert.equal((await get('/api/v1/series/1/trend')).body.versions.find((v: { label: string }) => v.label === 'v2').runs, 2)
  assert.equal((await get('/api/v1/series')).body.series.length, 2)
})

test('a title of a series with another change-id makes a new series, marked with the change-id', async (t) => {
  const { upload, get } = await uploader(t)
  await upload({ series: 'KVM: selftests: cleanups', version: 'v1', change_id: '20240101-cleanups-aaaaaaaaaaaa' })
  const other = await upload({ series: 'KVM: selftests: cleanups', version: 'v1', change_id: '20240601-cleanups-bbbbbbbbbbbb' })
  assert.equal(other.status, 201)
  assert.deepEqual(other.body.series, { id: 2, name: 'KVM: selftests: cleanups (20240601-cleanups-bbbbbbbbbbbb)' })
  assert.equal(other.body.seriesMatch.by, 'created_apart')
  // its later uploads find it by the change-id; the plain title still names the first
  assert.equal((await upload({ series: 'KVM: selftests: cleanups', version: 'v2', change_id: '20240601-cleanups-bbbbbbbbbbbb' })).body.series.id, 2)
  assert.equal((await upload({ series: 'KVM: selftests: cleanups', version: 'v2' })).body.series.id, 1)
  // a series without a change-id adopts the first one it is uploaded with
  await upload({ series: 'memfd: tests', version: 'v1' })
  assert.equal((await upload({ series: 'memfd: tests', version: 'v2', change_id: '20240701-memfd-cccccccccccc' })).body.seriesMatch, undefined)
  const memfd = (await get('/api/v1/series?q=memfd')).body.series[0]
  assert.deepEqual(memfd.changeIds, ['20240701-memfd-cccccccccccc'])
})

test('identity metadata is checked before anything is stored, and stays out of what makes a run the same run', async (t) => {
  const { upload, get } = await uploader(t)
  for (const [meta, message] of [
    [{ change_id: 'not a change id' }, /^change_id must be a b4 change-id/],
    [{ previous_message_ids: 'a@b,no-at-sign' }, /^previous_message_ids must be a Message-ID/],
    [{ previous_message_ids: 'a@b,c\u200b@d' }, /^previous_message_ids contains U\+200B ZERO WIDTH SPACE/],
  ] as const) {
    const res = await upload({ series: 's', version: 'v1', ...meta })
    assert.equal(res.status, 400, JSON.stringify(meta))
    assert.equal(res.body.error.code, 'INVALID_METADATA')
    assert.match(res.body.error.message, message)
  }
  assert.deepEqual((await get('/api/v1/series')).body.series, [])

  const body = log('0xfeed')
  const first = await upload({ series: 's', version: 'v1' }, body)
  const withChangeId = await upload({ series: 's', version: 'v1', change_id: CHANGE_ID }, body)
  assert.equal(withChangeId.status, 200, 'the same log with the same metadata is the same run, change-id or not')
  assert.equal(withChangeId.body.id, first.body.id)
})
