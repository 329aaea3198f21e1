import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MatrixSchema } from '../../../server/schemas/trends.ts'
import { assertExactShape } from '../../helpers/exact-shape.ts'
import { ingestText } from '../../helpers/store.ts'
import { ARM, buildScenario, counts, kselftestLog, MESSAGE_IDS, SERIES, TDX, tick, type Scenario } from '../trend-scenario.ts'

const SERIES_REF = { id: 1, name: SERIES }
const lore = (id: string) => `https://lore.kernel.org/r/${encodeURIComponent(id)}`
const VERSION_REFS = [
  { id: 1, label: 'base', messageId: null, loreUrl: null },
  { id: 2, label: 'v1', messageId: null, loreUrl: null },
  { id: 3, label: 'v2', messageId: MESSAGE_IDS.v2!, loreUrl: lore(MESSAGE_IDS.v2!) },
  { id: 4, label: 'v3', messageId: MESSAGE_IDS.v3!, loreUrl: lore(MESSAGE_IDS.v3!) },
  { id: 5, label: 'v4', messageId: null, loreUrl: null },
]

/**
 * The trend's pass rate of every version of the scenario, in version order: (pass + xfail) / (total - skip + notRun),
 * with every run finished (notRun 0): base 13/15, v1 13/15, v2 30/31, v3 10/14, v4 6/8.
 */
const PASS_RATES = [0.8667, 0.8667, 0.9677, 0.7143, 0.75]
/** Every run of the scenario finished: none stopped early, no test a plan promised went missing. */
const WHOLE = { notRun: 0, incompleteRuns: 0 }

/** A second series with one run on a third machine, uploaded after the scenario. */
async function addSecondSeries (s: Scenario) {
  const { text } = kselftestLog([{ collection: 'memfd', name: 'memfd_test', status: 'pass' }], '0xfeedface')
  await ingestText(s.app.store, text, { series: 'mm: memfd: 123', version: 'v1', machine: 'snp-host-1', arch: 'x86_64', flags: 'sev_snp' })
}

test('series: newest first, with versions, runs, machines and the latest version counted; pages by cursor', async (t) => {
  const s = await buildScenario(t)
  await addSecondSeries(s)
  const res = await s.get('/api/v1/series')
  assert.equal(res.status, 200)
  assert.deepEqual(res.json, {
    series: [
      {
        id: 2, name: 'mm: memfd: 123', url: '/series/2', createdAt: tick(11), versions: 1, runs: 1, machines: 1,
        latestVersion: { id: 6, label: 'v1', messageId: null, loreUrl: null, runs: 1, machines: 1, summary: counts({ pass: 1 }), ...WHOLE },
        passRates: [{ id: 6, label: 'v1', passRate: 1, incompleteRuns: 0 }],
        names: ['mm: memfd: 123'],
        changeIds: [],
      },
      {
        id: 1, name: SERIES, url: '/series/1', createdAt: tick(0), versions: 5, runs: 11, machines: 2,
        latestVersion: { ...VERSION_REFS[4], runs: 1, machines: 1, summary: counts({ pass: 6, fail: 2 }), ...WHOLE },
        passRates: VERSION_REFS.map((version, i) => ({ id: version.id, label: version.label, passRate: PASS_RATES[i], incompleteRuns: 0 })),
        names: [SERIES],
        changeIds: [],
      },
    ],
    nextCursor: null,
  })
  // one series as the list gives it
  assert.deepEqual((await s.get('/api/v1/series/2')).json, res.json.series[0])
  const first = await s.get('/api/v1/series?limit=1')
  assert.deepEqual(first.json.series, [res.json.series[0]])
  assert.notEqual(first.json.nextCursor, null)
  const second = await s.get(`/api/v1/series?limit=1&cursor=${first.json.nextCursor}`)
  assert.deepEqual(second.json, { series: [res.json.series[1]], nextCursor: null })
})

