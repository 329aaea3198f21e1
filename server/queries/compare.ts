import { STATUSES, summarize, worseStatus, type Flag, type Status, type Summary } from '../../ingest/index.ts'
import { bitsOfCell, caseOfCell } from '../storage/outcome-cells.ts'
import type { IssueRef, MachineCase, MachineRef, ResultDetail } from '../storage/rows.ts'
import type { StoreTrends } from '../storage/store.ts'
import { compareStrings, comparePaths } from './cursor.ts'
import {
  ABSENT, bucketOf, bucketRank, COMPARE_BUCKETS, FAILED, infrastructureEvidence, PASSED, triagedBucket, troubleIn,
  type BucketOrUnchanged, type CellTriage, type CompareBucket,
} from './verdict.ts'

/**
 * Compares two versions of a series test by test and subtest by subtest, each machine with itself
 * (queries/verdict.ts decides the buckets). A machine that ran only one of the two versions is
 * named, never compared with another machine: its results are not the other machine's.
 *
 * Each side is an outcome set per machine (one number per case, in case order; see
 * storage/outcome-cells.ts), and the two sides of a machine are merged in one pass, so the cost grows
 * with machines times cases, never machines squared. Only the page of entries sent back is then
 * looked up in full (counts per status, reasons, flags and the log lines of every result).
 */

/** Where a compare page starts: after this entry in compare order. */
export type CompareKey = [bucketRank: number, collection: string, test: string, path: string[], machine: string]

export interface CompareOptions {
  baseVersionId: number
  headVersionId: number
  machine: MachineRef | null
  /** only machines that ran the version on this architecture (see StoreTrends.versionMachines) */
  arch?: string | null
  /** only these cases, ascending (StoreTrends.collectionCases) */
  cases?: Uint32Array | null
  bucket: CompareBucket | null
  after: CompareKey | null
  /** 0: the counts alone */
  limit: number
}

export interface ComparedSide {
  machines: string[]
  status: Status | null
  counts: Summary
  /** Why it failed or was skipped: the first failing result's reason, else the first result's. */
  reason: string | null
  exitCode: number | null
  /** How long the runner waited before it killed the test, when it timed out. */
  timeoutSeconds: number | null
  /** Kernel trouble and false passes seen in its results (verdict.ts TROUBLE_FLAGS). */
  kernelTrouble: Flag[]
  /** Whether a run of this side on the machine finished (see ingest/completeness.ts). */
  complete: boolean
  runs: ResultDetail[]
}

export interface ComparedEntry {
  bucket: CompareBucket
  collection: string
  test: string
  path: string[]
  machine: string
  /** Always true: a machine is compared only with itself. Kept for clients of the first API. */
  sameMachine: boolean
  /** In head, this test fails on some machines and passes on others: the machines differ, not the runs. */
  machineSpecific: boolean
  /** Trouble flags in head that base did not show. */
  newKernelTrouble: Flag[]
  /**
   * Active known issues that matched the head's results (for `fixed`, the base's). In `known`, they
   * explain every failing or troubled head result; elsewhere they explain some.
   */
  knownIssues: IssueRef[]
  /** The bucket the entry would have without triage, for `known` and `infrastructure`; else null. */
  triagedFrom: CompareBucket | null
  /** What says the head's failure is the harness's or the lab's (verdict.ts infrastructureEvidence). */
  infrastructure: string | null
  /** `fixed` where a known issue had matched the base: the issue may be fixed too. */
  perhapsFixed: boolean
  base: ComparedSide
  head: ComparedSide
}

export type BucketCounts = Record<BucketOrUnchanged, number>

export interface ComparePage {
  baseMachines: string[]
  headMachines: string[]
  /** Machines that ran both versions: the only ones compared. */
  pairedMachines: string[]
  /** Machines that ran only one of the two versions, by the version they ran. */
  unpaired: { base: string[], head: string[] }
  /** Paired machines none of whose runs of that side finished. */
  incomplete: { base: string[], head: string[] }
  /** Tests and subtests counted once each, in the first bucket any machine puts them in. */
  counts: BucketCounts
  /** Entries per bucket: one per test or subtest and machine. */
  machineCounts: BucketCounts
  entries: ComparedEntry[]
  next: CompareKey | null
}

