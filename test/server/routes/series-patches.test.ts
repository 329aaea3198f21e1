import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { CompareSchema } from '../../../server/schemas/trends.ts'
import { buildTestApp, uploadUrl } from '../../helpers/app.ts'
import { assertExactShape } from '../../helpers/exact-shape.ts'

/**
 * Issue 17: the series' patches per version, the delta between two versions and the suspects of
 * each failure, through the API. Logs and patch lists are synthetic, written for these tests: a kvm
 * selftest that fails on its own assertion, and a memfd test during which the kernel warns in
 * mm/shmem.c.
 */
const SERIES = 'KVM: SEV: smoke tests'
const PASSING = 'TAP version 13\n1..2\n# selftests: kvm: sev_smoke_test\nok 1 selftests: kvm: sev_smoke_test\n# selftests: memfd: memfd_test\nok 2 selftests: memfd: memfd_test\n'
const FAILING = 'TAP version 13\n1..2\n# selftests: kvm: sev_smoke_test\n# ==== Test Assertion Failure ====\n#   x86/sev_smoke_test.c:88: ret == 0\n' +
  '#   pid=1 tid=1 errno=22 - Invalid argument\nnot ok 1 selftests: kvm: sev_smoke_test # exit=254\n# selftests: memfd: memfd_test\n' +
  '[   12.345678] WARNING: CPU: 1 PID: 42 at mm/shmem.c:2345 shmem_fault+0x1a/0x2b0\nok 2 selftests: memfd: memfd_test\n'

const id = (seed: string) => seed.repeat(40).slice(0, 40)
const SEV = { subject: 'KVM: SEV: add the smoke path', author: 'A <a@example.org>', patchId: id('a1'), files: ['arch/x86/kvm/svm/sev.c'] }
const TEST_V1 = { subject: 'KVM: selftests: check SEV in sev_smoke_test', author: 'A <a@example.org>', patchId: id('b1'), files: ['tools/testing/selftests/kvm/x86/sev_smoke_test.c'] }
const TEST_V2 = { ...TEST_V1, patchId: id('b2'), messageId: '<20240201.1-2-a@example.org>' }
const TIDY = { subject: 'mm: shmem: tidy', author: 'B <b@example.org>', patchId: id('c1'), files: ['mm/shmem.c'] }
const FAULT = { subject: 'mm: shmem: a faster fault path', author: 'B <b@example.org>', patchId: id('d1'), files: ['mm/shmem.c', 'include/linux/shmem_fs.h'] }
const DOCS = { subject: 'Documentation: KVM: SEV', author: 'A <a@example.org>', patchId: id('e1'), files: ['Documentation/virt/kvm/x86/amd-memory-encryption.rst'] }

async function lab (t: TestContext) {
  const { app, token } = await buildTestApp(t)
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }
  const upload = async (version: string, log: string, machine = 'snp-host-1') => {
    const res = await app.inject({ method: 'POST', url: uploadUrl({ series: SERIES, version, machine }), payload: log, headers })
    assert.ok(res.statusCode === 201 || res.statusCode === 200, res.body)
    return res.json().id as number
  }
  const report = async (runId: number, patches: unknown[], auth = token) => {
    const res = await app.inject({ method: 'PUT', url: `/api/v1/runs/${runId}/patches`, payload: { patches }, headers: { authorization: `Bearer ${auth}` } })
    return { status: res.statusCode, body: res.json() }
  }
  const get = async (url: string) => {
    const res = await app.inject({ url })
    return { status: res.statusCode, body: url.includes('.txt') ? res.body : res.json() }
  }
  return { app, upload, report, get }
}

test('the first list of a version is its list; later ones confirm it, fill in Message-IDs, or are kept as a difference', async (t) => {
  const { upload, report, get } = await lab(t)
  const first = await upload('v2', PASSING)
  const second = await upload('v2', PASSING, 'snp-host-2')
  const third = await upload('v2', PASSING, 'snp-host-3')
  const stored = await report(first, [SEV, { ...TEST_V2, messageId: null }, FAULT])
  assert.equal(stored.status, 200)
  assert.deepEqual(stored.body.report.state, 'stored')
  assert.deepEqual(stored.body.patches.map((p: { position: number, subject: string }) => `${p.position} ${p.subject}`), ['1 KVM: SEV: add the smoke path', '2 KVM: selftests: check SEV in sev_smoke_test', '3 mm: shmem: a faster fault path'])

  // the same patches from another machine, which knows the mail of the second
  const confirmed = await report(second, [SEV, TEST_V2, FAULT])
  assert.equal(confirmed.body.report.state, 'confirmed')
  assert.equal(confirmed.body.patches[1].messageId, '20240201.1-2-a@example.org')
  assert.equal(confirmed.body.patches[1].loreUrl, 'https://lore.kernel.org/r/20240201.1-2-a%40example.org')
  // a tree with a patch less: kept apart, the version's list unchanged
  const differs = await report(third, [SEV, TEST_V2])
  assert.equal(differs.body.report.state, 'differs')
  assert.equal(differs.body.patches.length, 3)
  assert.deepEqual(differs.body.differingRuns, [third])
  // reporting the same again changes nothing
  assert.deepEqual((await report(first, [SEV, { ...TEST_V2, messageId: null }, FAULT])).body, (await get(`/api/v1/runs/${first}/patches`)).body)
  assert.equal((await get(`/api/v1/runs/${first}/patches`)).body.report.state, 'stored')
})

