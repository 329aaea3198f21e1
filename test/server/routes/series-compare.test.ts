import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CompareSchema } from '../../../server/schemas/trends.ts'
import { assertExactShape } from '../../helpers/exact-shape.ts'
import { ingestText } from '../../helpers/store.ts'
import { ARM, buildScenario, counts, kselftestLog, link, REASONS, SERIES, TDX, type Machine, type Scenario, type Version } from '../trend-scenario.ts'

/** Why a result failed or skipped, as its log says: the note printed before it, and `# exit=N`. */
interface Why { reason?: string, exitCode?: number, timeoutSeconds?: number }

/** One result of a scenario run as a compare side lists it: its log link, reason, exit code, flags, and its run finished. */
function result (s: Scenario, version: Version, machine: Machine, key: string, status: string, index = 0, why: Why = {}) {
  return { ...link(s, version, machine, key, status, index), reason: why.reason ?? null, exitCode: why.exitCode ?? null, timeoutSeconds: why.timeoutSeconds ?? null, flags: [], complete: true, knownIssues: [] }
}

/** A compare side of one machine; `why` is the failing (else first) result's reason. No run of the scenario shows kernel trouble. */
function side (machine: Machine, status: string, given: Parameters<typeof counts>[0], runs: unknown[], why: Why = {}) {
  return { machines: [machine], status, counts: counts(given), reason: why.reason ?? null, exitCode: why.exitCode ?? null, timeoutSeconds: why.timeoutSeconds ?? null, kernelTrouble: [], complete: true, runs }
}

/** A side the machine has no result for, although its runs of that version finished. */
const absent = (machine: Machine) => ({ machines: [machine], status: null, counts: counts(), reason: null, exitCode: null, timeoutSeconds: null, kernelTrouble: [], complete: true, runs: [] })

type Bucket = 'regression' | 'new_failure' | 'not_run' | 'new_kernel_trouble' | 'infrastructure' | 'known' | 'fixed' | 'still_failing' | 'still_kernel_trouble' | 'flaky' | 'new' | 'missing' | 'unchanged'
/** Bucket counts with the others zero. */
function buckets (given: Partial<Record<Bucket, number>>): Record<Bucket, number> {
  return {
    regression: 0, new_failure: 0, not_run: 0, new_kernel_trouble: 0, infrastructure: 0, known: 0, fixed: 0, still_failing: 0, still_kernel_trouble: 0, flaky: 0, new: 0, missing: 0, unchanged: 0, ...given,
  }
}

/** What triage adds to an entry no known issue or infrastructure evidence explains. */
const UNTRIAGED = { knownIssues: [], triagedFrom: null, infrastructure: null, perhapsFixed: false }

/** An entry of the whole comparison as a comparison of its machine alone gives it: machine-specific among one machine is never. */
const alone = (entry: { machineSpecific: boolean }) => ({ ...entry, machineSpecific: false })

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

