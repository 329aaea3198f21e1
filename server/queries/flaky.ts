import { bitsOfCell, caseOfCell } from '../storage/outcome-cells.ts'
import type { CaseName, OutcomeCell, VersionRow } from '../storage/rows.ts'
import type { StoreTrends } from '../storage/store.ts'
import { comparePaths, compareStrings } from './cursor.ts'
import { FAILED, PASSED } from './verdict.ts'

/** Where a flaky page starts: after this (test, machine). */
export type FlakyKey = [collection: string, test: string, path: string[], machine: string]

export interface FlakyOptions {
  versions: VersionRow[]
  collection: string | null
  machineId: number | null
  arch: string | null
  after: FlakyKey | null
  limit: number
}

export interface FlakyVersionData {
  version: string
  runs: number
  pass: number
  fail: number
  skip: number
  passRatio: string
  failRatio: string
  mixed: boolean
}

export interface FlakyEntryData {
  collection: string
  test: string
  path: string[]
  machine: string
  mixedVersions: number
  flips: number
  versions: FlakyVersionData[]
}

/** A (case, machine) found flaky, before its name is known. */
export interface FlakyPair { caseId: number, machineId: number, mixedVersions: number, flips: number }

const MIXED = PASSED | FAILED

/**
 * Tests whose runs on one machine disagree within a version: the same code on the same machine,
 * passing and failing. Flips from version to version are counted as their history (a test that
 * regressed in v6 and was fixed in v7 flipped twice) but never make a test flaky. Every version's outcome sets (one number per case, see outcomes.ts)
 * are walked once, in version order: reading the cells of each (case, machine) from case_stats
 * cost a lookup per case and version, 300 ms on a store of ten million results. Only the page sent
 * back has its counts read from case_stats.
 */
export async function flakyPage (store: StoreTrends, options: FlakyOptions): Promise<{ entries: FlakyEntryData[], next: FlakyKey | null }> {
  const versionIds = options.versions.map(version => version.id)
  const ran = await store.versionMachineCells(versionIds, options.machineId, options.arch)
  const machineNames = new Map(ran.map(cell => [cell.machineId, cell.machine]))
  const setsByMachine = new Map<number, Uint32Array[]>()
  for (const versionId of versionIds) {
    const machineIds = ran.filter(cell => cell.versionId === versionId).map(cell => cell.machineId)
    if (machineIds.length === 0) continue
    const sets = await store.outcomeSets(versionId, machineIds)
    for (const machineId of machineIds) {
      const set = sets.get(machineId)
      if (set === undefined) continue
      const list = setsByMachine.get(machineId) ?? []
      list.push(set)
      setsByMachine.set(machineId, list)
    }
  }
  const pairs = findFlakyPairs(setsByMachine)

  const names = new Map((await store.caseNames([...new Set(pairs.map(pair => pair.caseId))]))
    .filter(name => options.collection === null || name.collection === options.collection)
    .map(name => [name.id, name]))
  const found = rankedPairs(pairs, names, machineNames)
  const after = options.after
  const start = after === null ? 0 : found.findIndex(entry => compareFlakyKeys(entry.key, after) > 0)
  const page = start === -1 ? [] : found.slice(start, start + options.limit)
  const more = start !== -1 && start + options.limit < found.length

  const order = new Map(versionIds.map((id, index) => [id, index]))
  const kept = new Set(ran.map(cell => cellKey(cell.versionId, cell.machineId)))
  const cellsOf = new Map<string, OutcomeCell[]>()
  for (const cell of await store.outcomeCells([...new Set(page.map(entry => entry.pair.caseId))], versionIds)) {
    if (!kept.has(cellKey(cell.versionId, cell.machineId))) continue
    const key = `${cell.caseId}/${cell.machineId}`
    const list = cellsOf.get(key)
    if (list === undefined) cellsOf.set(key, [cell])
    else list.push(cell)
  }
  const entries = page.map(({ pair, name, key }): FlakyEntryData => ({
    collection: name.collection,
    test: name.test,
    path: name.path,
    machine: key[3],
    mixedVersions: pair.mixedVersions,
    flips: pair.flips,
    versions: (cellsOf.get(`${pair.caseId}/${pair.machineId}`) ?? [])
      .sort((a, b) => order.get(a.versionId)! - order.get(b.versionId)!)
      .map(cell => ({
        version: options.versions[order.get(cell.versionId)!]!.label,
        runs: cell.total,
        pass: cell.passed,
        fail: cell.failed,
        skip: cell.skip,
        passRatio: `${cell.passed}:${cell.total}`,
        failRatio: `${cell.failed}:${cell.total}`,
        mixed: cell.passed > 0 && cell.failed > 0,
      })),
  }))
  return { entries, next: more ? page.at(-1)!.key : null }
}