test('a bad list is refused with the reason and stores nothing; base has no patches; an upload token is needed', async (t) => {
  const { upload, report, get } = await lab(t)
  const run = await upload('v1', PASSING)
  const base = await upload('base', PASSING)
  const cases: Array<[unknown[], number, string, RegExp]> = [
    [[{ ...SEV, patchId: 'not-a-patch-id-but-forty-characters-long' }], 400, 'INVALID_PATCHES', /^patch 1: patchId must be what git patch-id --stable prints/],
    [[SEV, { ...TEST_V1, files: ['../../etc/passwd'] }], 400, 'INVALID_PATCHES', /^patch 2: "\.\.\/\.\.\/etc\/passwd" is not a path inside the tree/],
    [[{ ...SEV, subject: 'KVM: \u001b[31mred' }], 400, 'INVALID_PATCHES', /^patch 1: subject contains control characters \(U\+001B ESCAPE\)/],
    [[{ ...SEV, messageId: 'no at sign' }], 400, 'INVALID_PATCHES', /^patch 1: messageId "no at sign" is not a Message-ID/],
    [[{ subject: 'x', patchId: id('f1') }], 400, 'BAD_REQUEST', /files/],
    [[{ ...SEV, extra: 1 }], 400, 'BAD_REQUEST', /additional properties/],
  ]
  for (const [patches, status, code, message] of cases) {
    const res = await report(run, patches)
    assert.equal(res.status, status, JSON.stringify(patches))
    assert.equal(res.body.error.code, code)
    assert.match(res.body.error.message, message)
  }
  const onBase = await report(base, [SEV])
  assert.equal(onBase.status, 400)
  assert.match(onBase.body.error.message, /of the base version, the unpatched tree/)
  assert.equal((await report(run, [SEV], 'ksft_1_nonsense')).status, 401)
  assert.equal((await report(999, [SEV])).status, 404)
  assert.deepEqual((await get(`/api/v1/runs/${run}/patches`)).body, { run: { id: run }, version: { id: 1, label: 'v1' }, report: null, patches: null, differingRuns: [] })
  // the base's empty list is fine, and still no list for it
  assert.equal((await report(base, [])).status, 200)
})