test('compare v2 -> v3: every bucket, machine by machine, with statuses, reasons, counts and log links', async (t) => {
  const s = await buildScenario(t)
  const setMemoryRegion = { reason: REASONS.setMemoryRegion, exitCode: 1 }
  const privateMem = { reason: REASONS.privateMem, exitCode: 1 }
  const flakyMemfd = { reason: REASONS.flakyMemfd, exitCode: 1 }
  const timedOut = { timeoutSeconds: 45 }
  // v2 ran three times on tdx-host-1; the second run failed memfd_test
  const v2 = (machine: Machine, key: string, status: string) => machine === TDX
    ? [0, 1, 2].map(i => i === 1 && key === 'memfd/memfd_test' ? result(s, 'v2', TDX, key, 'fail', i, flakyMemfd) : result(s, 'v2', TDX, key, status, i))
    : [result(s, 'v2', ARM, key, status)]
  const v3 = (machine: Machine, key: string, status: string, why: Why = {}) => [result(s, 'v3', machine, key, status, 0, why)]
  const entry = (bucket: string, collection: string, test: string, path: string[], machine: Machine, machineSpecific: boolean, base: unknown, head: unknown) =>
    ({ bucket, collection, test, path, machine, sameMachine: true, machineSpecific, newKernelTrouble: [], ...UNTRIAGED, base, head })

  const res = await s.get('/api/v1/series/1/compare?base=v2&head=v3')
  assert.equal(res.status, 200)
  // written with JSON.stringify, not the schema's serializer
  assertExactShape(CompareSchema, res.json)
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
    // both machines ran both versions, and every run finished
    pairedMachines: [ARM, TDX],
    unpaired: { base: [], head: [] },
    absentSide: null,
    incomplete: { base: [], head: [] },
    // each of the 11 tests and subtests once, in the first bucket a machine puts it in: vm1 (regression on
    // arm64-host-1, unchanged on tdx-host-1), set_memory_region_test and run_hugetlbfs_test.sh regress;
    // private_mem_conversions_test is a new failure (new, a skip, on arm64-host-1); memfd_test is flaky on
    // tdx-host-1 only; pmu_counters_test is missing on both; guest_memfd_test, kvm_binary_stats_test, vm0,
    // hardware_disable_test and sev_smoke_test are unchanged
    counts: buckets({ regression: 3, new_failure: 1, flaky: 1, missing: 1, unchanged: 5 }),
    // one per test and machine: 11 on each
    machineCounts: buckets({ regression: 4, new_failure: 1, flaky: 1, new: 1, missing: 2, unchanged: 13 }),
    entries: [
      // vm1 fails on arm64-host-1 and passes on tdx-host-1 in v3: the machines differ
      entry('regression', 'kvm', 'kvm_binary_stats_test', ['vm1'], ARM, true,
        side(ARM, 'pass', { pass: 1 }, v2(ARM, 'kvm/kvm_binary_stats_test/vm1', 'pass')),
        side(ARM, 'fail', { fail: 1 }, v3(ARM, 'kvm/kvm_binary_stats_test/vm1', 'fail'))),
      // and set_memory_region_test the other way round
      entry('regression', 'kvm', 'set_memory_region_test', [], TDX, true,
        side(TDX, 'pass', { pass: 3 }, v2(TDX, 'kvm/set_memory_region_test', 'pass')),
        side(TDX, 'fail', { fail: 1 }, v3(TDX, 'kvm/set_memory_region_test', 'fail', setMemoryRegion), setMemoryRegion)),
      // the timeout line says no reason and no exit code, only how long the runner waited (`# TIMEOUT 45 seconds`)
      entry('regression', 'memfd', 'run_hugetlbfs_test.sh', [], ARM, false,
        side(ARM, 'pass', { pass: 1 }, v2(ARM, 'memfd/run_hugetlbfs_test.sh', 'pass')),
        side(ARM, 'timeout', { timeout: 1 }, v3(ARM, 'memfd/run_hugetlbfs_test.sh', 'timeout', timedOut), timedOut)),
      entry('regression', 'memfd', 'run_hugetlbfs_test.sh', [], TDX, false,
        side(TDX, 'pass', { pass: 3 }, v2(TDX, 'memfd/run_hugetlbfs_test.sh', 'pass')),
        side(TDX, 'timeout', { timeout: 1 }, v3(TDX, 'memfd/run_hugetlbfs_test.sh', 'timeout', timedOut), timedOut)),
      // a skip is no pass: failing on one machine and skipping on the other is not machine-specific
      entry('new_failure', 'kvm', 'private_mem_conversions_test', [], TDX, false,
        absent(TDX),
        side(TDX, 'fail', { fail: 1 }, v3(TDX, 'kvm/private_mem_conversions_test', 'fail', privateMem), privateMem)),
      entry('flaky', 'memfd', 'memfd_test', [], TDX, false,
        side(TDX, 'fail', { pass: 2, fail: 1 }, v2(TDX, 'memfd/memfd_test', 'pass'), flakyMemfd),
        side(TDX, 'pass', { pass: 1 }, v3(TDX, 'memfd/memfd_test', 'pass'))),
      entry('new', 'kvm', 'private_mem_conversions_test', [], ARM, false,
        absent(ARM),
        side(ARM, 'skip', { skip: 1 }, v3(ARM, 'kvm/private_mem_conversions_test', 'skip', { reason: REASONS.privateSkip }), { reason: REASONS.privateSkip })),
      // v3 finished on both machines: what it no longer has is missing, not not_run
      entry('missing', 'kvm', 'pmu_counters_test', [], ARM, false,
        side(ARM, 'pass', { pass: 1 }, v2(ARM, 'kvm/pmu_counters_test', 'pass')),
        absent(ARM)),
      entry('missing', 'kvm', 'pmu_counters_test', [], TDX, false,
        side(TDX, 'pass', { pass: 3 }, v2(TDX, 'kvm/pmu_counters_test', 'pass')),
        absent(TDX)),
    ],
    nextCursor: null,
  })
})