/**
 * The flaky (case, machine) pairs, from each machine's outcome sets given in version order. A case
 * is mixed in a version when both bits are set; its flips are the changes between only passing and
 * only failing, skipping versions where it was mixed, only skipped or absent.
 */
export function findFlakyPairs (setsByMachine: ReadonlyMap<number, readonly Uint32Array[]>): FlakyPair[] {
  let low = Infinity
  let high = -1
  for (const sets of setsByMachine.values()) {
    for (const set of sets) {
      if (set.length === 0) continue
      low = Math.min(low, caseOfCell(set[0]!))
      high = Math.max(high, caseOfCell(set[set.length - 1]!))
    }
  }
  if (high < 0) return []
  // indexed by case id: the sets of a series hold mostly the same cases, and a typed array walked
  // in step with them is several times cheaper than a Map or a k-way merge
  const size = high - low + 1
  const last = new Uint8Array(size)
  const mixed = new Uint16Array(size)
  const flips = new Uint16Array(size)
  const pairs: FlakyPair[] = []
  for (const [machineId, sets] of setsByMachine) {
    last.fill(0)
    mixed.fill(0)
    flips.fill(0)
    for (const set of sets) {
      for (let j = 0; j < set.length; j++) {
        const cell = set[j]!
        const i = caseOfCell(cell) - low
        const bits = bitsOfCell(cell) & MIXED
        if (bits === MIXED) mixed[i]!++
        else if (bits !== 0) {
          if (last[i] !== 0 && last[i] !== bits) flips[i]!++
          last[i] = bits
        }
      }
    }
    for (let i = 0; i < size; i++) {
      // flaky means reruns that disagree; flips across versions are history (regressed, then fixed)
      if (mixed[i]! > 0) pairs.push({ caseId: i + low, machineId, mixedVersions: mixed[i]!, flips: flips[i]! })
    }
  }
  return pairs
}

/**
 * The pairs whose case is named (the others are outside the collection asked for), in page order.
 * The names are sorted once and the pairs by rank: a busy store has thousands of flaky pairs, and
 * comparing their names pair by pair costs more than finding them.
 */
function rankedPairs (pairs: FlakyPair[], names: ReadonlyMap<number, CaseName>, machineNames: ReadonlyMap<number, string>) {
  const rank = new Map([...names.values()]
    .sort((a, b) => compareStrings(a.collection, b.collection) || compareStrings(a.test, b.test) || comparePaths(a.path, b.path))
    .map((name, i) => [name.id, i]))
  return pairs
    .filter(pair => rank.has(pair.caseId))
    .sort((a, b) => rank.get(a.caseId)! - rank.get(b.caseId)! || compareStrings(machineNames.get(a.machineId)!, machineNames.get(b.machineId)!))
    .map(pair => {
      const name = names.get(pair.caseId)!
      return { pair, name, key: [name.collection, name.test, name.path, machineNames.get(pair.machineId)!] as FlakyKey }
    })
}

function cellKey (versionId: number, machineId: number): string {
  return `${versionId}/${machineId}`
}

function compareFlakyKeys (a: FlakyKey, b: FlakyKey): number {
  return compareStrings(a[0], b[0]) || compareStrings(a[1], b[1]) || comparePaths(a[2], b[2]) || compareStrings(a[3], b[3])
}