test('compare: the delta as git range-diff reads it, suspects beside each failure, and a failure the series cannot explain', async (t) => {
  const { upload, report, get } = await lab(t)
  await report(await upload('v1', PASSING), [SEV, TEST_V1, TIDY, DOCS])
  await report(await upload('v2', FAILING), [SEV, TEST_V2, FAULT, DOCS])
  // v3: the same patches as v2 (rebased: the same patch-ids), and the same failures
  await report(await upload('v3', FAILING.replace('x86/sev_smoke_test.c:88', 'x86/sev_smoke_test.c:89')), [SEV, TEST_V2, FAULT, DOCS])

  const compare = (await get('/api/v1/series/1/compare?base=v1&head=v2')).body
  // written with JSON.stringify: the delta and the suspects too must be what the schema lists
  assertExactShape(CompareSchema, compare)
  assert.equal(compare.delta.available, true)
  assert.equal(compare.delta.summary, 'v1→v2: 1 patch modified, 1 added, 1 dropped')
  assert.deepEqual(compare.delta.entries.map((e: { change: string, base: { position: number } | null, head: { position: number } | null }) =>
    `${e.change} ${e.base?.position ?? '-'}>${e.head?.position ?? '-'}`), ['unchanged 1>1', 'modified 2>2', 'dropped 3>-', 'added ->3', 'unchanged 4>4'])
  assert.deepEqual(compare.delta.counts, { modified: 1, added: 1, dropped: 1, reordered: 0, unchanged: 2 })

  const entry = (bucket: string, test: string) => compare.entries.find((e: { bucket: string, test: string }) => e.bucket === bucket && e.test === test)
  const suspects = (e: { suspects: Array<{ change: string, strength: string, patch: { subject: string } }> }) => e.suspects.map(s => `${s.strength} ${s.change} ${s.patch.subject}`)
  const smoke = entry('regression', 'sev_smoke_test')
  assert.deepEqual(suspects(smoke), [
    'test_source modified KVM: selftests: check SEV in sev_smoke_test',
    'changed dropped mm: shmem: tidy',
    'changed added mm: shmem: a faster fault path',
  ])
  // the assertion's location is the test's own file too
  assert.deepEqual(smoke.suspects[0].evidence.map((e: { kind: string }) => e.kind), ['test_source', 'reason_file'])
  assert.equal(smoke.suspects[0].patch.loreUrl, 'https://lore.kernel.org/r/20240201.1-2-a%40example.org')
  assert.equal(smoke.suspectCount, 3)
  assert.equal(smoke.deltaEmpty, false)
  // the memfd test passed, but the kernel warned in mm/shmem.c during it: read from its log lines
  const warned = entry('new_kernel_trouble', 'memfd_test')
  assert.deepEqual(suspects(warned), [
    'reason_file dropped mm: shmem: tidy',
    'reason_file added mm: shmem: a faster fault path',
    'changed modified KVM: selftests: check SEV in sev_smoke_test',
  ])
  assert.deepEqual(warned.suspects[1].evidence[0], { kind: 'reason_file', file: 'mm/shmem.c', matched: 'mm/shmem.c' })

  // v2 -> v3: the same patches; what still fails is not the series' doing
  const same = (await get('/api/v1/series/1/compare?base=v2&head=v3')).body
  assert.equal(same.delta.summary, 'v2→v3: no change (4 patches unchanged)')
  const text = (await get('/api/v1/series/1/summary.txt?base=v1&head=v2')).body as string
  assert.match(text, /\nPatches v1→v2: 1 patch modified, 1 added, 1 dropped\n {2}modified {2}\[2\] KVM: selftests: check SEV in sev_smoke_test https:\/\/lore\.kernel\.org\/r\/20240201\.1-2-a%40example\.org\n {2}dropped {3}\[3\] mm: shmem: tidy\n {2}added {5}\[3\] mm: shmem: a faster fault path\n/)
  assert.match(text, /kvm: sev_smoke_test \(snp-host-1\): pass -> fail\n {6}x86\/sev_smoke_test\.c:88: ret == 0\n {6}hint, look first at \[2\] KVM: selftests: check SEV in sev_smoke_test \(modified; touches the failing test's own source: tools\/testing\/selftests\/kvm\/x86\/sev_smoke_test\.c\)\n {17}then at \[3\] mm: shmem: tidy/)
})

test('a failure between two versions with the same patches is marked: the change is not in the series', async (t) => {
  const { upload, report, get } = await lab(t)
  await report(await upload('v6', PASSING), [SEV, TEST_V2])
  await report(await upload('v7', FAILING), [SEV, TEST_V2])
  const compare = (await get('/api/v1/series/1/compare?base=v6&head=v7')).body
  const smoke = compare.entries.find((e: { test: string }) => e.test === 'sev_smoke_test')
  assert.equal(smoke.bucket, 'regression')
  assert.deepEqual([smoke.deltaEmpty, smoke.suspects, smoke.suspectCount], [true, [], 0])
  const text = (await get('/api/v1/series/1/summary.txt?base=v6&head=v7')).body as string
  assert.match(text, /Patches v6→v7: no change \(2 patches unchanged\)/)
  assert.match(text, /the series' patches are the same in v6 and v7: the cause is outside the series \(the base moved, the machine changed, or it is flaky\)/)

  // from the unpatched tree, every patch of v7 is added: the suspects are all of them
  await upload('base', PASSING)
  const fromBase = (await get('/api/v1/series/1/compare?base=base&head=v7')).body
  assert.equal(fromBase.delta.summary, 'base→v7: 2 patches added')
  assert.equal(fromBase.entries.find((e: { test: string }) => e.test === 'sev_smoke_test').suspects[0].strength, 'test_source')
})

test('runs without patch lists: compare and summary.txt answer as before, and a one-sided list says the delta is unknown', async (t) => {
  const { upload, report, get } = await lab(t)
  await upload('v1', PASSING)
  const v2 = await upload('v2', FAILING)
  const before = (await get('/api/v1/series/1/compare?base=v1&head=v2')).body
  assert.equal('delta' in before, false)
  for (const entry of before.entries) assert.equal('suspects' in entry, false)
  assert.doesNotMatch((await get('/api/v1/series/1/summary.txt?base=v1&head=v2')).body as string, /Patches/)

  await report(v2, [SEV])
  const oneSided = (await get('/api/v1/series/1/compare?base=v1&head=v2')).body
  assert.deepEqual([oneSided.delta.available, oneSided.delta.summary, oneSided.delta.base.patches, oneSided.delta.head.patches],
    [false, "v1→v2: unknown, no run of v1 reported the series' patches", null, 1])
  for (const entry of oneSided.entries) assert.equal('suspects' in entry, false, 'no suspects from an unknown delta')
})
