// The PostgreSQL trend reads (storage/postgres/trend-store.ts) against the SQLite ones
// (storage/trend-store.ts): one store built through the real ingest path (test/helpers/seeded-store.ts:
// SYNTHETIC demo and generated logs, the real logs of ../shared/fixtures/real when present), copied
// to PostgreSQL with ksft migrate-store's copy, and every public method asked the same questions on
// both. A method with no entry in CALLS fails the first test: none is left out unseen.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Database } from 'better-sqlite3'
import { copySqliteToPostgres } from '../../../server/storage/postgres/copy-store.ts'
import { openPostgres } from '../../../server/storage/postgres/connect.ts'
import { PostgresTrendStore } from '../../../server/storage/postgres/trend-store.ts'
import type { HistoryKey, HistoryRow, VersionMachine } from '../../../server/storage/rows.ts'
import { TrendStore } from '../../../server/storage/sqlite/trend-store.ts'
import { describePostgres } from '../../helpers/postgres.ts'
import { seededStore } from '../../helpers/seeded-store.ts'

type Method = keyof TrendStore

/** What the calls are made of, read from the seeded SQLite store. */
interface Facts {
  seriesIds: number[]
  seriesNames: string[]
  versionIds: number[]
  versionsOf: Map<number, number[]>
  machineIds: number[]
  machineNames: string[]
  /** Per version, the machines with a run of it. */
  machinesOf: Map<number, number[]>
  collectionsOf: Map<number, string[]>
  /** Failing, troubled, infrastructure, known-issue and passing cases, tests and subtests. */
  caseIds: number[]
  issueIds: number[]
  /** [collection, test, path] of some cases. */
  caseKeys: Array<[string, string, string[]]>
  /** The tests of each series, in its order. */
  testsOf: Map<number, Array<[string, string]>>
}

function factsOf (db: Database): Facts {
  const all = <T>(sql: string, ...params: unknown[]) => db.prepare(sql).pluck().all(...params) as T[]
  const seriesIds = all<number>('SELECT id FROM series ORDER BY id')
  const versionIds = all<number>('SELECT id FROM versions ORDER BY id')
  const failing = 'fail + xpass + timeout + error > 0'
  const caseIds = [...new Set([
    ...all<number>(`SELECT DISTINCT case_id FROM case_stats WHERE ${failing} ORDER BY case_id LIMIT 10`),
    ...all<number>(`SELECT DISTINCT case_id FROM case_stats WHERE ${failing} ORDER BY case_id DESC LIMIT 4`),
    ...all<number>('SELECT DISTINCT case_id FROM case_stats WHERE trouble > 0 ORDER BY case_id LIMIT 3'),
    ...all<number>('SELECT DISTINCT case_id FROM case_stats WHERE infrastructure > 0 ORDER BY case_id LIMIT 3'),
    ...all<number>('SELECT DISTINCT r.case_id FROM known_issue_matches k JOIN results r ON r.run_id = k.run_id AND r.seq = k.seq ORDER BY 1 LIMIT 4'),
    ...all<number>("SELECT id FROM cases WHERE path <> '[]' ORDER BY id LIMIT 3"),
    ...all<number>(`SELECT case_id FROM case_stats GROUP BY case_id HAVING max(${failing}) = 0 ORDER BY case_id LIMIT 3`),
  ])]
  const rows = <T>(sql: string, ...params: unknown[]) => db.prepare(sql).all(...params) as T[]
  return {
    seriesIds,
    seriesNames: all<string>('SELECT name FROM series ORDER BY id'),
    versionIds,
    versionsOf: new Map(seriesIds.map(id => [id, all<number>('SELECT id FROM versions WHERE series_id = ? ORDER BY sort_key, id', id)])),
    machineIds: all<number>('SELECT id FROM machines ORDER BY id'),
    machineNames: all<string>('SELECT name FROM machines ORDER BY name'),
    machinesOf: new Map(versionIds.map(id => [id, all<number>('SELECT DISTINCT machine_id FROM runs WHERE version_id = ? ORDER BY machine_id', id)])),
    collectionsOf: new Map(seriesIds.map(id => [id, all<string>('SELECT DISTINCT collection FROM series_tests WHERE series_id = ? ORDER BY collection', id)])),
    caseIds,
    issueIds: all<number>('SELECT id FROM known_issues ORDER BY id'),
    caseKeys: rows<{ collection: string, test: string, path: string }>(`SELECT collection, test, path FROM cases WHERE id IN (${caseIds.join(', ')}) ORDER BY id`)
      .map(row => [row.collection, row.test, JSON.parse(row.path) as string[]]),
    testsOf: new Map(seriesIds.map(id => [id, rows<{ collection: string, test: string }>('SELECT collection, test FROM series_tests WHERE series_id = ? ORDER BY collection, test', id)
      .map(row => [row.collection, row.test] as [string, string])])),
  }
}

