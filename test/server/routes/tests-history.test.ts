import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HistorySchema } from '../../../server/schemas/trends.ts'
import { assertExactShape } from '../../helpers/exact-shape.ts'
import { ARM, buildScenario, counts, MESSAGE_IDS, REASONS, SERIES, TDX, type Machine, type Scenario, type Version } from '../trend-scenario.ts'

const VERSION_IDS: Record<Version, number> = { base: 1, v1: 2, v2: 3, v3: 4, v4: 5 }
const KERNELS: Record<Version, string> = { base: '6.14.0-rc1', v1: '6.14.0-rc2', v2: '6.14.0-rc3', v3: '6.14.0-rc4', v4: '6.14.0-rc5' }

function entry (s: Scenario, key: string, version: Version, machine: Machine, index: number, result: { status: string, reason?: string, exitCode?: number, timeoutSeconds?: number }) {
  const run = s.run(version, machine, index)
  const lines = run.lines.get(key)!
  const messageId = MESSAGE_IDS[version] ?? null
  return {
    series: { id: 1, name: SERIES },
    version: { id: VERSION_IDS[version], label: version, messageId, loreUrl: messageId === null ? null : `https://lore.kernel.org/r/${encodeURIComponent(messageId)}` },
    machine,
    runId: run.runId,
    kernel: KERNELS[version],
    status: result.status,
    reason: result.reason ?? null,
    flags: [],
    exitCode: result.exitCode ?? null,
    timeoutSeconds: result.timeoutSeconds ?? null,
    lines,
    url: `/runs/${run.runId}#L${lines[0]}-L${lines[1]}`,
    knownIssues: [],
  }
}

test('history: one test across every version, machine and run, in version order, with reasons and log links', async (t) => {
  const s = await buildScenario(t)
  const key = 'kvm/set_memory_region_test'
  const pass = { status: 'pass' }
  const fail = { status: 'fail', reason: REASONS.setMemoryRegion, exitCode: 1 }
  const res = await s.get('/api/v1/tests/history?collection=kvm&test=set_memory_region_test')
  assert.equal(res.status, 200)
  // written with JSON.stringify, not the schema's serializer
  assertExactShape(HistorySchema, res.json)
  assert.deepEqual(res.json, {
    collection: 'kvm',
    test: 'set_memory_region_test',
    path: [],
    counts: counts({ pass: 9, fail: 2 }),
    entries: [
      entry(s, key, 'base', ARM, 0, pass), entry(s, key, 'base', TDX, 0, pass),
      entry(s, key, 'v1', ARM, 0, pass), entry(s, key, 'v1', TDX, 0, pass),
      entry(s, key, 'v2', ARM, 0, pass), entry(s, key, 'v2', TDX, 0, pass), entry(s, key, 'v2', TDX, 1, pass), entry(s, key, 'v2', TDX, 2, pass),
      entry(s, key, 'v3', ARM, 0, pass), entry(s, key, 'v3', TDX, 0, fail),
      entry(s, key, 'v4', TDX, 0, fail),
    ],
    nextCursor: null,
  })

  const paged: unknown[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const page = await s.get(`/api/v1/tests/history?collection=kvm&test=set_memory_region_test&limit=4${cursor === null ? '' : `&cursor=${cursor}`}`)
    paged.push(...page.json.entries)
    assert.deepEqual(page.json.counts, res.json.counts, 'counts cover every page')
    cursor = page.json.nextCursor
    pages++
  } while (cursor !== null)
  assert.equal(pages, 3)
  assert.deepEqual(paged, res.json.entries)
})

test('history of a subtest, of a timeout on one machine, and within one series named by its name', async (t) => {
  const s = await buildScenario(t)
  const vm1 = await s.get('/api/v1/tests/history?collection=kvm&test=kvm_binary_stats_test&subtest=vm1')
  assert.deepEqual(vm1.json.path, ['vm1'])
  assert.deepEqual(vm1.json.counts, counts({ pass: 10, fail: 1 }))
  assert.deepEqual(vm1.json.entries.filter((e: { status: string }) => e.status !== 'pass'), [
    entry(s, 'kvm/kvm_binary_stats_test/vm1', 'v3', ARM, 0, { status: 'fail' }),
  ])

  const timeout = await s.get(`/api/v1/tests/history?collection=memfd&test=run_hugetlbfs_test.sh&machine=${TDX}&series=${encodeURIComponent(SERIES)}`)
  assert.deepEqual(timeout.json.counts, counts({ pass: 6, timeout: 1 }))
  assert.deepEqual(timeout.json.entries.map((e: { version: { label: string }, status: string }) => `${e.version.label}:${e.status}`),
    ['base:pass', 'v1:pass', 'v2:pass', 'v2:pass', 'v2:pass', 'v3:timeout', 'v4:pass'])
  assert.deepEqual(timeout.json.entries[5], entry(s, 'memfd/run_hugetlbfs_test.sh', 'v3', TDX, 0, { status: 'timeout', timeoutSeconds: 45 }))

  const skipped = await s.get(`/api/v1/tests/history?collection=kvm&test=sev_smoke_test&machine=${ARM}&series=1&limit=1`)
  assert.deepEqual(skipped.json.entries, [entry(s, 'kvm/sev_smoke_test', 'base', ARM, 0, { status: 'skip', reason: REASONS.sevSkip })])
})

test('history refuses what it cannot answer: 400 naming the field, 404 for unknown tests, series and machines', async (t) => {
  const s = await buildScenario(t)
  const missing = await s.get('/api/v1/tests/history?test=set_memory_region_test')
  assert.equal(missing.status, 400)
  assert.equal(missing.json.error.code, 'BAD_REQUEST')
  assert.match(missing.json.error.message, /collection/)

  const unknown = await s.get('/api/v1/tests/history?collection=kvm&test=no_such_test')
  assert.equal(unknown.status, 404)
  assert.equal(unknown.json.error.code, 'TEST_NOT_FOUND')
  assert.equal((await s.get('/api/v1/tests/history?collection=kvm&test=kvm_binary_stats_test&subtest=vm7')).json.error.code, 'TEST_NOT_FOUND')
  assert.equal((await s.get('/api/v1/tests/history?collection=kvm&test=guest_memfd_test&series=42')).json.error.code, 'SERIES_NOT_FOUND')
  assert.equal((await s.get('/api/v1/tests/history?collection=kvm&test=guest_memfd_test&machine=nowhere')).json.error.code, 'MACHINE_NOT_FOUND')
  const cursor = await s.get('/api/v1/tests/history?collection=kvm&test=guest_memfd_test&cursor=WyJrdm0iXQ')
  assert.equal(cursor.status, 400)
  assert.match(cursor.json.error.message, /^cursor: /)
})
