import { STATUSES, worseStatus, type Status, type Summary } from '../../ingest/index.ts'
import { COMPARE_BUCKETS, type CompareBucket } from '../schemas/trends.ts'
import { compareStrings, comparePaths } from './cursor.ts'
import { FAILED, PASSED } from './outcomes.ts'
import type { MachineRef, ResultLink, TrendStore } from './trend-store.ts'

/**
 * Compares two versions of a series test by test and subtest by subtest, machine by machine.
 *
 * Each side is an outcome set per machine (one number per case, in case order; see outcomes.ts),
 * and the two sides are merged in a single pass: SQLite has no merge join, and a join or GROUP BY
 * of two versions' case_stats on a 10-million-result store costs tens of milliseconds. Only the
 * page of entries sent back is then looked up in full (counts per status and the log lines of
 * every result).
 */

/** Where a compare page starts: after this entry in compare order. */
export type CompareKey = [bucketRank: number, collection: string, test: string, path: string[], machine: string]

export interface CompareOptions {
  baseVersionId: number
  headVersionId: number
  machine: MachineRef | null
  /** only machines that ran the version on this architecture (see TrendStore.versionMachines) */
  arch?: string | null
  /** only these cases, ascending (TrendStore.collectionCases) */
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
  runs: ResultLink[]
}

export interface ComparedEntry {
  bucket: CompareBucket
  collection: string
  test: string
  path: string[]
  machine: string
  sameMachine: boolean
  base: ComparedSide
  head: ComparedSide
}

export type BucketCounts = Record<CompareBucket | 'unchanged', number>

export interface ComparePage {
  baseMachines: string[]
  headMachines: string[]
  counts: BucketCounts
  entries: ComparedEntry[]
  next: CompareKey | null
}

/** One side of a comparison: `case_id * 4 + outcome bits` for each case, in case order. */
type Side = Uint32Array

/** A machine compared like with like, or (when it ran only one version) with every machine that ran the other. */
interface Pair { machine: MachineRef, sameMachine: boolean, base: MachineRef[], head: MachineRef[] }

const ABSENT = -1
const MIXED = PASSED | FAILED

export function bucketOf (base: number, head: number): CompareBucket | 'unchanged' {
  if (base === MIXED || head === MIXED) return 'flaky'
  if (base === ABSENT) return (head & FAILED) !== 0 ? 'new_failure' : 'new'
  if (head === ABSENT) return 'missing'
  const baseFailed = (base & FAILED) !== 0
  const headFailed = (head & FAILED) !== 0
  if (baseFailed && headFailed) return 'still_failing'
  if (baseFailed) return 'fixed'
  if (headFailed) return 'regression'
  return 'unchanged'
}

export function compareVersions (store: TrendStore, options: CompareOptions): ComparePage {
  const arch = options.arch ?? null
  const baseMachines = store.versionMachines(options.baseVersionId, arch)
  const headMachines = store.versionMachines(options.headVersionId, arch)
  const pairs = pairMachines(baseMachines, headMachines, options.machine)
  const baseCells = store.outcomeSets(options.baseVersionId, baseMachines.map(machine => machine.id))
  const headCells = options.headVersionId === options.baseVersionId ? baseCells : store.outcomeSets(options.headVersionId, headMachines.map(machine => machine.id))

  const counts = Object.fromEntries([...COMPARE_BUCKETS, 'unchanged'].map(bucket => [bucket, 0])) as BucketCounts
  const found: Array<{ bucket: CompareBucket, caseId: number, pair: Pair }> = []
  const listed = options.limit > 0
  for (const pair of pairs) {
    const base = onlyCases(sideOf(baseCells, pair.base), options.cases ?? null)
    const head = onlyCases(sideOf(headCells, pair.head), options.cases ?? null)
    merge(base, head, (caseId, baseBits, headBits) => {
      const bucket = bucketOf(baseBits, headBits)
      counts[bucket]++
      if (listed && bucket !== 'unchanged' && (options.bucket === null || bucket === options.bucket)) found.push({ bucket, caseId, pair })
    })
  }

  const names = new Map(store.caseNames([...new Set(found.map(entry => entry.caseId))]).map(name => [name.id, name]))
  const keyed = found.map(entry => {
    const name = names.get(entry.caseId)!
    const key: CompareKey = [COMPARE_BUCKETS.indexOf(entry.bucket), name.collection, name.test, name.path, entry.pair.machine.name]
    return { ...entry, key }
  }).sort((a, b) => compareKeys(a.key, b.key))
  const after = options.after
  const start = after === null ? 0 : keyed.findIndex(entry => compareKeys(entry.key, after) > 0)
  const page = start === -1 ? [] : keyed.slice(start, start + options.limit)
  const more = page.length > 0 && start + options.limit < keyed.length

  return {
    baseMachines: baseMachines.map(machine => machine.name),
    headMachines: headMachines.map(machine => machine.name),
    counts,
    entries: page.map(({ bucket, caseId, pair, key }) => ({
      bucket,
      collection: key[1],
      test: key[2],
      path: key[3],
      machine: pair.machine.name,
      sameMachine: pair.sameMachine,
      base: describeSide(store, options.baseVersionId, pair.base, caseId),
      head: describeSide(store, options.headVersionId, pair.head, caseId),
    })),
    next: more ? page.at(-1)!.key : null,
  }
}