test('series: the pass rates are the trend\'s, of the last 20 versions only, null for a version whose tests all skipped', async (t) => {
  const s = await buildScenario(t)
  const passing = kselftestLog([{ collection: 'memfd', name: 'memfd_test', status: 'pass' }], '0x5eed').text
  const failing = kselftestLog([{ collection: 'memfd', name: 'memfd_test', status: 'pass' }, { collection: 'memfd', name: 'memfd_fail', status: 'fail' }], '0x5eed').text
  const skipped = kselftestLog([{ collection: 'memfd', name: 'memfd_test', status: 'skip', note: 'no memfd here' }], '0x5eed').text
  // uploaded newest first: the list must follow version order, not upload order
  for (let v = 22; v >= 1; v--) {
    const text = v === 21 ? skipped : v % 2 === 0 ? failing : passing
    await ingestText(s.app.store, text, { series: 'mm: long series', version: `v${v}`, machine: TDX })
  }
  const long = (await s.get('/api/v1/series?limit=1')).json.series[0]
  assert.equal(long.name, 'mm: long series')
  assert.equal(long.versions, 22)
  const expected = Array.from({ length: 20 }, (_, i) => i + 3).map(v => ({ label: `v${v}`, passRate: v === 21 ? null : v % 2 === 0 ? 0.5 : 1, incompleteRuns: 0 }))
  assert.deepEqual(long.passRates.map(({ label, passRate, incompleteRuns }: { label: string, passRate: number | null, incompleteRuns: number }) => ({ label, passRate, incompleteRuns })), expected)
  const trend = (await s.get(`/api/v1/series/${long.id}/trend`)).json
  assert.deepEqual(long.passRates, trend.versions.slice(-20).map(({ id, label, passRate, incompleteRuns }: { id: number, label: string, passRate: number | null, incompleteRuns: number }) => ({ id, label, passRate, incompleteRuns })))
})

test('collections: every collection the series ran with its number of tests, the same for any series name or id', async (t) => {
  const s = await buildScenario(t)
  await addSecondSeries(s)
  const res = await s.get('/api/v1/series/1/collections')
  assert.equal(res.status, 200)
  assert.deepEqual(res.json, { series: SERIES_REF, collections: [{ name: 'kvm', tests: 7 }, { name: 'memfd', tests: 2 }] })
  assert.deepEqual((await s.get(`/api/v1/series/${encodeURIComponent(SERIES)}/collections`)).json, res.json)
  assert.deepEqual((await s.get('/api/v1/series/2/collections')).json.collections, [{ name: 'memfd', tests: 1 }])
  const unknown = await s.get('/api/v1/series/99/collections')
  assert.equal(unknown.status, 404)
  assert.equal(unknown.json.error.code, 'SERIES_NOT_FOUND')
})

test('trend: per version in version order, tests per status over every run, runs, machines and pass rate', async (t) => {
  const s = await buildScenario(t)
  const res = await s.get('/api/v1/series/1/trend')
  assert.equal(res.status, 200)
  assert.deepEqual(res.json, {
    series: SERIES_REF,
    filters: { collection: null, machine: null, arch: null },
    versions: [
      { ...VERSION_REFS[0], runs: 2, machines: 2, summary: counts({ pass: 13, fail: 2, skip: 1 }), ...WHOLE, passRate: 0.8667 },
      { ...VERSION_REFS[1], runs: 2, machines: 2, summary: counts({ pass: 13, fail: 2, skip: 1 }), ...WHOLE, passRate: 0.8667 },
      { ...VERSION_REFS[2], runs: 4, machines: 2, summary: counts({ pass: 30, fail: 1, skip: 1 }), ...WHOLE, passRate: 0.9677 },
      { ...VERSION_REFS[3], runs: 2, machines: 2, summary: counts({ pass: 10, fail: 2, skip: 2, timeout: 2 }), ...WHOLE, passRate: 0.7143 },
      { ...VERSION_REFS[4], runs: 1, machines: 1, summary: counts({ pass: 6, fail: 2 }), ...WHOLE, passRate: 0.75 },
    ],
  })
  // the series' exact name, URL-encoded, addresses it as well as its id
  const byName = await s.get(`/api/v1/series/${encodeURIComponent(SERIES)}/trend`)
  assert.deepEqual(byName.json, res.json)
})