type Side = Uint32Array

/** Per case over the paired machines: the best bucket rank, and whether head failed or passed somewhere. */
const RANK_BITS = 0xf
const HEAD_FAILED_SOMEWHERE = 0x10
const HEAD_PASSED_SOMEWHERE = 0x20

export async function compareVersions (store: StoreTrends, options: CompareOptions): Promise<ComparePage> {
  const arch = options.arch ?? null
  const [baseMachines, headMachines, baseFinished, headFinished] = await Promise.all([
    store.versionMachines(options.baseVersionId, arch), store.versionMachines(options.headVersionId, arch),
    store.finishedMachines(options.baseVersionId), store.finishedMachines(options.headVersionId),
  ])
  const inBase = new Set(baseMachines.map(machine => machine.id))
  const inHead = new Set(headMachines.map(machine => machine.id))
  const only = options.machine
  const paired = headMachines.filter(machine => inBase.has(machine.id) && (only === null || machine.id === only.id))
  const baseCells = await store.outcomeSets(options.baseVersionId, paired.map(machine => machine.id))
  const headCells = options.headVersionId === options.baseVersionId ? baseCells : await store.outcomeSets(options.headVersionId, paired.map(machine => machine.id))

  const triage = await headTriage(store, options.headVersionId, paired)

  const machineCounts = emptyCounts()
  const perCase = new Map<number, number>()
  const found: Array<{ bucket: CompareBucket, untriaged: BucketOrUnchanged, caseId: number, machine: MachineRef }> = []
  const listed = options.limit > 0
  for (const machine of paired) {
    const base = onlyCases(baseCells.get(machine.id) ?? new Uint32Array(0), options.cases ?? null)
    const head = onlyCases(headCells.get(machine.id) ?? new Uint32Array(0), options.cases ?? null)
    const finished = headFinished.has(machine.id)
    const triaged = triage.get(machine.id)
    merge(base, head, (caseId, baseBits, headBits) => {
      const untriaged = bucketOf(baseBits, headBits, finished)
      const bucket = triaged === undefined ? untriaged : triagedBucket(untriaged, triaged.get(caseId))
      machineCounts[bucket]++
      const before = perCase.get(caseId)
      let value = Math.min(before === undefined ? RANK_BITS : before & RANK_BITS, bucketRank(bucket))
      if (before !== undefined) value |= before & ~RANK_BITS
      if (headBits !== ABSENT && (headBits & FAILED) !== 0 && (headBits & PASSED) === 0) value |= HEAD_FAILED_SOMEWHERE
      if (headBits !== ABSENT && (headBits & PASSED) !== 0 && (headBits & FAILED) === 0) value |= HEAD_PASSED_SOMEWHERE
      perCase.set(caseId, value)
      if (listed && bucket !== 'unchanged' && (options.bucket === null || bucket === options.bucket)) found.push({ bucket, untriaged, caseId, machine })
    })
  }
  const counts = emptyCounts()
  for (const value of perCase.values()) counts[rankBucket(value & RANK_BITS)]++

  const names = new Map((await store.caseNames([...new Set(found.map(entry => entry.caseId))])).map(name => [name.id, name]))
  const keyed = found.map(entry => {
    const name = names.get(entry.caseId)!
    const key: CompareKey = [COMPARE_BUCKETS.indexOf(entry.bucket), name.collection, name.test, name.path, entry.machine.name]
    return { ...entry, key }
  }).sort((a, b) => compareKeys(a.key, b.key))
  const after = options.after
  const start = after === null ? 0 : keyed.findIndex(entry => compareKeys(entry.key, after) > 0)
  const page = start === -1 ? [] : keyed.slice(start, start + options.limit)
  const more = page.length > 0 && start + options.limit < keyed.length

  const namesOf = (machines: MachineRef[]) => machines.map(machine => machine.name)
  return {
    baseMachines: namesOf(baseMachines),
    headMachines: namesOf(headMachines),
    pairedMachines: namesOf(paired),
    unpaired: {
      base: namesOf(baseMachines.filter(machine => !inHead.has(machine.id) && (only === null || machine.id === only.id))),
      head: namesOf(headMachines.filter(machine => !inBase.has(machine.id) && (only === null || machine.id === only.id))),
    },
    incomplete: {
      base: namesOf(paired.filter(machine => !baseFinished.has(machine.id))),
      head: namesOf(paired.filter(machine => !headFinished.has(machine.id))),
    },
    counts,
    machineCounts,
    entries: await describeEntries(store, options, page, { base: baseFinished, head: headFinished }, (entry, base, head, knownIssues): ComparedEntry => {
      const { bucket, untriaged, caseId, machine, key } = entry
      const value = perCase.get(caseId) ?? 0
      const failingHead = head.runs.find(run => run.status === head.status)
      return {
        bucket,
        collection: key[1],
        test: key[2],
        path: key[3],
        machine: machine.name,
        sameMachine: true,
        machineSpecific: (value & HEAD_FAILED_SOMEWHERE) !== 0 && (value & HEAD_PASSED_SOMEWHERE) !== 0,
        newKernelTrouble: head.kernelTrouble.filter(flag => !base.kernelTrouble.includes(flag)),
        knownIssues,
        triagedFrom: bucket !== untriaged && untriaged !== 'unchanged' ? untriaged : null,
        infrastructure: failingHead === undefined ? null : infrastructureEvidence(failingHead),
        // an intermittent failure that passed once is not a fix
        perhapsFixed: bucket === 'fixed' && knownIssues.some(issue => !issue.intermittent),
        base,
        head,
      }
    }),
    next: more ? page.at(-1)!.key : null,
  }
}