test('compare pages follow the cursor to the same entries; bucket and machine narrow them', async (t) => {
  const s = await buildScenario(t)
  const whole = await s.get('/api/v1/series/1/compare?base=v2&head=v3')
  const paged = await allEntries(s, '/api/v1/series/1/compare?base=v2&head=v3&limit=4')
  assert.equal(paged.pages, 3, '9 entries, 4 a page')
  assert.deepEqual(paged.entries, whole.json.entries)

  const missing = await s.get('/api/v1/series/1/compare?base=v2&head=v3&bucket=missing')
  assert.deepEqual(missing.json.counts, whole.json.counts, 'counts cover the whole comparison whatever the bucket')
  assert.deepEqual(missing.json.machineCounts, whole.json.machineCounts)
  assert.deepEqual(missing.json.entries, whole.json.entries.filter((e: { bucket: string }) => e.bucket === 'missing'))

  const tdx = await s.get(`/api/v1/series/1/compare?base=v2&head=v3&machine=${TDX}`)
  assert.equal(tdx.json.machine, TDX)
  assert.deepEqual([tdx.json.pairedMachines, tdx.json.unpaired, tdx.json.absentSide], [[TDX], { base: [], head: [] }, null])
  // one machine: a test counts once either way
  const onTdx = buckets({ regression: 2, new_failure: 1, flaky: 1, missing: 1, unchanged: 6 })
  assert.deepEqual([tdx.json.counts, tdx.json.machineCounts], [onTdx, onTdx])
  // machine-specific is said of the machines compared: with one machine, nothing can differ
  assert.deepEqual(tdx.json.entries, whole.json.entries.filter((e: { machine: string }) => e.machine === TDX).map(alone))
})

test('compare by collection and by architecture: the entries and counts of those alone', async (t) => {
  const s = await buildScenario(t)
  const whole = await s.get('/api/v1/series/1/compare?base=v2&head=v3')

  const memfd = await s.get('/api/v1/series/1/compare?base=v2&head=v3&collection=memfd')
  assert.equal(memfd.json.collection, 'memfd')
  // run_hugetlbfs_test.sh regresses on both machines, memfd_test is flaky on tdx-host-1 and passes on arm64-host-1 in both
  assert.deepEqual(memfd.json.counts, buckets({ regression: 1, flaky: 1 }))
  assert.deepEqual(memfd.json.machineCounts, buckets({ regression: 2, flaky: 1, unchanged: 1 }))
  assert.deepEqual(memfd.json.entries, whole.json.entries.filter((e: { collection: string }) => e.collection === 'memfd'))
  const kvm = await s.get('/api/v1/series/1/compare?base=v2&head=v3&collection=kvm')
  // the collections share no test: their counts add up to the whole
  for (const bucket of Object.keys(whole.json.counts)) {
    assert.equal(kvm.json.counts[bucket] + memfd.json.counts[bucket], whole.json.counts[bucket], bucket)
    assert.equal(kvm.json.machineCounts[bucket] + memfd.json.machineCounts[bucket], whole.json.machineCounts[bucket], bucket)
  }

  const arm = await s.get('/api/v1/series/1/compare?base=v2&head=v3&arch=aarch64')
  assert.deepEqual([arm.json.arch, arm.json.machine, arm.json.base.machines, arm.json.head.machines, arm.json.pairedMachines], ['aarch64', null, [ARM], [ARM], [ARM]])
  const onArm = buckets({ regression: 2, new: 1, missing: 1, unchanged: 7 })
  assert.deepEqual([arm.json.counts, arm.json.machineCounts], [onArm, onArm])
  assert.deepEqual(arm.json.entries, whole.json.entries.filter((e: { machine: string }) => e.machine === ARM).map(alone))
  const both = await s.get('/api/v1/series/1/compare?base=v2&head=v3&arch=x86_64&collection=memfd')
  assert.deepEqual(both.json.counts, buckets({ regression: 1, flaky: 1 }))
  assert.deepEqual(both.json.entries, memfd.json.entries.filter((e: { machine: string }) => e.machine === TDX))

  // no aarch64 machine ran v4: arm64-host-1 ran v3 alone, and nothing is compared with a machine of another architecture
  const gone = await s.get('/api/v1/series/1/compare?base=v3&head=v4&arch=aarch64')
  assert.equal(gone.status, 200)
  assert.deepEqual([gone.json.base.machines, gone.json.head.machines, gone.json.pairedMachines], [[ARM], [], []])
  assert.deepEqual([gone.json.unpaired, gone.json.absentSide], [{ base: [ARM], head: [] }, 'head'])
  assert.deepEqual([gone.json.counts, gone.json.machineCounts, gone.json.entries], [buckets({}), buckets({}), []])
})