test('trend filters: collection, machine and arch narrow the runs counted; a version without any stays, empty', async (t) => {
  const s = await buildScenario(t)
  const memfd = await s.get('/api/v1/series/1/trend?collection=memfd')
  assert.deepEqual(memfd.json.filters, { collection: 'memfd', machine: null, arch: null })
  assert.deepEqual(memfd.json.versions.map((v: { runs: number, machines: number, summary: unknown, passRate: number | null }) => [v.runs, v.machines, v.summary, v.passRate]), [
    [2, 2, counts({ pass: 4 }), 1],
    [2, 2, counts({ pass: 4 }), 1],
    [4, 2, counts({ pass: 7, fail: 1 }), 0.875],
    [2, 2, counts({ pass: 2, timeout: 2 }), 0.5],
    [1, 1, counts({ pass: 2 }), 1],
  ])

  const arm = await s.get(`/api/v1/series/1/trend?machine=${ARM}`)
  const byArch = await s.get('/api/v1/series/1/trend?arch=aarch64')
  const armCounts = [
    [1, 1, counts({ pass: 6, fail: 1, skip: 1 }), 0.8571],
    [1, 1, counts({ pass: 6, fail: 1, skip: 1 }), 0.8571],
    [1, 1, counts({ pass: 7, skip: 1 }), 1],
    [1, 1, counts({ pass: 5, skip: 2, timeout: 1 }), 0.8333],
    [0, 0, counts(), null],
  ]
  const project = (json: { versions: Array<{ runs: number, machines: number, summary: unknown, passRate: number | null }> }) =>
    json.versions.map(v => [v.runs, v.machines, v.summary, v.passRate])
  assert.deepEqual(project(arm.json), armCounts)
  assert.deepEqual(project(byArch.json), armCounts)
  assert.deepEqual(byArch.json.filters, { collection: null, machine: null, arch: 'aarch64' })

  const kvmOnTdx = await s.get(`/api/v1/series/1/trend?collection=kvm&machine=${TDX}`)
  assert.deepEqual(project(kvmOnTdx.json), [
    [1, 1, counts({ pass: 5, fail: 1 }), 0.8333],
    [1, 1, counts({ pass: 5, fail: 1 }), 0.8333],
    [3, 1, counts({ pass: 18 }), 1],
    [1, 1, counts({ pass: 4, fail: 2 }), 0.6667],
    [1, 1, counts({ pass: 4, fail: 2 }), 0.6667],
  ])
})

// the machine sets of the matrix: both machines, then tdx-host-1 alone (the only one that ran v4)
const MACHINE_SETS = [[ARM, TDX], [TDX]]
/**
 * A cell: its results per status over `machines` machines, and how many of those machines only failed
 * there, only passed (a skip is neither), or had runs that disagree. No result of the scenario shows
 * kernel trouble.
 */
const cell = (machines: number, given: Parameters<typeof counts>[0], { failing = 0, passing = 0, mixed = 0 } = {}) =>
  ({ ...counts(given), machines, machineSet: machines === 2 ? 0 : 1, trouble: 0, failingMachines: failing, passingMachines: passing, mixedMachines: mixed, known: 0, explained: false })
/** Passed on each of its machines. */
const passed = (machines: number, pass: number) => cell(machines, { pass }, { passing: machines })
const everywherePass = [passed(2, 2), passed(2, 2), passed(2, 4), passed(2, 2), passed(1, 1)]
const MATRIX_ROWS = [
  { collection: 'kvm', test: 'guest_memfd_test', path: [], hasSubtests: false, cells: everywherePass },
  { collection: 'kvm', test: 'hardware_disable_test', path: [], hasSubtests: false, cells: [cell(2, { fail: 2 }, { failing: 2 }), cell(2, { fail: 2 }, { failing: 2 }), passed(2, 4), passed(2, 2), passed(1, 1)] },
  { collection: 'kvm', test: 'kvm_binary_stats_test', path: [], hasSubtests: true, cells: everywherePass },
  { collection: 'kvm', test: 'kvm_binary_stats_test', path: ['vm0'], hasSubtests: false, cells: everywherePass },
  // v3: fails on arm64-host-1, passes on tdx-host-1 (machine-specific)
  { collection: 'kvm', test: 'kvm_binary_stats_test', path: ['vm1'], hasSubtests: false, cells: [passed(2, 2), passed(2, 2), passed(2, 4), cell(2, { pass: 1, fail: 1 }, { failing: 1, passing: 1 }), passed(1, 1)] },
  { collection: 'kvm', test: 'pmu_counters_test', path: [], hasSubtests: false, cells: [passed(2, 2), passed(2, 2), passed(2, 4), null, null] },
  // v3: fails on tdx-host-1, skips on arm64-host-1: one failing machine, none passing
  { collection: 'kvm', test: 'private_mem_conversions_test', path: [], hasSubtests: false, cells: [null, null, null, cell(2, { fail: 1, skip: 1 }, { failing: 1 }), cell(1, { fail: 1 }, { failing: 1 })] },
  { collection: 'kvm', test: 'set_memory_region_test', path: [], hasSubtests: false, cells: [passed(2, 2), passed(2, 2), passed(2, 4), cell(2, { pass: 1, fail: 1 }, { failing: 1, passing: 1 }), cell(1, { fail: 1 }, { failing: 1 })] },
  // skips on arm64-host-1: only tdx-host-1 passes
  { collection: 'kvm', test: 'sev_smoke_test', path: [], hasSubtests: false, cells: [cell(2, { pass: 1, skip: 1 }, { passing: 1 }), cell(2, { pass: 1, skip: 1 }, { passing: 1 }), cell(2, { pass: 3, skip: 1 }, { passing: 1 }), cell(2, { pass: 1, skip: 1 }, { passing: 1 }), passed(1, 1)] },
  // v2: the three runs on tdx-host-1 disagree, arm64-host-1 passes
  { collection: 'memfd', test: 'memfd_test', path: [], hasSubtests: false, cells: [passed(2, 2), passed(2, 2), cell(2, { pass: 3, fail: 1 }, { passing: 1, mixed: 1 }), passed(2, 2), passed(1, 1)] },
  { collection: 'memfd', test: 'run_hugetlbfs_test.sh', path: [], hasSubtests: false, cells: [passed(2, 2), passed(2, 2), passed(2, 4), cell(2, { timeout: 2 }, { failing: 2 }), passed(1, 1)] },
]

