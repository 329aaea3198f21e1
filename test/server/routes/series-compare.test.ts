import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ARM, buildScenario, counts, link, TDX, type Machine, type Scenario, type Version } from '../trend-scenario.ts'

const absent = (machines: string[]) => ({ machines, status: null, counts: counts(), runs: [] })

/** Every entry of a compare, following nextCursor page by page. */
async function allEntries (s: Scenario, url: string): Promise<{ pages: number, entries: unknown[] }> {
  const entries: unknown[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const res = await s.get(cursor === null ? url : `${url}&cursor=${cursor}`)
    assert.equal(res.status, 200)
    entries.push(...res.json.entries)
    cursor = res.json.nextCursor
    pages++
  } while (cursor !== null)
  return { pages, entries }
}

test('compare v2 -> v3: every bucket, machine by machine, with statuses, counts and log links', async (t) => {
  const s = await buildScenario(t)
  const v2 = (machine: Machine, key: string, status: string) =>
    machine === TDX ? [0, 1, 2].map(i => link(s, 'v2', TDX, key, i === 1 && key === 'memfd/memfd_test' ? 'fail' : status, i)) : [link(s, 'v2', ARM, key, status)]
  const v3 = (machine: Machine, key: string, status: string) => [link(s, 'v3', machine, key, status)]

  const res = await s.get('/api/v1/series/1/compare?base=v2&head=v3')
  assert.equal(res.status, 200)
  assert.deepEqual(res.json, {
    series: { id: 1, name: 'KVM: guest_memfd: in-place conversion' },
    base: {
      id: 3, label: 'v2', messageId: '20250110120000.1-v2-cover@example.org',
      loreUrl: 'https://lore.kernel.org/r/20250110120000.1-v2-cover%40example.org', machines: [ARM, TDX],
    },
    head: {
      id: 4, label: 'v3', messageId: '20250201090000.1-v3-cover@example.org',
      loreUrl: 'https://lore.kernel.org/r/20250201090000.1-v3-cover%40example.org', machines: [ARM, TDX],
    },
    machine: null,
    arch: null,
    collection: null,
    counts: { regression: 4, fixed: 0, still_failing: 0, new_failure: 1, new: 1, missing: 2, flaky: 1, unchanged: 13 },
    entries: [
      {
        bucket: 'regression', collection: 'kvm', test: 'kvm_binary_stats_test', path: ['vm1'], machine: ARM, sameMachine: true,
        base: { machines: [ARM], status: 'pass', counts: counts({ pass: 1 }), runs: v2(ARM, 'kvm/kvm_binary_stats_test/vm1', 'pass') },
        head: { machines: [ARM], status: 'fail', counts: counts({ fail: 1 }), runs: v3(ARM, 'kvm/kvm_binary_stats_test/vm1', 'fail') },
      },
      {
        bucket: 'regression', collection: 'kvm', test: 'set_memory_region_test', path: [], machine: TDX, sameMachine: true,
        base: { machines: [TDX], status: 'pass', counts: counts({ pass: 3 }), runs: v2(TDX, 'kvm/set_memory_region_test', 'pass') },
        head: { machines: [TDX], status: 'fail', counts: counts({ fail: 1 }), runs: v3(TDX, 'kvm/set_memory_region_test', 'fail') },
      },
      {
        bucket: 'regression', collection: 'memfd', test: 'run_hugetlbfs_test.sh', path: [], machine: ARM, sameMachine: true,
        base: { machines: [ARM], status: 'pass', counts: counts({ pass: 1 }), runs: v2(ARM, 'memfd/run_hugetlbfs_test.sh', 'pass') },
        head: { machines: [ARM], status: 'timeout', counts: counts({ timeout: 1 }), runs: v3(ARM, 'memfd/run_hugetlbfs_test.sh', 'timeout') },
      },
      {
        bucket: 'regression', collection: 'memfd', test: 'run_hugetlbfs_test.sh', path: [], machine: TDX, sameMachine: true,
        base: { machines: [TDX], status: 'pass', counts: counts({ pass: 3 }), runs: v2(TDX, 'memfd/run_hugetlbfs_test.sh', 'pass') },
        head: { machines: [TDX], status: 'timeout', counts: counts({ timeout: 1 }), runs: v3(TDX, 'memfd/run_hugetlbfs_test.sh', 'timeout') },
      },
      {
        bucket: 'new_failure', collection: 'kvm', test: 'private_mem_conversions_test', path: [], machine: TDX, sameMachine: true,
        base: absent([TDX]),
        head: { machines: [TDX], status: 'fail', counts: counts({ fail: 1 }), runs: v3(TDX, 'kvm/private_mem_conversions_test', 'fail') },
      },
      {
        bucket: 'new', collection: 'kvm', test: 'private_mem_conversions_test', path: [], machine: ARM, sameMachine: true,
        base: absent([ARM]),
        head: { machines: [ARM], status: 'skip', counts: counts({ skip: 1 }), runs: v3(ARM, 'kvm/private_mem_conversions_test', 'skip') },
      },
      {
        bucket: 'missing', collection: 'kvm', test: 'pmu_counters_test', path: [], machine: ARM, sameMachine: true,
        base: { machines: [ARM], status: 'pass', counts: counts({ pass: 1 }), runs: v2(ARM, 'kvm/pmu_counters_test', 'pass') },
        head: absent([ARM]),
      },
      {
        bucket: 'missing', collection: 'kvm', test: 'pmu_counters_test', path: [], machine: TDX, sameMachine: true,
        base: { machines: [TDX], status: 'pass', counts: counts({ pass: 3 }), runs: v2(TDX, 'kvm/pmu_counters_test', 'pass') },
        head: absent([TDX]),
      },
      {
        bucket: 'flaky', collection: 'memfd', test: 'memfd_test', path: [], machine: TDX, sameMachine: true,
        base: { machines: [TDX], status: 'fail', counts: counts({ pass: 2, fail: 1 }), runs: v2(TDX, 'memfd/memfd_test', 'pass') },
        head: { machines: [TDX], status: 'pass', counts: counts({ pass: 1 }), runs: v3(TDX, 'memfd/memfd_test', 'pass') },
      },
    ],
    nextCursor: null,
  })
})