test('compare with limit=0 gives the counts alone', async (t) => {
  const s = await buildScenario(t)
  const whole = await s.get('/api/v1/series/1/compare?base=v2&head=v3')
  const counted = await s.get('/api/v1/series/1/compare?base=v2&head=v3&limit=0')
  assert.equal(counted.status, 200)
  assert.deepEqual(counted.json, { ...whole.json, entries: [], nextCursor: null })
  // in kvm: vm1 and set_memory_region_test
  const bucket = await s.get('/api/v1/series/1/compare?base=v2&head=v3&limit=0&bucket=regression&collection=kvm')
  assert.deepEqual([bucket.json.counts.regression, bucket.json.entries, bucket.json.nextCursor], [2, [], null])
})

type Row = [bucket: string, test: string, path: string[], machine: string, base: string | null, head: string | null]
function rows (json: { entries: Array<{ bucket: string, test: string, path: string[], machine: string, sameMachine: boolean, base: { status: string | null }, head: { status: string | null } }> }): Row[] {
  assert.ok(json.entries.every(e => e.sameMachine), 'a machine is only ever compared with itself')
  return json.entries.map(e => [e.bucket, e.test, e.path, e.machine, e.base.status, e.head.status])
}

test('a machine that ran only one version is named as unpaired and not compared with the machines that ran the other', async (t) => {
  const s = await buildScenario(t)
  const res = await s.get('/api/v1/series/1/compare?base=v3&head=v4')
  assert.deepEqual([res.json.base.machines, res.json.head.machines], [[ARM, TDX], [TDX]])
  assert.deepEqual([res.json.pairedMachines, res.json.unpaired, res.json.absentSide], [[TDX], { base: [ARM], head: [] }, null])
  // tdx-host-1 alone, 10 tests and subtests in each of v3 and v4 (pmu_counters_test in neither): run_hugetlbfs_test.sh
  // passes again, set_memory_region_test and private_mem_conversions_test still fail, the rest pass in both
  const onTdx = buckets({ fixed: 1, still_failing: 2, unchanged: 7 })
  assert.deepEqual([res.json.counts, res.json.machineCounts], [onTdx, onTdx])
  assert.deepEqual(rows(res.json), [
    ['fixed', 'run_hugetlbfs_test.sh', [], TDX, 'timeout', 'pass'],
    ['still_failing', 'private_mem_conversions_test', [], TDX, 'fail', 'fail'],
    ['still_failing', 'set_memory_region_test', [], TDX, 'fail', 'fail'],
  ])
  const why = { reason: REASONS.setMemoryRegion, exitCode: 1 }
  assert.deepEqual(res.json.entries[2], {
    bucket: 'still_failing', collection: 'kvm', test: 'set_memory_region_test', path: [], machine: TDX,
    // v4 ran on tdx-host-1 alone: nothing to differ from
    sameMachine: true, machineSpecific: false, newKernelTrouble: [], ...UNTRIAGED,
    base: side(TDX, 'fail', { fail: 1 }, [result(s, 'v3', TDX, 'kvm/set_memory_region_test', 'fail', 0, why)], why),
    head: side(TDX, 'fail', { fail: 1 }, [result(s, 'v4', TDX, 'kvm/set_memory_region_test', 'fail', 0, why)], why),
  })

  const onlyTdx = await s.get(`/api/v1/series/1/compare?base=v3&head=v4&machine=${TDX}`)
  assert.deepEqual(onlyTdx.json.unpaired, { base: [], head: [] }, 'only the machine asked for is named')
  assert.deepEqual(onlyTdx.json.entries, res.json.entries)

  // asked for the machine that did not run v4: the answer says so, with no entries of another machine
  const onlyArm = await s.get(`/api/v1/series/1/compare?base=v3&head=v4&machine=${ARM}`)
  assert.equal(onlyArm.status, 200)
  assert.deepEqual([onlyArm.json.machine, onlyArm.json.base.machines, onlyArm.json.head.machines], [ARM, [ARM, TDX], [TDX]])
  assert.deepEqual([onlyArm.json.pairedMachines, onlyArm.json.unpaired, onlyArm.json.absentSide], [[], { base: [ARM], head: [] }, 'head'])
  assert.deepEqual([onlyArm.json.counts, onlyArm.json.machineCounts, onlyArm.json.entries, onlyArm.json.nextCursor], [buckets({}), buckets({}), [], null])
})