/** A numbering of a cell's machines that depends on which they are, not on the order they are listed in (as the matrix's). */
const machineSet = (ids: string): number => ids.split(',').map(Number).sort((a, b) => a - b).reduce((hash, id) => (hash * 31 + id) % 1_000_000_007, 7)

const filtersOf = (facts: Facts) => [
  { machineId: null, arch: null },
  { machineId: null, arch: 'x86_64' },
  { machineId: null, arch: 'aarch64' },
  { machineId: null, arch: 'riscv64' },
  ...facts.machineIds.filter((_, i) => i % 3 === 0).map(machineId => ({ machineId, arch: null })),
  { machineId: facts.machineIds[0]!, arch: 'aarch64' },
]
const historyFiltersOf = (facts: Facts) => [
  { seriesId: null, machineId: null },
  ...facts.seriesIds.map(seriesId => ({ seriesId, machineId: null })),
  { seriesId: null, machineId: facts.machineIds[1]! },
  { seriesId: facts.seriesIds[0]!, machineId: facts.machineIds[2]! },
]
const MISSING = 987_654
/** Every (machine, case) cell of a version's machines and the first `cases` cases, case by case. */
const cellsOf = (facts: Facts, versionId: number, cases: number) =>
  facts.caseIds.slice(0, cases).flatMap(caseId => facts.machinesOf.get(versionId)!.map(machineId => ({ machineId, caseId })))

/**
 * Every public method of TrendStore, with the argument lists it is called with. Arguments that
 * depend on an earlier answer (a page after a cursor) are read from the SQLite store.
 */
