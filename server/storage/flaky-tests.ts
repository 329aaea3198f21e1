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
 * and back across versions. Only (case, machine) pairs that failed at least once can be either,
 * and the partial index case_stats_failing finds those without reading the passing rest.
 */
export function flakyPage (store: TrendStore, options: FlakyOptions): { entries: FlakyEntryData[], next: FlakyKey | null } {
  const versionIds = options.versions.map(version => version.id)
  const order = new Map(versionIds.map((id, index) => [id, index]))
  const candidates = store.failingCells(versionIds, options.machineId)
  const machineNames = new Map(candidates.map(c => [c.machineId, c.machine]))
  const wanted = new Set(candidates.map(c => `${c.caseId}:${c.machineId}`))
  const caseIds = [...new Set(candidates.map(c => c.caseId))]

  const perPair = new Map<string, { caseId: number, machineId: number, versions: Array<FlakyVersionData & { index: number }> }>()
  for (const cell of store.outcomeCells(caseIds, versionIds)) {
    const pairKey = `${cell.caseId}:${cell.machineId}`
    if (!wanted.has(pairKey)) continue
    let pair = perPair.get(pairKey)
    if (!pair) {
      pair = { caseId: cell.caseId, machineId: cell.machineId, versions: [] }
      perPair.set(pairKey, pair)
    }
    const index = order.get(cell.versionId)!
    pair.versions.push({
      index,
      version: options.versions[index]!.label,
      runs: cell.total,
      pass: cell.passed,
      fail: cell.failed,
      skip: cell.skip,
      passRatio: `${cell.passed}:${cell.total}`,
      failRatio: `${cell.failed}:${cell.total}`,
      mixed: cell.passed > 0 && cell.failed > 0,
    })
  }

  const names = new Map(store.caseNames(caseIds).map(name => [name.id, name]))
  const entries: Array<FlakyEntryData & { key: FlakyKey }> = []
  for (const pair of perPair.values()) {
    const name = names.get(pair.caseId)!
    if (options.collection !== null && name.collection !== options.collection) continue
    const versions = pair.versions.sort((a, b) => a.index - b.index).map(({ index: _index, ...version }) => version)
    const mixedVersions = versions.filter(version => version.mixed).length
    const flips = countFlips(versions)
    if (mixedVersions === 0 && flips < 2) continue
    const machine = machineNames.get(pair.machineId)!
    entries.push({ collection: name.collection, test: name.test, path: name.path, machine, mixedVersions, flips, versions, key: [name.collection, name.test, name.path, machine] })
  }
  entries.sort((a, b) => compareFlakyKeys(a.key, b.key))
  const after = options.after
  const start = after === null ? 0 : entries.findIndex(entry => compareFlakyKeys(entry.key, after) > 0)
  const page = start === -1 ? [] : entries.slice(start, start + options.limit)
  const more = start !== -1 && start + options.limit < entries.length
  return { entries: page.map(({ key: _key, ...entry }) => entry), next: more ? page.at(-1)!.key : null }
}

/** Changes between only-passing and only-failing versions; mixed and skipped versions say neither. */
function countFlips (versions: FlakyVersionData[]): number {
  let flips = 0
  let last: 'pass' | 'fail' | null = null
  for (const version of versions) {
    const outcome = version.mixed ? null : version.fail > 0 ? 'fail' : version.pass > 0 ? 'pass' : null
    if (outcome === null) continue
    if (last !== null && outcome !== last) flips++
    last = outcome
  }
  return flips
}

function compareFlakyKeys (a: FlakyKey, b: FlakyKey): number {
  return compareStrings(a[0], b[0]) || compareStrings(a[1], b[1]) || comparePaths(a[2], b[2]) || compareStrings(a[3], b[3])
}