test('versions that no machine ran both of: absentSide says which version each machine lacks, and nothing is compared', async (t) => {
  // v3 on arm64-host-1 only, v4 on tdx-host-1 only
  const s = await buildScenario(t, [['v3', ARM, 0], ['v4', TDX, 0]])
  const res = await s.get('/api/v1/series/1/compare?base=v3&head=v4')
  assert.equal(res.status, 200)
  assert.deepEqual([res.json.base.machines, res.json.head.machines, res.json.pairedMachines], [[ARM], [TDX], []])
  assert.deepEqual([res.json.unpaired, res.json.absentSide], [{ base: [ARM], head: [TDX] }, 'both'])
  assert.deepEqual([res.json.counts, res.json.machineCounts, res.json.entries], [buckets({}), buckets({}), []])

  const onTdx = await s.get(`/api/v1/series/1/compare?base=v3&head=v4&machine=${TDX}`)
  assert.deepEqual([onTdx.json.unpaired, onTdx.json.absentSide, onTdx.json.entries], [{ base: [], head: [TDX] }, 'base', []])
  const onArm = await s.get(`/api/v1/series/1/compare?base=v3&head=v4&machine=${ARM}`)
  assert.deepEqual([onArm.json.unpaired, onArm.json.absentSide, onArm.json.entries], [{ base: [ARM], head: [] }, 'head', []])

  const text = await s.app.inject({ url: '/api/v1/series/1/summary.txt?base=v3&head=v4' })
  assert.equal(text.statusCode, 200)
  const lines = text.body.split('\n')
  assert.deepEqual(lines.slice(lines.findIndex(line => line.startsWith('no machine ran both'))), [
    'no machine ran both v3 and v4 (v3 ran on arm64-host-1; v4 ran on tdx-host-1)',
    'Ran only v3, not compared: arm64-host-1',
    'Ran only v4, not compared: tdx-host-1',
    '',
    'v3: https://lore.kernel.org/r/20250201090000.1-v3-cover%40example.org',
    '',
  ])
})

/** What the parser says of a test whose header is the last thing in the log. */
const CUT = 'no result line: the log ends before its result line'

/**
 * A v5 on tdx-host-1 that went wrong: guest_memfd_test passes with a kernel WARNING on the console, and
 * the log ends right after hardware_disable_test started (a hung host): of v4's tests, the rest of kvm
 * and all of memfd never ran. Returns the run and the lines of its results.
 */
async function addStoppedV5 (s: Scenario) {
  const { text, lines } = kselftestLog([
    { collection: 'kvm', name: 'guest_memfd_test', status: 'pass', note: '[  812.345678] WARNING: CPU: 3 PID: 4242 at arch/x86/kvm/mmu/mmu.c:6621 kvm_mmu_page_fault+0x2b/0x80' },
    { collection: 'kvm', name: 'kvm_binary_stats_test', status: 'pass', subtests: [['vm0', 'pass'], ['vm1', 'pass']] },
    { collection: 'kvm', name: 'set_memory_region_test', status: 'fail', note: REASONS.setMemoryRegion },
    { collection: 'kvm', name: 'hardware_disable_test', status: 'pass' },
    { collection: 'kvm', name: 'sev_smoke_test', status: 'pass' },
    { collection: 'kvm', name: 'private_mem_conversions_test', status: 'fail', note: REASONS.privateMem },
    { collection: 'memfd', name: 'memfd_test', status: 'pass' },
    { collection: 'memfd', name: 'run_hugetlbfs_test.sh', status: 'pass' },
  ], '0x00000005')
  const all = text.split('\n')
  const header = all.indexOf('# selftests: kvm: hardware_disable_test')
  // its header and its seed line, then nothing
  const cut = all.slice(0, header + 2).join('\n') + '\n'
  const outcome = await ingestText(s.app.store, cut, { series: SERIES, version: 'v5', machine: TDX, arch: 'x86_64', kernel: '6.14.0-rc6' })
  lines.set('kvm/hardware_disable_test', [header + 1, header + 2])
  return { runId: outcome.runId, lines }
}