test('matrix: tests, each followed by its subtests, by versions, results counted over runs and machines', async (t) => {
  const s = await buildScenario(t)
  const res = await s.get('/api/v1/series/1/matrix')
  assert.equal(res.status, 200)
  assert.deepEqual(res.json, { series: SERIES_REF, versions: VERSION_REFS, machineSets: MACHINE_SETS, rows: MATRIX_ROWS, nextCursor: null })
  // the route writes its answer with JSON.stringify, not the schema's serializer: nothing else holds it to the contract
  assertExactShape(MatrixSchema, res.json)

  // pages hold whole tests: kvm_binary_stats_test comes with both its subtests
  const pages: unknown[][] = []
  let cursor: string | null = null
  do {
    const page = await s.get(`/api/v1/series/1/matrix?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`)
    pages.push(page.json.rows.map((row: { test: string, path: string[] }) => [row.test, ...row.path].join('/')))
    cursor = page.json.nextCursor
  } while (cursor !== null)
  assert.deepEqual(pages, [
    ['guest_memfd_test', 'hardware_disable_test'],
    ['kvm_binary_stats_test', 'kvm_binary_stats_test/vm0', 'kvm_binary_stats_test/vm1', 'pmu_counters_test'],
    ['private_mem_conversions_test', 'set_memory_region_test'],
    ['sev_smoke_test', 'memfd_test'],
    ['run_hugetlbfs_test.sh'],
  ])
})

test('matrix filters: a collection, and a machine or an architecture whose cells count its own runs only', async (t) => {
  const s = await buildScenario(t)
  const memfd = await s.get('/api/v1/series/1/matrix?collection=memfd')
  assert.deepEqual(memfd.json.rows, MATRIX_ROWS.filter(row => row.collection === 'memfd'))
  assert.deepEqual(memfd.json.machineSets, MACHINE_SETS)

  const arm = await s.get(`/api/v1/series/1/matrix?machine=${ARM}&collection=kvm`)
  assert.deepEqual(arm.json.machineSets, [[ARM]])
  // one machine, one run: it failed, passed, or (a skip) neither
  const one = (given: NonNullable<Parameters<typeof counts>[0]>) =>
    ({ ...counts(given), machines: 1, machineSet: 0, trouble: 0, failingMachines: given.fail ? 1 : 0, passingMachines: given.pass ? 1 : 0, mixedMachines: 0, known: 0, explained: false })
  const byArch = await s.get('/api/v1/series/1/matrix?arch=aarch64&collection=kvm')
  assert.deepEqual(byArch.json, arm.json, 'arm64-host-1 is the only aarch64 machine')
  const x86 = await s.get('/api/v1/series/1/matrix?arch=x86_64')
  assert.deepEqual(x86.json, (await s.get(`/api/v1/series/1/matrix?machine=${TDX}`)).json)
  assert.deepEqual(x86.json.machineSets, [[TDX]])
  assert.deepEqual((await s.get('/api/v1/series/1/matrix?arch=riscv64')).json.rows, [])
  assert.deepEqual(arm.json.rows.map((row: { test: string, path: string[], cells: unknown[] }) => [[row.test, ...row.path].join('/'), row.cells]), [
    ['guest_memfd_test', [one({ pass: 1 }), one({ pass: 1 }), one({ pass: 1 }), one({ pass: 1 }), null]],
    ['hardware_disable_test', [one({ fail: 1 }), one({ fail: 1 }), one({ pass: 1 }), one({ pass: 1 }), null]],
    ['kvm_binary_stats_test', [one({ pass: 1 }), one({ pass: 1 }), one({ pass: 1 }), one({ pass: 1 }), null]],
    ['kvm_binary_stats_test/vm0', [one({ pass: 1 }), one({ pass: 1 }), one({ pass: 1 }), one({ pass: 1 }), null]],
    ['kvm_binary_stats_test/vm1', [one({ pass: 1 }), one({ pass: 1 }), one({ pass: 1 }), one({ fail: 1 }), null]],
    ['pmu_counters_test', [one({ pass: 1 }), one({ pass: 1 }), one({ pass: 1 }), null, null]],
    ['private_mem_conversions_test', [null, null, null, one({ skip: 1 }), null]],
    ['set_memory_region_test', [one({ pass: 1 }), one({ pass: 1 }), one({ pass: 1 }), one({ pass: 1 }), null]],
    ['sev_smoke_test', [one({ skip: 1 }), one({ skip: 1 }), one({ skip: 1 }), one({ skip: 1 }), null]],
  ])
})

