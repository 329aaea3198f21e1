import { FAILING_STATUSES } from '../../ingest/vocabulary.ts'
import type { CaseName, CellCounts, TriageCell } from '../storage/rows.ts'
import type { StoreTrends } from '../storage/store.ts'
import { comparePaths, compareStrings } from './cursor.ts'

/**
 * The cells (rows times versions) after which a matrix page takes no further test. The page's
 * size is then bounded whatever the series' shape: 50 tests of 20 subtests over 20 versions were
 * 20 000 cells, a 4.3 MB answer, and a series of tests with hundreds of subtests would have made
 * a page of tens of megabytes for one request. A page still holds at least one whole test.
 */
export const MATRIX_PAGE_CELLS = 10_000

/** Where a matrix page starts: after this test. */
export type MatrixKey = [collection: string, test: string]

export interface MatrixOptions {
  seriesId: number
  versionIds: number[]
  collection: string | null
  machineId: number | null
  arch: string | null
  after: MatrixKey | null
  limit: number
  /** MATRIX_PAGE_CELLS unless given. */
  maxCells?: number
}

export interface MatrixPage {
  /** the machines of each cell's machineSet, by name */
  machineSets: string[][]
  rows: MatrixRowData[]
  next: MatrixKey | null
}

export interface MatrixRowData {
  collection: string
  test: string
  path: string[]
  hasSubtests: boolean
  cells: Array<CellCounts | null>
}

/**
 * A page of the tests-by-versions matrix: whole tests (each with all its subtests), so that a
 * test never splits across two pages, `limit` of them at most and fewer when they would pass
 * MATRIX_PAGE_CELLS. Cells come from case_stats, never from the results.
 */
export async function matrixPage (store: StoreTrends, options: MatrixOptions): Promise<MatrixPage> {
  // one more than asked tells whether another page exists
  const tests = await store.seriesTests(options.seriesId, options.collection, options.after, options.limit + 1)
  if (tests.length === 0) return { machineSets: [], rows: [], next: null }
  const asked = tests.slice(0, options.limit)
  const { kept, cases } = testsWithinBudget(asked, await store.casesOfTests(asked), options.versionIds.length, options.maxCells ?? MATRIX_PAGE_CELLS)
  const more = kept.length < tests.length
  // the machines that ran the versions name the cells' machine ids, and the arch filter keeps some of them
  const ran = await store.versionMachineCells(options.versionIds, options.machineId, options.arch)
  const sets = new MachineSets(new Map(ran.map(cell => [cell.machineId, cell.machine])))
  const column = new Map(options.versionIds.map((id, index) => [id, index]))
  const cells = new Map<number, Array<CellCounts | null>>()
  const found = await store.matrixCells(cases.map(c => c.id), options.versionIds, options.machineId, options.arch === null ? null : ran, ids => sets.numberOf(ids))
  for (const cell of found) {
    let row = cells.get(cell.caseId)
    if (row === undefined) cells.set(cell.caseId, row = options.versionIds.map(() => null))
    row[column.get(cell.versionId)!] = cell.counts
  }

  await markKnown(store, options.versionIds, cells, new Set(ran.map(cell => `${cell.versionId}:${cell.machineId}`)), options.machineId)

  // cases of another series, or never run on the machine asked for, have no cells here
  const present = cases.filter(c => cells.has(c.id))
    .sort((a, b) => compareStrings(a.collection, b.collection) || compareStrings(a.test, b.test) || comparePaths(a.path, b.path))
  const rows = present.map((c, i): MatrixRowData => {
    const next = present[i + 1]
    return {
      collection: c.collection,
      test: c.test,
      path: c.path,
      hasSubtests: next !== undefined && next.collection === c.collection && next.test === c.test && next.path.length > c.path.length,
      cells: cells.get(c.id)!,
    }
  })
  return { machineSets: sets.named, rows, next: more ? kept.at(-1)! : null }
}

/** The first tests whose rows (the test and its subtests) times the versions stay within `maxCells`, and at least one. */
function testsWithinBudget (tests: MatrixKey[], cases: CaseName[], versions: number, maxCells: number): { kept: MatrixKey[], cases: CaseName[] } {
  const rowsOf = new Map<string, number>()
  const keyOf = (collection: string, test: string): string => JSON.stringify([collection, test])
  for (const c of cases) {
    const key = keyOf(c.collection, c.test)
    rowsOf.set(key, (rowsOf.get(key) ?? 0) + 1)
  }
  let cells = 0
  let count = 0
  for (const [collection, test] of tests) {
    const more = (rowsOf.get(keyOf(collection, test)) ?? 0) * versions
    if (count > 0 && cells + more > maxCells) break
    cells += more
    count++
  }
  if (count === tests.length) return { kept: tests, cases }
  const kept = tests.slice(0, count)
  const keys = new Set(kept.map(([collection, test]) => keyOf(collection, test)))
  return { kept, cases: cases.filter(c => keys.has(keyOf(c.collection, c.test))) }
}

/**
 * Counts, in each cell, the failing or troubled results an active known issue matched, and whether
 * they are all of them (`explained`, the rule of verdict.ts triagedBucket: every failing result
 * matched, and every troubled one by an issue that claims kernel trouble).
 */
async function markKnown (store: StoreTrends, versionIds: number[], cells: Map<number, Array<CellCounts | null>>, counted: Set<string>, machineId: number | null): Promise<void> {
  const triage = new Map<number, TriageCell[]>()
  for (const cell of await store.triageCells(versionIds)) {
    let cells = triage.get(cell.versionId)
    if (cells === undefined) triage.set(cell.versionId, cells = [])
    cells.push(cell)
  }
  versionIds.forEach((versionId, column) => {
    const explained = new Map<CellCounts, { failing: number, troubled: number }>()
    for (const cell of triage.get(versionId) ?? []) {
      if (cell.known === 0 || !counted.has(`${versionId}:${cell.machineId}`) || (machineId !== null && cell.machineId !== machineId)) continue
      const counts = cells.get(cell.caseId)?.[column]
      if (!counts) continue
      counts.known += cell.known
      const sums = explained.get(counts) ?? { failing: 0, troubled: 0 }
      sums.failing += cell.knownFailing
      sums.troubled += cell.knownTroubled
      explained.set(counts, sums)
    }
    for (const [counts, sums] of explained) {
      const failing = FAILING_STATUSES.reduce((total, status) => total + counts[status], 0)
      counts.explained = sums.failing === failing && sums.troubled === counts.trouble
    }
  })
}

/** The distinct sets of machines of a page's cells, numbered in the order they are first met. */
class MachineSets {
  readonly named: string[][] = []
  /** By the list as the store wrote it, and by the set's names: one set may come listed in several orders. */
  private readonly byList = new Map<string, number>()
  private readonly byNames = new Map<string, number>()

  constructor (private readonly names: ReadonlyMap<number, string>) {}

  /** The number of the set the store lists as comma-separated machine ids, in any order. */
  numberOf (ids: string): number {
    let found = this.byList.get(ids)
    if (found === undefined) {
      const named = ids.split(',').map(id => this.names.get(Number(id))!).sort(compareStrings)
      const key = JSON.stringify(named)
      found = this.byNames.get(key)
      if (found === undefined) this.byNames.set(key, found = this.named.push(named) - 1)
      this.byList.set(ids, found)
    }
    return found
  }
}