export function compareKeys (a: CompareKey, b: CompareKey): number {
  return (a[0] - b[0]) || compareStrings(a[1], b[1]) || compareStrings(a[2], b[2]) || comparePaths(a[3], b[3]) || compareStrings(a[4], b[4])
}

function pairMachines (baseMachines: MachineRef[], headMachines: MachineRef[], only: MachineRef | null): Pair[] {
  const inBase = new Set(baseMachines.map(machine => machine.id))
  const inHead = new Set(headMachines.map(machine => machine.id))
  const all = new Map([...baseMachines, ...headMachines].map(machine => [machine.id, machine]))
  const pairs: Pair[] = []
  for (const machine of all.values()) {
    if (only !== null && machine.id !== only.id) continue
    if (inBase.has(machine.id) && inHead.has(machine.id)) pairs.push({ machine, sameMachine: true, base: [machine], head: [machine] })
    else if (inHead.has(machine.id)) pairs.push({ machine, sameMachine: false, base: baseMachines, head: [machine] })
    else pairs.push({ machine, sameMachine: false, base: [machine], head: headMachines })
  }
  return pairs
}

/**
 * The cells of several machines as one side. Runs that disagree on one machine make it flaky;
 * machines that disagree with each other do not (that is the machines, not the test), and the
 * side then counts as failing, like its worst status.
 */
function sideOf (cells: Map<number, Side>, machines: MachineRef[]): Side {
  if (machines.length === 1) return cells.get(machines[0]!.id) ?? new Uint32Array(0)
  const pooled = new Map<number, number>()
  for (const machine of machines) {
    for (const cell of cells.get(machine.id) ?? []) {
      const caseId = cell >>> 2
      const before = pooled.get(caseId)
      pooled.set(caseId, before === undefined ? cell & 3 : pool(before, cell & 3))
    }
  }
  const side = new Uint32Array(pooled.size)
  let i = 0
  for (const [caseId, bits] of pooled) side[i++] = caseId * 4 + bits
  return side.sort()
}

/** The cells of a side whose case is among `cases`; both are in case order, so one pass over each. */
function onlyCases (side: Side, cases: Uint32Array | null): Side {
  if (cases === null) return side
  const kept = new Uint32Array(side.length)
  let n = 0
  let j = 0
  for (let i = 0; i < side.length; i++) {
    const caseId = side[i]! >>> 2
    while (j < cases.length && cases[j]! < caseId) j++
    if (j === cases.length) break
    if (cases[j] === caseId) kept[n++] = side[i]!
  }
  return kept.subarray(0, n)
}

function pool (a: number, b: number): number {
  if (a === MIXED || b === MIXED) return MIXED
  if ((a | b) & FAILED) return FAILED
  return a | b
}

function merge (base: Side, head: Side, visit: (caseId: number, baseBits: number, headBits: number) => void): void {
  let i = 0
  let j = 0
  while (i < base.length || j < head.length) {
    const b = i < base.length ? base[i]! >>> 2 : Infinity
    const h = j < head.length ? head[j]! >>> 2 : Infinity
    if (b === h) visit(b, base[i++]! & 3, head[j++]! & 3)
    else if (b < h) visit(b, base[i++]! & 3, ABSENT)
    else visit(h, ABSENT, head[j++]! & 3)
  }
}

function describeSide (store: TrendStore, versionId: number, machines: MachineRef[], caseId: number): ComparedSide {
  const ids = machines.map(machine => machine.id)
  const counts = store.cellCounts(versionId, ids, caseId)
  let status: Status | null = null
  for (const candidate of STATUSES) {
    if (counts[candidate] > 0) status = status === null ? candidate : worseStatus(status, candidate)
  }
  return {
    machines: machines.map(machine => machine.name),
    status,
    counts,
    runs: counts.total === 0 ? [] : store.resultLinks(versionId, ids, caseId),
  }
}