test('compare pages follow the cursor to the same entries; bucket and machine narrow them', async (t) => {
  const s = await buildScenario(t)
  const whole = await s.get('/api/v1/series/1/compare?base=v2&head=v3')
  const paged = await allEntries(s, '/api/v1/series/1/compare?base=v2&head=v3&limit=4')
  assert.equal(paged.pages, 3)
  assert.deepEqual(paged.entries, whole.json.entries)

  const missing = await s.get('/api/v1/series/1/compare?base=v2&head=v3&bucket=missing')
  assert.deepEqual(missing.json.counts, whole.json.counts, 'counts cover the whole comparison whatever the bucket')
  assert.deepEqual(missing.json.entries, whole.json.entries.filter((e: { bucket: string }) => e.bucket === 'missing'))

  const tdx = await s.get(`/api/v1/series/1/compare?base=v2&head=v3&machine=${TDX}`)
  assert.equal(tdx.json.machine, TDX)
  assert.deepEqual(tdx.json.counts, { regression: 2, fixed: 0, still_failing: 0, new_failure: 1, new: 0, missing: 1, flaky: 1, unchanged: 6 })
  assert.deepEqual(tdx.json.entries, whole.json.entries.filter((e: { machine: string }) => e.machine === TDX))
})

test('compare by collection and by architecture: the entries and counts of those alone', async (t) => {
  const s = await buildScenario(t)
  const whole = await s.get('/api/v1/series/1/compare?base=v2&head=v3')

  const memfd = await s.get('/api/v1/series/1/compare?base=v2&head=v3&collection=memfd')
  assert.equal(memfd.json.collection, 'memfd')
  // memfd_test passes on arm64-host-1 in both
  assert.deepEqual(memfd.json.counts, { regression: 2, fixed: 0, still_failing: 0, new_failure: 0, new: 0, missing: 0, flaky: 1, unchanged: 1 })
  assert.deepEqual(memfd.json.entries, whole.json.entries.filter((e: { collection: string }) => e.collection === 'memfd'))
  const kvm = await s.get('/api/v1/series/1/compare?base=v2&head=v3&collection=kvm')
  for (const bucket of Object.keys(whole.json.counts)) {
    assert.equal(kvm.json.counts[bucket] + memfd.json.counts[bucket], whole.json.counts[bucket], bucket)
  }

  const arm = await s.get('/api/v1/series/1/compare?base=v2&head=v3&arch=aarch64')
  assert.deepEqual([arm.json.arch, arm.json.machine, arm.json.base.machines, arm.json.head.machines], ['aarch64', null, [ARM], [ARM]])
  assert.deepEqual(arm.json.counts, { regression: 2, fixed: 0, still_failing: 0, new_failure: 0, new: 1, missing: 1, flaky: 0, unchanged: 7 })
  assert.deepEqual(arm.json.entries, whole.json.entries.filter((e: { machine: string }) => e.machine === ARM))
  const both = await s.get('/api/v1/series/1/compare?base=v2&head=v3&arch=x86_64&collection=memfd')
  assert.deepEqual(both.json.counts, { regression: 1, fixed: 0, still_failing: 0, new_failure: 0, new: 0, missing: 0, flaky: 1, unchanged: 0 })
  assert.deepEqual(both.json.entries, memfd.json.entries.filter((e: { machine: string }) => e.machine === TDX))

  // no aarch64 machine ran v4: everything arm64-host-1 ran in v3 is missing, not compared with tdx-host-1 as machine= would
  const gone = await s.get('/api/v1/series/1/compare?base=v3&head=v4&arch=aarch64')
  assert.deepEqual(gone.json.head.machines, [])
  assert.deepEqual(gone.json.counts, { regression: 0, fixed: 0, still_failing: 0, new_failure: 0, new: 0, missing: 10, flaky: 0, unchanged: 0 })
  assert.ok(gone.json.entries.every((e: { bucket: string, sameMachine: boolean, head: { machines: string[] } }) =>
    e.bucket === 'missing' && !e.sameMachine && e.head.machines.length === 0))
})