const CALLS: Record<Method, (facts: Facts, sqlite: TrendStore) => unknown[][]> = {
  seriesById: f => [...f.seriesIds, MISSING].map(id => [id]),
  seriesByName: f => [...f.seriesNames, ...f.seriesNames.map(name => `  ${name.toUpperCase().replaceAll(' ', '   ')} `), 'no such series', ''].map(name => [name]),
  seriesIdentity: f => [...f.seriesIds, MISSING].map(id => [id]),
  seriesRow: f => [...f.seriesIds, MISSING].map(id => [id]),
  listSeries: f => [[10, null], [1, null], [2, f.seriesIds.at(-1)!], [10, f.seriesIds[0]!], [10, null, 'kvm'], [10, null, 'GENERATED  series'], [10, null, 'real'],
    [10, null, 'nothing like it'], [10, null, ''], [10, null, '   '], [0, null]],
  versionCounts: f => [...f.versionIds, MISSING].map(id => [id]),
  versions: f => [...f.seriesIds, MISSING].map(id => [id]),
  machineByName: f => [...f.machineNames, 'gen-b', 'GEN-A', 'no-such-host'].map(name => [name]),
  hasCollection: f => [...new Set([...f.collectionsOf.values()].flat()), 'Kvm', 'no_such_collection'].map(name => [name]),
  trend: f => f.seriesIds.flatMap(id => filtersOf(f).map(filters => [id, filters])),
  trendOfCollection: f => f.seriesIds.flatMap(id => [...f.collectionsOf.get(id)!, 'no_such_collection'].flatMap(collection =>
    filtersOf(f).slice(0, 5).map(filters => [id, collection, filters]))),
  versionMachines: f => f.versionIds.flatMap(id => [[id], [id, null], [id, 'x86_64'], [id, 'aarch64']]),
  versionMachineCells: f => [
    [f.versionIds, null, null], [[...f.versionIds].reverse(), null, null], [f.versionIds, f.machineIds[0]!, null],
    [f.versionIds, null, 'aarch64'], [[f.versionIds[3]!, f.versionIds[1]!, f.versionIds[3]!], null, null], [[], null, null],
  ],
  recentVersionCounts: f => f.seriesIds.flatMap(id => [[id, 1], [id, 3], [id, 100], [id, -1], [id, 0]]),
  collections: f => [...f.seriesIds, MISSING].map(id => [id]),
  collectionCases: f => f.seriesIds.flatMap(id => [...f.collectionsOf.get(id)!, 'no_such_collection'].map(collection => [id, collection])),
  machineSeries: f => [[f.machineIds], [[...f.machineIds].reverse()], [[f.machineIds[2]!]], [[]], [[MISSING]]],
  outcomeSets: f => f.versionIds.flatMap(id => [[id, f.machinesOf.get(id)!], [id, []], [id, f.machineIds]]),
  caseNames: f => [[f.caseIds], [[...f.caseIds].reverse()], [[]], [[MISSING, f.caseIds[0]!]]],
  cellSummaries: f => f.versionIds.flatMap(id => [[id, cellsOf(f, id, 8)], [id, cellsOf(f, id, 8).reverse()]])
    .concat([[f.versionIds[0]!, []], [f.versionIds[0]!, [{ machineId: MISSING, caseId: f.caseIds[0]! }, ...cellsOf(f, f.versionIds[0]!, 2), { machineId: f.machineIds[0]!, caseId: MISSING }]]]),
  cellResults: f => f.versionIds.map(id => [id, cellsOf(f, id, f.caseIds.length)])
    .concat([[f.versionIds[0]!, []], [f.versionIds[0]!, cellsOf(f, f.versionIds[0]!, 3).reverse()]]),
  failingCells: f => [...f.versionIds, MISSING].map(id => [id]),
  failureHistory: f => f.seriesIds.flatMap(id => f.caseIds.map(caseId => [id, caseId])),
  issueRefs: f => [[f.issueIds], [[...f.issueIds].reverse()], [[]], [[f.issueIds.at(-1)!, MISSING]]],
  triageCells: f => [...[...f.versionIds, MISSING].map(id => [[id]]), [f.versionIds], [[...f.versionIds].reverse()], [[]]],
  finishedMachines: f => [...f.versionIds, MISSING].map(id => [id]),
  seriesTests: (f) => f.seriesIds.flatMap(id => {
    const tests = f.testsOf.get(id)!
    const collection = f.collectionsOf.get(id)!.at(-1)!
    return [[id, null, null, 1000], [id, null, null, 5], [id, null, tests[4] ?? null, 5], [id, collection, null, 3],
      [id, collection, tests[1] ?? null, 3], [id, null, tests.at(-1)!, 5], [id, null, ['', ''], 2], [id, 'no_such_collection', null, 5]]
  }),
  casesOfTests: f => [[f.caseKeys.map(([collection, test]) => [collection, test])], [f.caseKeys.map(([collection, test]) => [collection, test]).reverse()],
    [[]], [[['no_such', 'test'], f.caseKeys[0]!.slice(0, 2)]]],
  matrixCells: f => f.seriesIds.flatMap(id => {
    const versions = f.versionsOf.get(id)!
    const cells: VersionMachine[] = versions.flatMap(versionId => f.machinesOf.get(versionId)!.slice(0, 1).map(machineId => ({ versionId, machineId, machine: '' })))
    return [
      [f.caseIds, versions, null, null, machineSet], [[...f.caseIds].reverse(), versions, null, null, machineSet],
      [f.caseIds, versions, f.machinesOf.get(versions.at(-1)!)![0] ?? null, null, machineSet],
      [f.caseIds, versions, null, cells, machineSet], [f.caseIds, versions, null, [], machineSet], [[], versions, null, null, machineSet],
    ]
  }),
  outcomeCells: f => f.seriesIds.flatMap(id => [[f.caseIds, f.versionsOf.get(id)!], [[...f.caseIds].reverse(), [...f.versionsOf.get(id)!].reverse()]])
    .concat([[f.caseIds, []], [[], f.versionIds]]),
  findCase: f => [...f.caseKeys.map(key => [...key]), [f.caseKeys[0]![0], f.caseKeys[0]![1], ['no', 'such']], ['no_such', 'test', []]],
  history: (f, sqlite) => f.caseIds.flatMap(caseId => historyFiltersOf(f).flatMap(filters => {
    // page by page as a client does, with the keys SQLite's pages end at
    const calls: unknown[][] = [[caseId, filters, null, 1000]]
    let after: HistoryKey | null = null
    for (let page = 0; page < 4; page++) {
      calls.push([caseId, filters, after, 3])
      const last: HistoryRow | undefined = sqlite.history(caseId, filters, after, 3).at(-1)
      if (last === undefined) break
      after = [last.series.id, last.version.sortKey, last.version.id, last.machine, last.runId, last.seq]
    }
    return calls
  })),
  historyCounts: f => f.caseIds.flatMap(caseId => historyFiltersOf(f).map(filters => [caseId, filters])),
  listMachines: f => [[null, 100], [null, 2], [f.machineNames[1]!, 3], ['gen', 100], ['zzz', 5], ['', 1]],
  versionMachineCounts: f => [...f.seriesIds, MISSING].map(id => [id]),
}