test('flaky: the 2-of-3 test within v2 only; the test that flips pass -> timeout -> pass across versions is history, not flaky', async (t) => {
  const s = await buildScenario(t)
  const res = await s.get('/api/v1/series/1/flaky')
  assert.equal(res.json.entries[0].versions[2].passRatio, '2:3', 'passes:runs, as the issue asks')
  const version = (label: string, pass: number, fail: number, runs = pass + fail) =>
    ({ version: label, runs, pass, fail, skip: 0, passRatio: `${pass}:${runs}`, failRatio: `${fail}:${runs}`, mixed: pass > 0 && fail > 0 })
  // run_hugetlbfs_test.sh times out in v3 on tdx-host-1 and passes in every other version: its runs never disagree
  // within a version, so it is not listed; memfd_test passes in every version but v2, where it is mixed (no flip)
  assert.deepEqual(res.json, {
    series: SERIES_REF,
    entries: [
      {
        collection: 'memfd', test: 'memfd_test', path: [], machine: TDX, mixedVersions: 1, flips: 0,
        versions: [version('base', 1, 0), version('v1', 1, 0), version('v2', 2, 1), version('v3', 1, 0), version('v4', 1, 0)],
      },
    ],
    nextCursor: null,
  })

  const first = await s.get('/api/v1/series/1/flaky?limit=1')
  assert.deepEqual(first.json, res.json, 'one entry: one page')

  // on arm64-host-1 nothing disagrees within a version
  assert.deepEqual((await s.get(`/api/v1/series/1/flaky?machine=${ARM}`)).json.entries, [])
  assert.deepEqual((await s.get('/api/v1/series/1/flaky?collection=kvm')).json.entries, [])
  assert.deepEqual((await s.get('/api/v1/series/1/flaky?collection=memfd')).json.entries, res.json.entries)
  // it is on the x86_64 machine
  assert.deepEqual((await s.get('/api/v1/series/1/flaky?arch=aarch64')).json.entries, [])
  assert.deepEqual((await s.get('/api/v1/series/1/flaky?arch=x86_64&collection=memfd')).json, res.json)
})

test('flaky: a test whose reruns disagree keeps its flips across versions as history', async (t) => {
  const s = await buildScenario(t)
  // a second run of v2 on arm64-host-1 in which run_hugetlbfs_test.sh times out: v2 is now mixed there
  const { text } = kselftestLog([{ collection: 'memfd', name: 'run_hugetlbfs_test.sh', status: 'timeout' }], '0x5ec0d')
  await ingestText(s.app.store, text, { series: SERIES, version: 'v2', machine: ARM, arch: 'aarch64' })
  const entries = (await s.get('/api/v1/series/1/flaky?collection=memfd')).json.entries
  assert.deepEqual(entries.map((e: { test: string, machine: string, mixedVersions: number, flips: number }) => [e.test, e.machine, e.mixedVersions, e.flips]), [
    ['memfd_test', TDX, 1, 0],
    // on arm64-host-1: passes in base and v1, mixed in v2 (no flip either way), times out in v3 (one flip from v1's pass)
    ['run_hugetlbfs_test.sh', ARM, 1, 1],
  ])
})