test('a head run that stopped early and warned: not_run, a regression to error, new kernel trouble, with reasons and incomplete sides', async (t) => {
  const s = await buildScenario(t)
  const v5 = await addStoppedV5(s)
  const v5Result = (key: string, status: string, why: Why = {}, flags: string[] = []) => {
    const lines = v5.lines.get(key)!
    return { runId: v5.runId, machine: TDX, status, lines, url: `/runs/${v5.runId}#L${lines[0]}-L${lines[1]}`, reason: why.reason ?? null, exitCode: why.exitCode ?? null, timeoutSeconds: why.timeoutSeconds ?? null, flags, complete: false, knownIssues: [] }
  }
  const stopped = (status: string | null, given: Parameters<typeof counts>[0], runs: unknown[], why: Why = {}, kernelTrouble: string[] = []) =>
    ({ machines: [TDX], status, counts: counts(given), reason: why.reason ?? null, exitCode: why.exitCode ?? null, timeoutSeconds: why.timeoutSeconds ?? null, kernelTrouble, complete: false, runs })
  const v4 = (key: string, status: string, why: Why = {}) => side(TDX, status, { [status]: 1 }, [result(s, 'v4', TDX, key, status, 0, why)], why)
  const entry = (bucket: string, collection: string, test: string, base: unknown, head: unknown, newKernelTrouble: string[] = []) =>
    ({ bucket, collection, test, path: [], machine: TDX, sameMachine: true, machineSpecific: false, newKernelTrouble, ...UNTRIAGED, base, head })
  const setMemoryRegion = { reason: REASONS.setMemoryRegion, exitCode: 1 }
  const privateMem = { reason: REASONS.privateMem, exitCode: 1 }

  const res = await s.get('/api/v1/series/1/compare?base=v4&head=v5')
  assert.equal(res.status, 200)
  assert.deepEqual([res.json.pairedMachines, res.json.unpaired, res.json.absentSide], [[TDX], { base: [], head: [] }, null])
  assert.deepEqual(res.json.incomplete, { base: [], head: [TDX] })
  // v4 on tdx-host-1 holds 10 tests and subtests: hardware_disable_test started and never ended (an error where v4
  // passed); four never started in the only run of v5 there; guest_memfd_test warned; set_memory_region_test still
  // fails; kvm_binary_stats_test and its two subtests are as they were
  const expected = buckets({ regression: 1, not_run: 4, new_kernel_trouble: 1, still_failing: 1, unchanged: 3 })
  assert.deepEqual([res.json.counts, res.json.machineCounts], [expected, expected])
  assert.deepEqual(res.json.entries, [
    entry('regression', 'kvm', 'hardware_disable_test', v4('kvm/hardware_disable_test', 'pass'),
      stopped('error', { error: 1 }, [v5Result('kvm/hardware_disable_test', 'error', { reason: CUT })], { reason: CUT })),
    // not_run, not missing: no run of v5 on the machine finished
    entry('not_run', 'kvm', 'private_mem_conversions_test', v4('kvm/private_mem_conversions_test', 'fail', privateMem), stopped(null, {}, [])),
    entry('not_run', 'kvm', 'sev_smoke_test', v4('kvm/sev_smoke_test', 'pass'), stopped(null, {}, [])),
    entry('not_run', 'memfd', 'memfd_test', v4('memfd/memfd_test', 'pass'), stopped(null, {}, [])),
    entry('not_run', 'memfd', 'run_hugetlbfs_test.sh', v4('memfd/run_hugetlbfs_test.sh', 'pass'), stopped(null, {}, [])),
    // a pass is no longer good news when the kernel warned during it
    entry('new_kernel_trouble', 'kvm', 'guest_memfd_test', v4('kvm/guest_memfd_test', 'pass'),
      stopped('pass', { pass: 1 }, [v5Result('kvm/guest_memfd_test', 'pass', {}, ['kernel_warning'])], {}, ['kernel_warning']), ['kernel_warning']),
    entry('still_failing', 'kvm', 'set_memory_region_test', v4('kvm/set_memory_region_test', 'fail', setMemoryRegion),
      stopped('fail', { fail: 1 }, [v5Result('kvm/set_memory_region_test', 'fail', setMemoryRegion)], setMemoryRegion)),
  ])

  // the trend: v5 counts its 4 tests, and the 2 more its kvm plan (1..6) promised; memfd's plan never came
  const trend = await s.get('/api/v1/series/1/trend')
  const point = trend.json.versions.at(-1)
  assert.deepEqual([point.label, point.runs, point.summary, point.notRun, point.incompleteRuns], ['v5', 1, counts({ pass: 2, fail: 1, error: 1 }), 2, 1])
  assert.equal(point.passRate, 0.3333, '2 passed of 4 that ran and 2 that never did')

  const summary = await s.app.inject({ url: '/api/v1/series/1/summary.txt?base=v4&head=v5' })
  const lines = summary.body.split('\n')
  assert.deepEqual(lines.find(line => line.startsWith('v5 '))!.split(/ {2,}/), ['v5', 'tdx-host-1', '1 (1 stopped early)', '2', '1', '0', '0', '0', '0', '1', '2'])
  assert.deepEqual(lines.slice(lines.findIndex(line => line.startsWith('Runs that stopped early'))), [
    'Runs that stopped early (a panic, a hang, a cut log) count the tests their plans promised and never ran as "not run"; the comparison below also counts as not run what the base ran there and they did not.',
    '',
    'v4 -> v5 on tdx-host-1 (each test counted once): 1 regression, 0 new failures, 4 not run, 1 with new kernel trouble, ' +
      '0 fixed, 1 still failing, 0 flaky, 0 new, 0 missing',
    '',
    'Regressions:',
    '  kvm: hardware_disable_test (tdx-host-1): pass -> error',
    `      ${CUT}`,
    '',
    'Not run (the run stopped early):',
    // the base's reason when it failed there
    '  kvm: private_mem_conversions_test (tdx-host-1): fail -> not run',
    `      ${REASONS.privateMem}`,
    '  kvm: sev_smoke_test (tdx-host-1): pass -> not run',
    '  memfd: memfd_test (tdx-host-1): pass -> not run',
    '  memfd: run_hugetlbfs_test.sh (tdx-host-1): pass -> not run',
    '',
    'New kernel trouble:',
    '  kvm: guest_memfd_test (tdx-host-1): pass -> pass [new: kernel_warning]',
    '',
  ])

  // by collection: kvm is the stream that stopped; memfd's never started, so no run of v5 counts there, and
  // none that stopped early either (checked last)
  const kvm = (await s.get('/api/v1/series/1/trend?collection=kvm')).json.versions.at(-1)
  assert.deepEqual([kvm.runs, kvm.summary, kvm.notRun, kvm.incompleteRuns], [1, counts({ pass: 2, fail: 1, error: 1 }), 2, 1])
  const memfd = (await s.get('/api/v1/series/1/trend?collection=memfd')).json.versions.at(-1)
  assert.deepEqual([memfd.runs, memfd.summary, memfd.passRate], [0, counts(), null])
  assert.ok(memfd.incompleteRuns <= memfd.runs, `incompleteRuns ${memfd.incompleteRuns} of ${memfd.runs} runs counted`)
})