test('compare with limit=0 gives the counts alone', async (t) => {
  const s = await buildScenario(t)
  const whole = await s.get('/api/v1/series/1/compare?base=v2&head=v3')
  const counted = await s.get('/api/v1/series/1/compare?base=v2&head=v3&limit=0')
  assert.equal(counted.status, 200)
  assert.deepEqual(counted.json, { ...whole.json, entries: [], nextCursor: null })
  const bucket = await s.get('/api/v1/series/1/compare?base=v2&head=v3&limit=0&bucket=regression&collection=kvm')
  assert.deepEqual([bucket.json.counts.regression, bucket.json.entries, bucket.json.nextCursor], [2, [], null])
})

type Row = [bucket: string, test: string, path: string[], machine: string, sameMachine: boolean, base: string | null, head: string | null]
function rows (json: { entries: Array<{ bucket: string, test: string, path: string[], machine: string, sameMachine: boolean, base: { status: string | null }, head: { status: string | null } }> }): Row[] {
  return json.entries.map(e => [e.bucket, e.test, e.path, e.machine, e.sameMachine, e.base.status, e.head.status])
}

test('a machine that ran only one version is compared with the machines that ran the other, and marked', async (t) => {
  const s = await buildScenario(t)
  const res = await s.get('/api/v1/series/1/compare?base=v3&head=v4')
  assert.deepEqual(res.json.head.machines, [TDX])
  assert.deepEqual(res.json.counts, { regression: 2, fixed: 3, still_failing: 2, new_failure: 0, new: 0, missing: 0, flaky: 0, unchanged: 13 })
  assert.deepEqual(rows(res.json), [
    ['regression', 'private_mem_conversions_test', [], ARM, false, 'skip', 'fail'],
    ['regression', 'set_memory_region_test', [], ARM, false, 'pass', 'fail'],
    ['fixed', 'kvm_binary_stats_test', ['vm1'], ARM, false, 'fail', 'pass'],
    ['fixed', 'run_hugetlbfs_test.sh', [], ARM, false, 'timeout', 'pass'],
    ['fixed', 'run_hugetlbfs_test.sh', [], TDX, true, 'timeout', 'pass'],
    ['still_failing', 'private_mem_conversions_test', [], TDX, true, 'fail', 'fail'],
    ['still_failing', 'set_memory_region_test', [], TDX, true, 'fail', 'fail'],
  ])
  const marked = res.json.entries[1]
  assert.deepEqual(marked.base, {
    machines: [ARM], status: 'pass', counts: counts({ pass: 1 }), runs: [link(s, 'v3', ARM, 'kvm/set_memory_region_test', 'pass')],
  })
  assert.deepEqual(marked.head, {
    machines: [TDX], status: 'fail', counts: counts({ fail: 1 }), runs: [link(s, 'v4', TDX, 'kvm/set_memory_region_test', 'fail')],
  })

  const onlyArm = await s.get(`/api/v1/series/1/compare?base=v3&head=v4&machine=${ARM}`)
  assert.deepEqual(rows(onlyArm.json), rows(res.json).filter(row => row[3] === ARM))
})

test('compare with the unpatched tree: base=base, the fix and the flaky run of v2', async (t) => {
  const s = await buildScenario(t)
  const res = await s.get('/api/v1/series/1/compare?base=base&head=v2')
  assert.equal(res.json.base.label, 'base')
  assert.deepEqual(res.json.counts, { regression: 0, fixed: 2, still_failing: 0, new_failure: 0, new: 0, missing: 0, flaky: 1, unchanged: 17 })
  assert.deepEqual(rows(res.json), [
    ['fixed', 'hardware_disable_test', [], ARM, true, 'fail', 'pass'],
    ['fixed', 'hardware_disable_test', [], TDX, true, 'fail', 'pass'],
    ['flaky', 'memfd_test', [], TDX, true, 'pass', 'fail'],
  ])
  // the version parameter is read like an upload's label: "3" is v3
  const numeric = await s.get('/api/v1/series/1/compare?base=2&head=3')
  assert.equal(numeric.status, 200)
  assert.deepEqual([numeric.json.base.label, numeric.json.head.label], ['v2', 'v3'])
})

