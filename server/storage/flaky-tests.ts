import { comparePaths, compareStrings } from './cursor.ts'
import type { TrendStore, VersionRow } from './trend-store.ts'

/** Where a flaky page starts: after this (test, machine). */
export type FlakyKey = [collection: string, test: string, path: string[], machine: string]

export interface FlakyOptions {
  versions: VersionRow[]
  collection: string | null
  machineId: number | null
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

/**
 * Tests whose runs on one machine disagree within a version, or that go from passing to failing
 * and back across versions. SQLite finds the pairs (TrendStore.flakyPairs); only the page sent
 * back has its versions read in full.
 */
export function flakyPage (store: TrendStore, options: FlakyOptions): { entries: FlakyEntryData[], next: FlakyKey | null } {
  const versionIds = options.versions.map(version => version.id)
  const pairs = store.flakyPairs(versionIds, options.machineId)
  const names = new Map(store.caseNames([...new Set(pairs.map(pair => pair.caseId))]).map(name => [name.id, name]))
  const found = pairs
    .map(pair => ({ pair, name: names.get(pair.caseId)! }))
    .filter(({ name }) => options.collection === null || name.collection === options.collection)
    .map(({ pair, name }) => ({ pair, name, key: [name.collection, name.test, name.path, pair.machine] as FlakyKey }))
    .sort((a, b) => compareFlakyKeys(a.key, b.key))
  const after = options.after
  const start = after === null ? 0 : found.findIndex(entry => compareFlakyKeys(entry.key, after) > 0)
  const page = start === -1 ? [] : found.slice(start, start + options.limit)
  const more = start !== -1 && start + options.limit < found.length

  const order = new Map(versionIds.map((id, index) => [id, index]))
  const cells = store.outcomeCells([...new Set(page.map(entry => entry.pair.caseId))], versionIds)
  const entries = page.map(({ pair, name }): FlakyEntryData => ({
    collection: name.collection,
    test: name.test,
    path: name.path,
    machine: pair.machine,
    mixedVersions: pair.mixedVersions,
    flips: pair.flips,
    versions: cells
      .filter(cell => cell.caseId === pair.caseId && cell.machineId === pair.machineId)
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

function compareFlakyKeys (a: FlakyKey, b: FlakyKey): number {
  return compareStrings(a[0], b[0]) || compareStrings(a[1], b[1]) || comparePaths(a[2], b[2]) || compareStrings(a[3], b[3])
}
