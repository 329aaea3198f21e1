import type { TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../server/app.ts'
import { testStoreLocation } from '../helpers/backend.ts'
import { ingestText } from '../helpers/store.ts'

/**
 * A synthetic patch series written for the trend tests: versions base, v1..v4 on two machines,
 * with logs in the runner's real format that encode known transitions:
 * - kvm set_memory_region_test regresses v2 -> v3 on tdx-host-1 only (and stays failing in v4);
 * - kvm hardware_disable_test fails in base and v1 on both machines, is fixed in v2;
 * - kvm pmu_counters_test disappears in v3;
 * - memfd memfd_test is flaky on tdx-host-1 in v2: 2 of its 3 runs pass;
 * - kvm kvm_binary_stats_test keeps passing while its subtest vm1 regresses v2 -> v3 on arm64-host-1;
 * - memfd run_hugetlbfs_test.sh times out in v3 on both machines and passes again in v4;
 * - kvm private_mem_conversions_test is new in v3: it fails on tdx-host-1 and skips on arm64-host-1;
 * - kvm sev_smoke_test always skips on arm64-host-1.
 * arm64-host-1 did not run v4.
 */

export const SERIES = 'KVM: guest_memfd: in-place conversion'
export const VERSIONS = ['base', 'v1', 'v2', 'v3', 'v4'] as const
export type Version = (typeof VERSIONS)[number]
export const TDX = 'tdx-host-1'
export const ARM = 'arm64-host-1'
export type Machine = typeof TDX | typeof ARM

const MACHINES = {
  [TDX]: { machine: TDX, arch: 'x86_64', cpu: 'Intel Xeon Platinum 8480+', flags: 'tdx' },
  [ARM]: { machine: ARM, arch: 'aarch64', cpu: 'Ampere Altra Q80-30' },
}
export const MESSAGE_IDS: Partial<Record<Version, string>> = {
  v2: '20250110120000.1-v2-cover@example.org',
  v3: '20250201090000.1-v3-cover@example.org',
}

type Outcome = 'pass' | 'fail' | 'skip' | 'timeout'
interface TestSpec {
  collection: string
  name: string
  status: Outcome
  /** what the test printed before its result: a failure's or a skip's reason */
  note?: string
  subtests?: Array<[string, 'pass' | 'fail']>
}

export const REASONS = {
  setMemoryRegion: 'memslot 3 lost its contents after KVM_SET_USER_MEMORY_REGION2',
  hardwareDisable: 'VM creation failed after hardware disable',
  flakyMemfd: 'memfd_test.c:1095: F_SEAL_FUTURE_WRITE mapping still writable',
  privateMem: 'private_mem_conversions_test.c:212: conversion to shared failed',
  sevSkip: 'SEV-SNP is not supported on this CPU',
  privateSkip: 'KVM_X86_SW_PROTECTED_VM is not supported',
} as const

const after = (version: Version, than: Version) => VERSIONS.indexOf(version) > VERSIONS.indexOf(than)

/** The tests one run printed, by version, machine and which run of that version it is. */
function testsOf (version: Version, machine: Machine, run: number): TestSpec[] {
  const tdx = machine === TDX
  const tests: TestSpec[] = [
    { collection: 'kvm', name: 'guest_memfd_test', status: 'pass' },
    { collection: 'kvm', name: 'kvm_binary_stats_test', status: 'pass', subtests: [['vm0', 'pass'], ['vm1', !tdx && after(version, 'v2') ? 'fail' : 'pass']] },
    tdx && after(version, 'v2')
      ? { collection: 'kvm', name: 'set_memory_region_test', status: 'fail', note: REASONS.setMemoryRegion }
      : { collection: 'kvm', name: 'set_memory_region_test', status: 'pass' },
    after(version, 'v1')
      ? { collection: 'kvm', name: 'hardware_disable_test', status: 'pass' }
      : { collection: 'kvm', name: 'hardware_disable_test', status: 'fail', note: REASONS.hardwareDisable },
  ]
  if (!after(version, 'v2')) tests.push({ collection: 'kvm', name: 'pmu_counters_test', status: 'pass' })
  tests.push(tdx
    ? { collection: 'kvm', name: 'sev_smoke_test', status: 'pass' }
    : { collection: 'kvm', name: 'sev_smoke_test', status: 'skip', note: REASONS.sevSkip })
  if (after(version, 'v2')) {
    tests.push(tdx
      ? { collection: 'kvm', name: 'private_mem_conversions_test', status: 'fail', note: REASONS.privateMem }
      : { collection: 'kvm', name: 'private_mem_conversions_test', status: 'skip', note: REASONS.privateSkip })
  }
  tests.push(tdx && version === 'v2' && run === 1
    ? { collection: 'memfd', name: 'memfd_test', status: 'fail', note: REASONS.flakyMemfd }
    : { collection: 'memfd', name: 'memfd_test', status: 'pass' })
  tests.push({ collection: 'memfd', name: 'run_hugetlbfs_test.sh', status: version === 'v3' ? 'timeout' : 'pass' })
  return tests
}

/** Line ranges of each test and subtest, keyed `collection/test` and `collection/test/subtest`. */
export type LineMap = Map<string, [number, number]>

/** A log as `make run_tests` prints it, one TAP stream per collection, and where each result is in it. */
export function kselftestLog (tests: TestSpec[], seed: string): { text: string, lines: LineMap } {
  const out: string[] = []
  const lines: LineMap = new Map()
  const emit = (line: string) => out.push(line)
  for (const collection of [...new Set(tests.map(test => test.collection))]) {
    const members = tests.filter(test => test.collection === collection)
    emit(`make[1]: Entering directory '/src/tools/testing/selftests/${collection}'`)
    emit('TAP version 13')
    emit(`1..${members.length}`)
    members.forEach((test, i) => {
      emit(`# selftests: ${collection}: ${test.name}`)
      const header = out.length
      emit(`# Random seed: ${seed}`)
      let previous = header
      if (test.subtests) {
        emit('# TAP version 13')
        emit(`# 1..${test.subtests.length}`)
        test.subtests.forEach(([name, status], j) => {
          emit(`# ${status === 'pass' ? 'ok' : 'not ok'} ${j + 1} ${name}`)
          lines.set(`${collection}/${test.name}/${name}`, [previous + 1, out.length])
          previous = out.length
        })
      }
      if (test.status === 'skip') emit(`# SKIP: ${test.note}`)
      else if (test.note) emit(`# ${test.note}`)
      const title = `${i + 1} selftests: ${collection}: ${test.name}`
      emit(test.status === 'pass' ? `ok ${title}`
        : test.status === 'skip' ? `ok ${title} # SKIP`
          : test.status === 'timeout' ? `not ok ${title} # TIMEOUT 45 seconds`
            : `not ok ${title} # exit=1`)
      lines.set(`${collection}/${test.name}`, [header, out.length])
    })
    emit(`make[1]: Leaving directory '/src/tools/testing/selftests/${collection}'`)
  }
  return { text: out.join('\n') + '\n', lines }
}

export interface ScenarioRun {
  version: Version
  machine: Machine
  index: number
  runId: number
  lines: LineMap
}

/** Runs in upload order: each version on tdx-host-1 then arm64-host-1; v2 three times on tdx-host-1. */
export const RUN_PLAN: Array<[Version, Machine, number]> = [
  ['base', TDX, 0], ['base', ARM, 0],
  ['v1', TDX, 0], ['v1', ARM, 0],
  ['v2', TDX, 0], ['v2', TDX, 1], ['v2', TDX, 2], ['v2', ARM, 0],
  ['v3', TDX, 0], ['v3', ARM, 0],
  ['v4', TDX, 0],
]

export const START = Date.parse('2025-03-01T00:00:00.000Z')

/** The time of the n-th write: the app's clock moves one minute each time it is read. */
export function tick (n: number): string {
  return new Date(START + n * 60_000).toISOString()
}

export interface Scenario {
  app: FastifyInstance
  runs: ScenarioRun[]
  run: (version: Version, machine: Machine, index?: number) => ScenarioRun
  get: (url: string) => Promise<{ status: number, json: any, text: string, headers: Record<string, unknown> }>
}

/**
 * Where a run of the plan is uploaded, when not to SERIES on its machine's name: the same runs
 * split over two titles or two machine names, as an admin later merges them (issue 17).
 */
export interface UploadedAs {
  series?: (version: Version, machine: Machine, index: number) => string
  machine?: (version: Version, machine: Machine, index: number) => string
  /** The cover letter's Message-ID the run names, when not MESSAGE_IDS' */
  messageId?: (version: Version, machine: Machine, index: number) => string | undefined
}

/** A fresh app on a fresh store (helpers/backend.ts), holding the series, every run stored through the real ingest path. */
export async function buildScenario (t: TestContext, plan = RUN_PLAN, uploadedAs: UploadedAs = {}): Promise<Scenario> {
  let ticks = 0
  const app = await buildApp({ dbPath: await testStoreLocation(t), logger: false, clock: () => new Date(START + ticks++ * 60_000) })
  t.after(() => app.close())
  const runs: ScenarioRun[] = []
  for (const [version, machine, index] of plan) {
    const { text, lines } = kselftestLog(testsOf(version, machine, index), `0x${(runs.length + 1).toString(16).padStart(8, '0')}`)
    const outcome = await ingestText(app.store, text, {
      series: uploadedAs.series?.(version, machine, index) ?? SERIES,
      version,
      ...MACHINES[machine],
      machine: uploadedAs.machine?.(version, machine, index) ?? machine,
      kernel: `6.14.0-rc${VERSIONS.indexOf(version) + 1}`,
      message_id: uploadedAs.messageId ? uploadedAs.messageId(version, machine, index) : MESSAGE_IDS[version],
      started_at: tick(100 + runs.length),
    })
    runs.push({ version, machine, index, runId: outcome.runId, lines })
  }
  return {
    app,
    runs,
    run: (version, machine, index = 0) => runs.find(r => r.version === version && r.machine === machine && r.index === index)!,
    get: async (url: string) => {
      const res = await app.inject({ url })
      let json: unknown = null
      try { json = res.json() } catch {}
      return { status: res.statusCode, json, text: res.body, headers: res.headers }
    },
  }
}

const ZERO = { total: 0, pass: 0, fail: 0, skip: 0, xfail: 0, xpass: 0, timeout: 0, error: 0 }
type Counted = Partial<Record<'pass' | 'fail' | 'skip' | 'xfail' | 'xpass' | 'timeout' | 'error', number>>

/** Counts per status with the others zero and total their sum. */
export function counts (given: Counted = {}) {
  return { ...ZERO, ...given, total: Object.values(given).reduce((a, b) => a + b, 0) }
}

/** The link of one result of a scenario run, as the API gives it. */
export function link (scenario: Scenario, version: Version, machine: Machine, key: string, status: string, index = 0) {
  const run = scenario.run(version, machine, index)
  const lines = run.lines.get(key)
  if (!lines) throw new Error(`the scenario has no ${key} in ${version} on ${machine}`)
  return { runId: run.runId, machine, status, lines, url: `/runs/${run.runId}#L${lines[0]}-L${lines[1]}` }
}