test('compare with the unpatched tree: base=base, the fix and the flaky run of v2', async (t) => {
  const s = await buildScenario(t)
  const res = await s.get('/api/v1/series/1/compare?base=base&head=v2')
  assert.equal(res.json.base.label, 'base')
  // hardware_disable_test is fixed on both machines, memfd_test is flaky on tdx-host-1; 10 tests and subtests on each
  assert.deepEqual(res.json.counts, buckets({ fixed: 1, flaky: 1, unchanged: 8 }))
  assert.deepEqual(res.json.machineCounts, buckets({ fixed: 2, flaky: 1, unchanged: 17 }))
  assert.deepEqual(rows(res.json), [
    ['fixed', 'hardware_disable_test', [], ARM, 'fail', 'pass'],
    ['fixed', 'hardware_disable_test', [], TDX, 'fail', 'pass'],
    ['flaky', 'memfd_test', [], TDX, 'pass', 'fail'],
  ])
  // fixed: the head passed, the base's reason says what was wrong
  assert.deepEqual([res.json.entries[0].base.reason, res.json.entries[0].base.exitCode, res.json.entries[0].head.reason], [REASONS.hardwareDisable, 1, null])
  // the version parameter is read like an upload's label: "3" is v3
  const numeric = await s.get('/api/v1/series/1/compare?base=2&head=3')
  assert.equal(numeric.status, 200)
  assert.deepEqual([numeric.json.base.label, numeric.json.head.label], ['v2', 'v3'])
})

