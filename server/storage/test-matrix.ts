import { comparePaths, compareStrings } from './cursor.ts'
import type { CellCounts, TrendStore } from './trend-store.ts'

/** Where a matrix page starts: after this test. */
export type MatrixKey = [collection: string, test: string]

export interface MatrixOptions {
  seriesId: number
  versionIds: number[]
  collection: string | null
  machineId: number | null
  after: MatrixKey | null
  limit: number
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
 * test never splits across two pages. Cells come from case_stats, never from the results.
 */
export function matrixPage (store: TrendStore, options: MatrixOptions): { rows: MatrixRowData[], next: MatrixKey | null } {
  // one more than asked tells whether another page exists
  const tests = store.seriesTests(options.seriesId, options.collection, options.after, options.limit + 1)
  const more = tests.length > options.limit
  if (more) tests.pop()
  if (tests.length === 0) return { rows: [], next: null }

  const cases = store.casesOfTests(tests)
  const column = new Map(options.versionIds.map((id, index) => [id, index]))
  const cells = new Map<number, Array<CellCounts | null>>()
  for (const c of cases) {
    const found = store.matrixCells(c.id, options.versionIds, options.machineId)
    if (found.length === 0) continue
    const row: Array<CellCounts | null> = options.versionIds.map(() => null)
    for (const cell of found) row[column.get(cell.versionId)!] = cell.counts
    cells.set(c.id, row)
  }

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
  return { rows, next: more ? tests.at(-1)! : null }
}