test('compare of a version with itself reports nothing but its flaky tests', async (t) => {
  const s = await buildScenario(t)
  const res = await s.get('/api/v1/series/1/compare?base=v2&head=v2')
  assert.deepEqual(res.json.counts, { regression: 0, fixed: 0, still_failing: 0, new_failure: 0, new: 0, missing: 0, flaky: 1, unchanged: 19 })
})

test('summary.txt: the versions x machines table, the regressions, new failures and fixes, and the lore links', async (t) => {
  const s = await buildScenario(t)
  const res = await s.app.inject({ url: '/api/v1/series/1/summary.txt?base=v2&head=v3' })
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
  assert.equal(res.body, [
    'kselftest results of "KVM: guest_memfd: in-place conversion", v2 -> v3',
    '',
    'version  machine       runs  pass  fail  skip  xfail  xpass  timeout  error',
    'base     arm64-host-1     1     6     1     1      0      0        0      0',
    'base     tdx-host-1       1     7     1     0      0      0        0      0',
    'v1       arm64-host-1     1     6     1     1      0      0        0      0',
    'v1       tdx-host-1       1     7     1     0      0      0        0      0',
    'v2       arm64-host-1     1     7     0     1      0      0        0      0',
    'v2       tdx-host-1       3    23     1     0      0      0        0      0',
    'v3       arm64-host-1     1     5     0     2      0      0        1      0',
    'v3       tdx-host-1       1     5     2     0      0      0        1      0',
    'v4       tdx-host-1       1     6     2     0      0      0        0      0',
    '',
    'v2 -> v3, machine by machine: 4 regressions, 1 new failure, 0 fixed, 0 still failing, 1 new, 2 missing, 1 flaky',
    '',
    'Regressions:',
    '  kvm: kvm_binary_stats_test > vm1 (arm64-host-1): pass -> fail',
    '  kvm: set_memory_region_test (tdx-host-1): pass -> fail',
    '  memfd: run_hugetlbfs_test.sh (arm64-host-1): pass -> timeout',
    '  memfd: run_hugetlbfs_test.sh (tdx-host-1): pass -> timeout',
    '',
    'New failures:',
    '  kvm: private_mem_conversions_test (tdx-host-1): absent -> fail',
    '',
    'v2: https://lore.kernel.org/r/20250110120000.1-v2-cover%40example.org',
    'v3: https://lore.kernel.org/r/20250201090000.1-v3-cover%40example.org',
    '',
  ].join('\n'))

  const fixes = await s.app.inject({ url: '/api/v1/series/1/summary.txt?base=v3&head=v4' })
  const lines = fixes.body.split('\n')
  const after = lines.slice(lines.findIndex(line => line.startsWith('v3 -> v4')))
  assert.deepEqual(after, [
    'v3 -> v4, machine by machine: 2 regressions, 0 new failures, 3 fixed, 2 still failing, 0 new, 0 missing, 0 flaky',
    '',
    'Regressions:',
    '  kvm: private_mem_conversions_test (arm64-host-1, against tdx-host-1): skip -> fail',
    '  kvm: set_memory_region_test (arm64-host-1, against tdx-host-1): pass -> fail',
    '',
    'Fixed:',
    '  kvm: kvm_binary_stats_test > vm1 (arm64-host-1, against tdx-host-1): fail -> pass',
    '  memfd: run_hugetlbfs_test.sh (arm64-host-1, against tdx-host-1): timeout -> pass',
    '  memfd: run_hugetlbfs_test.sh (tdx-host-1): timeout -> pass',
    '',
    'v3: https://lore.kernel.org/r/20250201090000.1-v3-cover%40example.org',
    '',
  ])
})

test('the versions of the scenario are ordered base, v1 .. v4 even when uploaded out of order', async (t) => {
  const plan: Array<[Version, Machine, number]> = [['v3', TDX, 0], ['base', TDX, 0], ['v1', TDX, 0]]
  const s = await buildScenario(t, plan)
  const res = await s.get('/api/v1/series/1/trend')
  assert.deepEqual(res.json.versions.map((v: { label: string }) => v.label), ['base', 'v1', 'v3'])
  const compare = await s.get('/api/v1/series/1/compare?base=v1&head=v3')
  assert.deepEqual(rows(compare.json).map(row => [row[0], row[1]]), [
    ['regression', 'set_memory_region_test'],
    ['regression', 'run_hugetlbfs_test.sh'],
    ['fixed', 'hardware_disable_test'],
    ['new_failure', 'private_mem_conversions_test'],
    ['missing', 'pmu_counters_test'],
  ])
})