test('compare of a version with itself reports nothing but its flaky tests', async (t) => {
  const s = await buildScenario(t)
  const res = await s.get('/api/v1/series/1/compare?base=v2&head=v2')
  assert.deepEqual(res.json.counts, buckets({ flaky: 1, unchanged: 9 }))
  assert.deepEqual(res.json.machineCounts, buckets({ flaky: 1, unchanged: 19 }))
})

test('summary.txt: the versions x machines table, the headline counting each test once, the regressions, new failures and fixes with their reasons, and the lore links', async (t) => {
  const s = await buildScenario(t)
  const res = await s.app.inject({ url: '/api/v1/series/1/summary.txt?base=v2&head=v3' })
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
  assert.equal(res.body, [
    'kselftest results of "KVM: guest_memfd: in-place conversion", v2 -> v3',
    '',
    // every run finished: nothing stopped early, nothing not run
    'version  machine       runs  pass  fail  skip  xfail  xpass  timeout  error  not run',
    'base     arm64-host-1     1     6     1     1      0      0        0      0        0',
    'base     tdx-host-1       1     7     1     0      0      0        0      0        0',
    'v1       arm64-host-1     1     6     1     1      0      0        0      0        0',
    'v1       tdx-host-1       1     7     1     0      0      0        0      0        0',
    'v2       arm64-host-1     1     7     0     1      0      0        0      0        0',
    'v2       tdx-host-1       3    23     1     0      0      0        0      0        0',
    'v3       arm64-host-1     1     5     0     2      0      0        1      0        0',
    'v3       tdx-host-1       1     5     2     0      0      0        1      0        0',
    'v4       tdx-host-1       1     6     2     0      0      0        0      0        0',
    '',
    'v2 -> v3 on arm64-host-1, tdx-host-1 (each test counted once): 3 regressions, 1 new failure, 0 not run, ' +
      '0 with new kernel trouble, 0 fixed, 0 still failing, 1 flaky, 0 new, 1 missing',
    '',
    'Regressions:',
    '  kvm: kvm_binary_stats_test > vm1 (arm64-host-1): pass -> fail (machine-specific)',
    '  kvm: set_memory_region_test (tdx-host-1): pass -> fail (machine-specific)',
    `      ${REASONS.setMemoryRegion}`,
    '  memfd: run_hugetlbfs_test.sh (arm64-host-1): pass -> timeout',
    '      timed out after 45 s',
    '  memfd: run_hugetlbfs_test.sh (tdx-host-1): pass -> timeout',
    '      timed out after 45 s',
    '',
    'New failures:',
    '  kvm: private_mem_conversions_test (tdx-host-1): absent -> fail',
    `      ${REASONS.privateMem}`,
    '',
    'v2: https://lore.kernel.org/r/20250110120000.1-v2-cover%40example.org',
    'v3: https://lore.kernel.org/r/20250201090000.1-v3-cover%40example.org',
    // ready to be posted as a reply to the head's cover letter
    "To send this as a reply to the v3 cover letter: In-Reply-To: <20250201090000.1-v3-cover@example.org> (git send-email --in-reply-to='<20250201090000.1-v3-cover@example.org>')",
    '',
  ].join('\n'))

  // arm64-host-1 did not run v4: named, not compared
  const fixes = await s.app.inject({ url: '/api/v1/series/1/summary.txt?base=v3&head=v4' })
  const lines = fixes.body.split('\n')
  const after = lines.slice(lines.findIndex(line => line.startsWith('v3 -> v4')))
  assert.deepEqual(after, [
    'v3 -> v4 on tdx-host-1 (each test counted once): 0 regressions, 0 new failures, 0 not run, 0 with new kernel trouble, ' +
      '1 fixed, 2 still failing, 0 flaky, 0 new, 0 missing',
    'Ran only v3, not compared: arm64-host-1',
    '',
    'Fixed:',
    '  memfd: run_hugetlbfs_test.sh (tdx-host-1): timeout -> pass',
    // a fix says what it was fixed from: the base's failure
    '      timed out after 45 s',
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
    ['new_failure', 'private_mem_conversions_test'],
    ['fixed', 'hardware_disable_test'],
    ['missing', 'pmu_counters_test'],
  ])
})