/** Per paired machine and case, what triage knows of the head's cell, for the cells it can move. */
async function headTriage (store: StoreTrends, headVersionId: number, paired: MachineRef[]): Promise<Map<number, Map<number, CellTriage>>> {
  const pairedIds = new Set(paired.map(machine => machine.id))
  const triage = new Map<number, Map<number, CellTriage>>()
  for (const cell of await store.triageCells([headVersionId])) {
    if (!pairedIds.has(cell.machineId)) continue
    let cells = triage.get(cell.machineId)
    if (cells === undefined) triage.set(cell.machineId, cells = new Map())
    cells.set(cell.caseId, cell)
  }
  return triage
}

export function compareKeys (a: CompareKey, b: CompareKey): number {
  return (a[0] - b[0]) || compareStrings(a[1], b[1]) || compareStrings(a[2], b[2]) || comparePaths(a[3], b[3]) || compareStrings(a[4], b[4])
}

function emptyCounts (): BucketCounts {
  return Object.fromEntries([...COMPARE_BUCKETS, 'unchanged'].map(bucket => [bucket, 0])) as BucketCounts
}

function rankBucket (rank: number): BucketOrUnchanged {
  return COMPARE_BUCKETS[rank] ?? 'unchanged'
}

/** The cells of a side whose case is among `cases`; both are in case order, so one pass over each. */
function onlyCases (side: Side, cases: Uint32Array | null): Side {
  if (cases === null) return side
  const kept = new Uint32Array(side.length)
  let n = 0
  let j = 0
  for (let i = 0; i < side.length; i++) {
    const caseId = caseOfCell(side[i]!)
    while (j < cases.length && cases[j]! < caseId) j++
    if (j === cases.length) break
    if (cases[j] === caseId) kept[n++] = side[i]!
  }
  return kept.subarray(0, n)
}

