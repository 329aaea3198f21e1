/**
 * The demo series: a patch series shaped like "KVM: mm: fd-based approach for supporting KVM guest
 * private memory", its unpatched `base` and versions v1..v6, each run on a TDX host, an SEV-SNP host
 * and a plain arm64 host, with synthetic logs from log-generator.ts. The story (STORY below) gives
 * the dashboard something to show: tests the series adds, regressions and their fixes, a failure
 * that was already there in base, a timeout, a run cut short by a kernel panic, a kernel warning and
 * a flaky test. Every run goes through the real ingest path, so the demo exercises what uploads do;
 * the same logs with the same metadata are stored once, so loading it twice adds nothing.
 */
import { createHash } from 'node:crypto'
import { parseRunMetadata } from '../domain/run-metadata.ts'
import { ingestLog } from '../services/ingest-log.ts'
import type { StoreRuns } from '../storage/store.ts'
import { hashString, logBuffers, type LogSpec, type SubtestOutcome, type TestOutcome, type TestSpec } from './log-generator.ts'
import { catalogFor, type Arch, type Requirement } from './test-catalog.ts'

export const DEMO_SERIES = 'KVM: mm: fd-based approach for supporting KVM guest private memory'
export const DEMO_VERSIONS = ['base', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6'] as const
export type DemoVersion = (typeof DEMO_VERSIONS)[number]

export interface DemoMachine {
  name: string
  arch: Arch
  cpu: string
  /** the machine flags the dashboard shows and filters on */
  flags: readonly string[]
  /** what its CPU can do: tests needing anything else skip */
  features: readonly Requirement[]
  hardware: string
}

export const DEMO_MACHINES: readonly DemoMachine[] = [
  { name: 'tdx-host-1', arch: 'x86_64', cpu: 'Intel(R) Xeon(R) Platinum 8480+', flags: ['tdx'], features: ['vmx', 'tdx'], hardware: 'Intel Corporation D50DNP1SBB/D50DNP1SBB, BIOS SE5C7411.86B.9409.D04.2212261349 12/26/2022' },
  { name: 'snp-host-1', arch: 'x86_64', cpu: 'AMD EPYC 9654 96-Core Processor', flags: ['sev', 'sev_es', 'sev_snp'], features: ['svm', 'sev', 'sev_snp'], hardware: 'AMD Corporation Titanite_4G/Titanite_4G, BIOS RTI1009C 07/12/2023' },
  { name: 'arm64-host-1', arch: 'aarch64', cpu: 'Ampere Altra Q80-30', flags: [], features: [], hardware: 'WIWYNN Mt.Jade Server System B81.03002/Mt.Jade Motherboard, BIOS 2.10.20230517 (SCP: 2.10.20230517) 2023/05/17' },
]

/** Tests the series itself adds: absent from `base`, `new` in v1. */
const ADDED_BY_SERIES = ['guest_memfd_test', 'private_mem_conversions_test', 'private_mem_kvm_exits_test']

interface StoryEvent {
  test: string
  from: DemoVersion
  to?: DemoVersion
  /** every machine that has the test when absent */
  machines?: readonly string[]
  /** one outcome per run of that version on that machine: more than one makes extra runs */
  runs: readonly TestOutcome[]
  subtests?: Readonly<Record<string, SubtestOutcome>>
  kernelWarning?: boolean
}

/** What happens, version by version; everything else passes, or skips on a machine without the feature. */
export const STORY: readonly StoryEvent[] = [
  // a failure the series did not cause: compare with base shows it as already there
  { test: 'cpuid_test', from: 'base', machines: ['snp-host-1'], runs: ['fail'] },
  { test: 'run_hugetlbfs_test.sh', from: 'base', machines: ['arm64-host-1'], runs: ['skip'] },
  // v1 adds guest_memfd_test with a bug in one case; v2 fixes it
  { test: 'guest_memfd_test', from: 'v1', to: 'v1', runs: ['fail'], subtests: { file_size: 'fail' } },
  { test: 'private_mem_conversions_test', from: 'v1', to: 'v2', machines: ['snp-host-1'], runs: ['fail'] },
  // v2 breaks memfd seals everywhere; v3 fixes them
  { test: 'memfd_test', from: 'v2', to: 'v2', runs: ['fail'] },
  // v3 breaks memslots on the TDX host only, fixed in v5
  { test: 'set_memory_region_test', from: 'v3', to: 'v4', machines: ['tdx-host-1'], runs: ['fail'] },
  { test: 'max_guest_memory_test', from: 'v3', to: 'v3', machines: ['snp-host-1'], runs: ['timeout'] },
  // v4: the SEV-SNP host panics in the middle of the kvm tests; the log ends there
  { test: 'private_mem_conversions_test', from: 'v4', to: 'v4', machines: ['snp-host-1'], runs: ['panic'] },
  { test: 'private_mem_kvm_exits_test', from: 'v4', to: 'v4', machines: ['tdx-host-1'], runs: ['pass'], kernelWarning: true },
  // dirty_log_test is flaky on the TDX host from v5 on: 1 of 2, then 2 of 3 runs pass
  { test: 'dirty_log_test', from: 'v5', to: 'v5', machines: ['tdx-host-1'], runs: ['pass', 'fail'] },
  { test: 'dirty_log_test', from: 'v6', machines: ['tdx-host-1'], runs: ['pass', 'fail', 'pass'] },
  // the latest version regresses: SEV migration on the SEV-SNP host, one guest_memfd case on arm64
  { test: 'sev_migrate_tests', from: 'v6', machines: ['snp-host-1'], runs: ['fail'] },
  { test: 'guest_memfd_test', from: 'v6', machines: ['arm64-host-1'], runs: ['fail'], subtests: { fallocate: 'fail' } },
]

export interface DemoRun {
  meta: Record<string, string>
  spec: LogSpec
}

const versionIndex = (version: DemoVersion): number => DEMO_VERSIONS.indexOf(version)

function eventsFor (version: DemoVersion, machine: DemoMachine): StoryEvent[] {
  const at = versionIndex(version)
  return STORY.filter(event => versionIndex(event.from) <= at && at <= versionIndex(event.to ?? 'v6') &&
    (event.machines === undefined || event.machines.includes(machine.name)))
}

function fakeSha (text: string): string {
  return createHash('sha1').update(`ksft-demo|${text}`).digest('hex')
}

/** Every run of the demo, in the order it is loaded: version by version, machine by machine. */
export function demoRuns (): DemoRun[] {
  const runs: DemoRun[] = []
  for (const [vi, version] of DEMO_VERSIONS.entries()) {
    for (const [mi, machine] of DEMO_MACHINES.entries()) {
      const events = eventsFor(version, machine)
      const attempts = Math.max(1, ...events.map(event => event.runs.length))
      const kernel = version === 'base' ? '6.8.0-rc1' : `6.8.0-rc1-gmem-${version}`
      for (let attempt = 0; attempt < attempts; attempt++) {
        const tests: TestSpec[] = []
        for (const template of catalogFor(machine.arch)) {
          if (version === 'base' && ADDED_BY_SERIES.includes(template.name)) continue
          const event = events.find(candidate => candidate.test === template.name)
          const unsupported = template.requires !== undefined && !machine.features.includes(template.requires)
          const outcome = event ? event.runs[Math.min(attempt, event.runs.length - 1)]! : unsupported ? 'skip' : 'pass'
          tests.push({
            collection: template.collection,
            name: template.name,
            outcome,
            ...(event?.subtests ? { subtests: event.subtests } : {}),
            ...(event?.kernelWarning ? { kernelWarning: true } : {}),
          })
        }
        const started = new Date(Date.UTC(2024, 0, 8 + 14 * vi, 9 + 2 * mi + attempt, 30))
        const meta: Record<string, string> = {
          series: DEMO_SERIES,
          version,
          machine: machine.name,
          arch: machine.arch,
          cpu: machine.cpu,
          kernel,
          commit: fakeSha(kernel),
          base_commit: fakeSha('6.8.0-rc1'),
          job_url: `https://ci.example.org/ksft-demo/${version}/${machine.name}/${attempt + 1}`,
          started_at: started.toISOString(),
        }
        if (machine.flags.length > 0) meta.flags = machine.flags.join(',')
        if (version !== 'base') meta.message_id = `20240108093000.${vi}-0-demo@ksft-dashboard.example`
        runs.push({
          meta,
          spec: { seed: hashString(`${version}|${machine.name}|${attempt}`), tests, arch: machine.arch, kernel, hardware: machine.hardware },
        })
      }
    }
  }
  return runs
}

export interface DemoLoadResult {
  seriesId: number
  runIds: number[]
  created: number
}

/** Ingests every demo run through the real pipeline; runs already stored are found, not added. */
export async function loadDemo (store: { runs: Pick<StoreRuns, 'ingest' | 'getRun'> }, options: { spoolDir?: string } = {}): Promise<DemoLoadResult> {
  const runIds: number[] = []
  let created = 0
  for (const run of demoRuns()) {
    const result = await ingestLog(logBuffers(run.spec), parseRunMetadata(run.meta), store, options)
    runIds.push(result.runId)
    if (result.created) created++
  }
  const seriesId = (await store.runs.getRun(runIds[0]!))!.series.id
  return { seriesId, runIds, created }
}