/** An answer as compared: maps and sets as their entries in order, so that order counts there too. */
function comparable (answer: unknown): unknown {
  if (answer instanceof Map) return { map: [...answer] }
  if (answer instanceof Set) return { set: [...answer] }
  return answer
}

/** Whether an answer says something: a test whose every answer is empty would prove little. */
function substantial (answer: unknown): boolean {
  if (answer === null || answer === false) return false
  if (Array.isArray(answer) || ArrayBuffer.isView(answer)) return (answer as { length: number }).length > 0
  if (answer instanceof Map || answer instanceof Set) return answer.size > 0
  return true
}

describePostgres('the PostgreSQL trend store answers as the SQLite one', server => {
  test('CALLS covers every public method of TrendStore, and PostgresTrendStore has each', () => {
    const methods = Object.getOwnPropertyNames(TrendStore.prototype).filter(name => name !== 'constructor').sort()
    assert.deepEqual(Object.keys(CALLS).sort(), methods)
    const twins = Object.getOwnPropertyNames(PostgresTrendStore.prototype).filter(name => !['constructor', 'rows', 'arrays'].includes(name)).sort()
    assert.deepEqual(twins, methods)
  })

  test('every method, with a spread of arguments, gives the same answer from both stores', async (t) => {
    const seeded = await seededStore(t)
    const pool = await openPostgres(await server().createDatabase())
    t.after(() => pool.end())
    await copySqliteToPostgres(seeded.db, pool)
    const sqlite = new TrendStore(seeded.db)
    const postgres = new PostgresTrendStore(pool)
    const facts = factsOf(seeded.db)
    assert.ok(facts.caseIds.length >= 15, 'a spread of cases')

    const checked: Array<{ method: string, calls: number, substantial: number }> = []
    for (const method of Object.keys(CALLS) as Method[]) {
      const calls = CALLS[method](facts, sqlite)
      let answered = 0
      for (const args of calls) {
        const expected = (sqlite[method] as (...args: unknown[]) => unknown).apply(sqlite, args)
        const actual = await (postgres[method] as (...args: unknown[]) => Promise<unknown>).apply(postgres, args)
        assert.deepStrictEqual(comparable(actual), comparable(expected), `${method}(${JSON.stringify(args)})`)
        if (substantial(expected)) answered++
      }
      checked.push({ method, calls: calls.length, substantial: answered })
    }
    const idle = checked.filter(row => row.substantial === 0).map(row => row.method)
    assert.deepEqual(idle, [], 'every method gave some answer with something in it')
    t.diagnostic(`${checked.length} methods, ${checked.reduce((sum, row) => sum + row.calls, 0)} calls, each answered alike`)
  })
})