function merge (base: Side, head: Side, visit: (caseId: number, baseBits: number, headBits: number) => void): void {
  let i = 0
  let j = 0
  while (i < base.length || j < head.length) {
    const b = i < base.length ? caseOfCell(base[i]!) : Infinity
    const h = j < head.length ? caseOfCell(head[j]!) : Infinity
    if (b === h) visit(b, bitsOfCell(base[i++]!), bitsOfCell(head[j++]!))
    else if (b < h) visit(b, bitsOfCell(base[i++]!), ABSENT)
    else visit(h, ABSENT, bitsOfCell(head[j++]!))
  }
}

/**
 * The page's entries with both their sides and the known issues that explain them, read with a few
 * statements for the whole page (a statement per entry and side made a page 400 round trips, most of
 * a comparison's time on PostgreSQL).
 */
async function describeEntries<Entry extends { caseId: number, machine: MachineRef, bucket: CompareBucket }> (
  store: StoreTrends, versions: { baseVersionId: number, headVersionId: number }, page: Entry[], finished: { base: Set<number>, head: Set<number> },
  describe: (entry: Entry, base: ComparedSide, head: ComparedSide, knownIssues: IssueRef[]) => ComparedEntry,
): Promise<ComparedEntry[]> {
  const [bases, heads] = await Promise.all([
    describeSides(store, versions.baseVersionId, page, finished.base),
    describeSides(store, versions.headVersionId, page, finished.head),
  ])
  // the side that says why: the base of a fix, the head otherwise
  const explainedBy = page.map((entry, i) => (entry.bucket === 'fixed' ? bases[i]! : heads[i]!))
  const issues = new Map((await store.issueRefs([...new Set(explainedBy.flatMap(side => side.runs.flatMap(run => run.knownIssues)))]))
    .map(issue => [issue.id, issue]))
  return page.map((entry, i) => {
    const ids = [...new Set(explainedBy[i]!.runs.flatMap(run => run.knownIssues))].sort((a, b) => a - b)
    const knownIssues = ids.flatMap(id => issues.get(id) ?? [])
    return describe(entry, bases[i]!, heads[i]!, knownIssues)
  })
}

/** One side of each entry: its cell in the version, counted, with its results. */
async function describeSides (store: StoreTrends, versionId: number, page: ReadonlyArray<{ caseId: number, machine: MachineRef }>, finished: Set<number>): Promise<ComparedSide[]> {
  const cells = page.map(({ caseId, machine }) => ({ machineId: machine.id, caseId }))
  const keyOf = (cell: MachineCase): string => `${cell.machineId}:${cell.caseId}`
  const [summaries, results] = await Promise.all([store.cellSummaries(versionId, cells), store.cellResults(versionId, cells)])
  const counted = new Map(summaries.map(cell => [keyOf(cell), cell.summary]))
  const resultsOf = new Map<string, ResultDetail[]>()
  for (const cell of results) {
    const key = keyOf(cell)
    let runs = resultsOf.get(key)
    if (runs === undefined) resultsOf.set(key, runs = [])
    runs.push(cell.result)
  }
  return page.map(({ caseId, machine }) => {
    const key = keyOf({ machineId: machine.id, caseId })
    return describeSide(machine, counted.get(key) ?? summarize([]), resultsOf.get(key) ?? [], finished.has(machine.id))
  })
}

function describeSide (machine: MachineRef, counts: Summary, runs: ResultDetail[], complete: boolean): ComparedSide {
  let status: Status | null = null
  for (const candidate of STATUSES) {
    if (counts[candidate] > 0) status = status === null ? candidate : worseStatus(status, candidate)
  }
  const telling = runs.find(run => run.status === status && run.reason !== null) ?? runs.find(run => run.reason !== null)
  return {
    machines: [machine.name],
    status,
    counts,
    reason: telling?.reason ?? null,
    exitCode: runs.find(run => run.status === status)?.exitCode ?? null,
    timeoutSeconds: runs.find(run => run.status === status)?.timeoutSeconds ?? null,
    kernelTrouble: troubleIn(runs.flatMap(run => run.flags)),
    complete,
    runs,
  }
}
