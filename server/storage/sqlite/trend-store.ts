import type { Database, Statement } from 'better-sqlite3'
import { STATUSES, type Summary } from '../../../ingest/index.ts'
import { seriesNameKey } from '../../domain/series-identity.ts'
import { decodeOutcomeSet } from '../outcome-cells.ts'
import {
  caseName, countsOf, historyRow, issueRef, machineRow, matrixCell, passRateRow, resultDetail, seriesRowOf, summaryOf, trendRow, triageCell,
  versionMachineRow, type MatrixCellsRow, type Row, type TriageCellRow,
} from '../trend-rows.ts'
import { FAILED_SQL, FAILING_STATUS_LIST_SQL, OUTCOME_CELL_SQL, PASSED_SQL, TROUBLED_RESULT_SQL } from './outcomes.ts'
import type { CaseName, CellResult, CellSummary, CollectionRow, HistoryFilters, HistoryKey, HistoryRow, IssueRef, MachineCase, MachineRef, MachineRow, MachineSeriesRow, MatrixCellRow, OutcomeCell, PassRateRow, SeriesIdentity, SeriesRef, SeriesRow, TrendFilters, TrendRow, TriageCell, VersionCounts, VersionMachine, VersionMachineRow, VersionRow } from '../rows.ts'

/**
 * The read side of the trend API: every statement over the aggregates of
 * migrations/003-trend-aggregates.sql, prepared once. Trend, compare and matrix read case_stats,
 * run_collections and the runs' summary columns; only history and the log links of a page of
 * entries touch results, through an index.
 */

const SUMS = ['total', ...STATUSES].map(column => `coalesce(sum(${column}), 0) AS ${column}`).join(', ')
const runSums = (alias: string) => ['total', ...STATUSES].map(column => `coalesce(sum(${alias}.${column}), 0) AS ${column}`).join(', ')

/** Cells as the statements take them: a JSON list of [machine, case] pairs. */
const cellList = (cells: readonly MachineCase[]): string => JSON.stringify(cells.map(cell => [cell.machineId, cell.caseId]))

export class TrendStore {
  private readonly s: ReturnType<typeof prepare>

  constructor (db: Database) {
    this.s = prepare(db)
  }

  seriesById (id: number): SeriesRef | null {
    return (this.s.seriesById.get(id) as SeriesRef | undefined) ?? null
  }

  /** A series by its exact name, else by any title it was uploaded under, in any case and spacing. */
  seriesByName (name: string): SeriesRef | null {
    return (this.s.seriesByName.get(name) ?? this.s.seriesByNameKey.get(seriesNameKey(name))) as SeriesRef | undefined ?? null
  }

  seriesIdentity (id: number): SeriesIdentity {
    return {
      names: this.s.seriesNames.all(id) as string[],
      changeIds: this.s.seriesChangeIds.all(id) as string[],
    }
  }

  /** The list's row of one series. */
  seriesRow (id: number): SeriesRow | null {
    const [row] = this.listSeries(1, id + 1)
    return row?.id === id ? row : null
  }

  /**
   * Series newest first, those with an id below `beforeId` when given; with `search`, only those
   * one of whose names holds it (in any case and spacing).
   */
  listSeries (limit: number, beforeId: number | null, search: string | null = null): SeriesRow[] {
    const query = search === null ? null : seriesNameKey(search)
    return (this.s.listSeries.all({ before: beforeId ?? Number.MAX_SAFE_INTEGER, limit, search: query === '' ? null : query }) as Row[]).map(seriesRowOf)
  }

  /** A version's runs, machines and tests counted over its runs. */
  versionCounts (versionId: number): VersionCounts {
    return countsOf(this.s.versionCounts.get(versionId) as Row)
  }

  /** A series' versions in version order: `base` first, then by number (see domain/version-label.ts), then by id. */
  versions (seriesId: number): VersionRow[] {
    return this.s.versions.all(seriesId) as VersionRow[]
  }

  /** A machine by its name, or by a name it had before an admin renamed or merged it. */
  machineByName (name: string): MachineRef | null {
    return (this.s.machineByName.get(name) ?? this.s.machineByOldName.get(name)) as MachineRef | undefined ?? null
  }

  hasCollection (collection: string): boolean {
    return this.s.hasCollection.get(collection) !== undefined
  }

  /** Tests per status for each version of a series, from the runs' summary columns. */
  trend (seriesId: number, filters: TrendFilters): TrendRow[] {
    return (this.s.trend.all({ series: seriesId, machine: filters.machineId, arch: filters.arch }) as Row[]).map(trendRow)
  }

  /** The same as trend, for one collection, from run_collections. */
  trendOfCollection (seriesId: number, collection: string, filters: TrendFilters): TrendRow[] {
    return (this.s.trendOfCollection.all({ series: seriesId, collection, machine: filters.machineId, arch: filters.arch }) as Row[]).map(trendRow)
  }

  /** The machines with runs of a version (of this architecture, when given), by name. */
  versionMachines (versionId: number, arch: string | null = null): MachineRef[] {
    return this.s.versionMachines.all({ version: versionId, arch }) as MachineRef[]
  }

  /** Which machine ran which of these versions, narrowed to one machine and to an architecture when given. */
  versionMachineCells (versionIds: number[], machineId: number | null, arch: string | null): VersionMachine[] {
    return this.s.versionMachineCells.all({ versions: JSON.stringify(versionIds), machine: machineId, arch }) as VersionMachine[]
  }

  /** Tests per status over every run of each of the last `limit` versions of a series, in version order. */
  recentVersionCounts (seriesId: number, limit: number): PassRateRow[] {
    return (this.s.recentVersionCounts.all({ series: seriesId, limit }) as Row[]).map(passRateRow)
  }

  /** The collections a series ran, by name, with how many of their tests it ran. */
  collections (seriesId: number): CollectionRow[] {
    return this.s.collections.all(seriesId) as CollectionRow[]
  }

  /** The ids of every test and subtest of a collection that the series ran, ascending: the order of outcome sets. */
  collectionCases (seriesId: number, collection: string): Uint32Array {
    return Uint32Array.from(this.s.collectionCases.all({ series: seriesId, collection }) as number[])
  }

  /** The series and version labels each of these machines ran, by machine, newest series first, in version order. */
  machineSeries (machineIds: number[]): MachineSeriesRow[] {
    return this.s.machineSeries.all(JSON.stringify(machineIds)) as MachineSeriesRow[]
  }

  /**
   * The outcome set of each machine that ran a version (see outcomes.ts): as stored by the last
   * upload, or built from case_stats when a deleted or moved run dropped one.
   */
  outcomeSets (versionId: number, machineIds: number[]): Map<number, Uint32Array> {
    let rows = this.s.outcomeSets.all(versionId) as Array<[number, Buffer]>
    if (machineIds.some(id => !rows.some(([machineId]) => machineId === id))) rows = this.s.buildOutcomeSets.all(versionId) as Array<[number, Buffer]>
    return new Map(rows.map(([machineId, cells]) => [machineId, decodeOutcomeSet(cells)]))
  }

  caseNames (caseIds: number[]): CaseName[] {
    return (this.s.caseNames.all(JSON.stringify(caseIds)) as Row[]).map(caseName)
  }

  /** Each cell's results in one version counted per status. */
  cellSummaries (versionId: number, cells: readonly MachineCase[]): CellSummary[] {
    return (this.s.cellSummaries.all({ version: versionId, cells: cellList(cells) }) as Row[])
      .map(row => ({ machineId: row.machine_id as number, caseId: row.case_id as number, summary: summaryOf(row) }))
  }

  /** Each result of the cells in one version: where it is in its run's log, and what it says. */
  cellResults (versionId: number, cells: readonly MachineCase[]): CellResult[] {
    return (this.s.cellResults.all({ version: versionId, cells: cellList(cells) }) as Row[])
      .map(row => ({ machineId: row.machine_id as number, caseId: row.case_id as number, result: resultDetail(row) }))
  }

  /** The cells of a version with a failing result, in case order: where untriaged failures are looked for. */
  failingCells (versionId: number): Array<{ caseId: number, machineId: number, machine: string }> {
    return this.s.failingCells.all(versionId) as Array<{ caseId: number, machineId: number, machine: string }>
  }

  /** The first version of the series (and a machine) where a case failed, and in how many versions it failed. */
  failureHistory (seriesId: number, caseId: number): { version: string, machine: string, versions: number } | null {
    return (this.s.failureHistory.get({ series: seriesId, case: caseId }) as { version: string, machine: string, versions: number } | undefined) ?? null
  }

  /** Known issues by id (storage/issue-store.ts), for the entries that name them. */
  issueRefs (ids: readonly number[]): IssueRef[] {
    if (ids.length === 0) return []
    return (this.s.issueRefs.all(JSON.stringify(ids)) as Row[]).map(issueRef)
  }

  /**
   * What triage needs of versions (queries/verdict.ts CellTriage), for the cells where it can say
   * something: those with a result an active known issue matched, and those with an infrastructure
   * failure. Read from the matches and case_stats, never from every failing result; one statement
   * for all the versions of a matrix.
   */
  triageCells (versionIds: readonly number[]): TriageCell[] {
    return (this.s.triageCells.all({ versions: JSON.stringify(versionIds) }) as TriageCellRow[]).map(triageCell)
  }

  /** The machines with a run of this version that finished (ingest/completeness.ts). */
  finishedMachines (versionId: number): Set<number> {
    return new Set(this.s.finishedMachines.all(versionId) as number[])
  }

  /** A page of the tests (not subtests) a series ran, by collection and name, after `after` when given. */
  seriesTests (seriesId: number, collection: string | null, after: [string, string] | null, limit: number): Array<[string, string]> {
    const statement = after === null ? this.s.seriesTestsFirst : this.s.seriesTestsAfter
    return statement.all({ series: seriesId, collection, afterCollection: after?.[0] ?? null, afterTest: after?.[1] ?? null, limit }) as Array<[string, string]>
  }

  /** The tests and all their subtests (of any series). */
  casesOfTests (tests: Array<[string, string]>): CaseName[] {
    return (this.s.casesOfTests.all(JSON.stringify(tests)) as Row[]).map(caseName)
  }

  /**
   * The cells of a page's cases: each case's results per version, summed over machines (or on one
   * machine, or over the given version and machine pairs). One statement for the page: each case and
   * version is a range of the covering index case_stats_by_case. `machineSet` numbers the
   * comma-separated list of the cell's machine ids.
   */
  matrixCells (caseIds: number[], versionIds: number[], machineId: number | null, cells: VersionMachine[] | null,
    machineSet: (ids: string) => number): MatrixCellRow[] {
    const rows = this.s.matrixCells.all({
      cases: JSON.stringify(caseIds),
      versions: JSON.stringify(versionIds),
      machine: machineId,
      cells: cells === null ? null : JSON.stringify(cells.map(cell => [cell.versionId, cell.machineId])),
    }) as MatrixCellsRow[]
    return rows.map(row => matrixCell(row, machineSet))
  }

  /** Passed, failed and skipped results of these cases per machine and version. */
  outcomeCells (caseIds: number[], versionIds: number[]): OutcomeCell[] {
    return this.s.outcomeCells.all({ cases: JSON.stringify(caseIds), versions: JSON.stringify(versionIds) }) as OutcomeCell[]
  }

  findCase (collection: string, test: string, path: string[]): number | null {
    const row = this.s.findCase.get(collection, test, JSON.stringify(path)) as { id: number } | undefined
    return row?.id ?? null
  }

  /** One case's results in history order (series, version order, machine, run), after `after`. */
  history (caseId: number, filters: HistoryFilters, after: HistoryKey | null, limit: number): HistoryRow[] {
    const [afterSeries, afterSortKey, afterVersion, afterMachine, afterRun, afterSeq] = after ?? []
    const rows = this.s.history.all({
      case: caseId, series: filters.seriesId, machine: filters.machineId, first: after === null ? 1 : 0,
      afterSeries: afterSeries ?? null,
      afterSortKey: afterSortKey ?? null,
      afterVersion: afterVersion ?? null,
      afterMachine: afterMachine ?? null,
      afterRun: afterRun ?? null,
      afterSeq: afterSeq ?? null,
      limit,
    }) as Row[]
    return rows.map(historyRow)
  }

  /** Every result of a case, counted from case_stats. */
  historyCounts (caseId: number, filters: HistoryFilters): Summary {
    return summaryOf(this.s.historyCounts.get({ case: caseId, series: filters.seriesId, machine: filters.machineId }) as Row)
  }

  /** Machines by name, after `afterName` when given. */
  listMachines (afterName: string | null, limit: number): MachineRow[] {
    return (this.s.listMachines.all({ after: afterName, limit }) as Row[]).map(machineRow)
  }

  /** Runs and tests counted per version and machine of a series, in version order then machine name. */
  versionMachineCounts (seriesId: number): VersionMachineRow[] {
    return (this.s.versionMachineCounts.all(seriesId) as Row[]).map(versionMachineRow)
  }
}

function prepare (db: Database) {
  const statement = (sql: string): Statement => db.prepare(sql)
  // the run's own arch, else what its machine said last
  const archMatches = "(@arch IS NULL OR coalesce(r.arch, (SELECT m.arch FROM machines m WHERE m.id = r.machine_id)) = @arch)"
  return {
    seriesById: statement('SELECT id, name FROM series WHERE id = ?'),
    seriesByName: statement('SELECT id, name FROM series WHERE name = ?'),
    seriesByNameKey: statement('SELECT s.id, s.name FROM series_names n JOIN series s ON s.id = n.series_id WHERE n.name_key = ?'),
    seriesNames: statement('SELECT name FROM series_names WHERE series_id = ? ORDER BY created_at, name').pluck(),
    seriesChangeIds: statement('SELECT change_id FROM series_change_ids WHERE series_id = ? ORDER BY created_at, change_id').pluck(),
    listSeries: statement(`
      SELECT s.id, s.name, s.created_at,
        (SELECT count(*) FROM versions v WHERE v.series_id = s.id) AS versions,
        (SELECT count(*) FROM versions v JOIN runs r ON r.version_id = v.id WHERE v.series_id = s.id) AS runs,
        (SELECT count(DISTINCT r.machine_id) FROM versions v JOIN runs r ON r.version_id = v.id WHERE v.series_id = s.id) AS machines,
        (SELECT v.id FROM versions v WHERE v.series_id = s.id ORDER BY v.sort_key DESC, v.id DESC LIMIT 1) AS latest_version_id
      FROM series s WHERE s.id < @before
        AND (@search IS NULL OR instr(lower(s.name), @search) > 0
          OR EXISTS (SELECT 1 FROM series_names n WHERE n.series_id = s.id AND instr(n.name_key, @search) > 0))
      ORDER BY s.id DESC LIMIT @limit`),
    versionCounts: statement(`
      SELECT count(*) AS runs, count(DISTINCT machine_id) AS machines, ${SUMS},
        coalesce(sum(not_run), 0) AS not_run, coalesce(sum(1 - complete), 0) AS incomplete_runs FROM runs WHERE version_id = ?`),
    versions: statement(`
      SELECT id, label, message_id AS messageId FROM versions WHERE series_id = ? ORDER BY sort_key, id`),
    machineByName: statement('SELECT id, name FROM machines WHERE name = ?'),
    machineByOldName: statement('SELECT m.id, m.name FROM machine_names o JOIN machines m ON m.id = o.machine_id WHERE o.name = ?'),
    hasCollection: statement('SELECT 1 FROM cases WHERE collection = ? LIMIT 1'),
    trend: statement(`
      SELECT v.id AS version_id, count(r.id) AS runs, count(DISTINCT r.machine_id) AS machines, ${runSums('r')},
        coalesce(sum(r.not_run), 0) AS not_run, count(DISTINCT CASE WHEN r.complete = 0 THEN r.id END) AS incomplete_runs
      FROM versions v
      LEFT JOIN runs r ON r.version_id = v.id AND (@machine IS NULL OR r.machine_id = @machine) AND ${archMatches}
      WHERE v.series_id = @series
      GROUP BY v.id ORDER BY v.sort_key, v.id`),
    trendOfCollection: statement(`
      SELECT v.id AS version_id, count(rc.run_id) AS runs,
        count(DISTINCT CASE WHEN rc.run_id IS NOT NULL THEN r.machine_id END) AS machines, ${runSums('rc')},
        coalesce(sum(rc.not_run), 0) AS not_run, count(DISTINCT CASE WHEN rc.complete = 0 THEN rc.run_id END) AS incomplete_runs
      FROM versions v
      LEFT JOIN runs r ON r.version_id = v.id AND (@machine IS NULL OR r.machine_id = @machine) AND ${archMatches}
      LEFT JOIN run_collections rc ON rc.run_id = r.id AND rc.collection = @collection
      WHERE v.series_id = @series
      GROUP BY v.id ORDER BY v.sort_key, v.id`),
    versionMachines: statement(`
      SELECT DISTINCT m.id, m.name FROM runs r JOIN machines m ON m.id = r.machine_id
      WHERE r.version_id = @version AND ${archMatches} ORDER BY m.name`),
    versionMachineCells: statement(`
      SELECT DISTINCT r.version_id AS versionId, r.machine_id AS machineId, m.name AS machine
      FROM json_each(@versions) v CROSS JOIN runs r ON r.version_id = v.value JOIN machines m ON m.id = r.machine_id
      WHERE (@machine IS NULL OR r.machine_id = @machine) AND ${archMatches}`),
    recentVersionCounts: statement(`
      SELECT v.id AS version_id, v.label, ${runSums('r')}, coalesce(sum(r.not_run), 0) AS not_run, count(DISTINCT CASE WHEN r.complete = 0 THEN r.id END) AS incomplete_runs
      FROM (SELECT id, label, sort_key FROM versions WHERE series_id = @series ORDER BY sort_key DESC, id DESC LIMIT @limit) v
      LEFT JOIN runs r ON r.version_id = v.id
      GROUP BY v.id ORDER BY v.sort_key, v.id`),
    collections: statement(`
      SELECT collection AS name, count(*) AS tests FROM series_tests WHERE series_id = ? GROUP BY collection ORDER BY collection`),
    // a series' tests, then every case of each (its subtests too), ids only: the cases index covers them
    collectionCases: statement(`
      SELECT c.id FROM series_tests st JOIN cases c ON c.collection = st.collection AND c.test = st.test
      WHERE st.series_id = @series AND st.collection = @collection ORDER BY c.id`).pluck(),
    machineSeries: statement(`
      SELECT r.machine_id AS machineId, v.series_id AS seriesId, s.name AS seriesName, v.label
      FROM json_each(?) j CROSS JOIN runs r ON r.machine_id = j.value
      JOIN versions v ON v.id = r.version_id JOIN series s ON s.id = v.series_id
      GROUP BY r.machine_id, v.id
      ORDER BY r.machine_id, v.series_id DESC, v.sort_key, v.id`),
    outcomeSets: statement('SELECT machine_id, cells FROM outcome_sets WHERE version_id = ?').raw(),
    buildOutcomeSets: statement(`
      SELECT machine_id, unhex(group_concat(${OUTCOME_CELL_SQL}, '' ORDER BY case_id))
      FROM case_stats WHERE version_id = ? GROUP BY machine_id`).raw(),
    caseNames: statement(`
      SELECT c.id, c.collection, c.test, c.path FROM json_each(?) j JOIN cases c ON c.id = j.value`),
    // one statement for a page of cells (a compare page has 100 on each side), not one per cell
    cellSummaries: statement(`
      SELECT s.machine_id, s.case_id, s.total, ${STATUSES.map(status => `s.${status}`).join(', ')}
      FROM json_each(@cells) j CROSS JOIN case_stats s ON s.version_id = @version AND s.machine_id = j.value ->> 0 AND s.case_id = j.value ->> 1
      ORDER BY j.key`),
    // the runs of the version outside, then (case, run) in the index: a case has a result in nearly every run of the store
    finishedMachines: statement('SELECT DISTINCT machine_id FROM runs WHERE version_id = ? AND complete = 1').pluck(),
    // from results_by_case alone, as history, and the reason from the table for the results that have one
    cellResults: statement(`
      SELECT ru.machine_id, r.case_id, ru.id AS run_id, m.name AS machine, r.status, r.line_from, r.line_to,
        CASE WHEN EXISTS (SELECT 1 FROM results x INDEXED BY results_with_reason
                          WHERE x.case_id = r.case_id AND x.run_id = r.run_id AND x.seq = r.seq AND x.reason IS NOT NULL)
          THEN (SELECT x.reason FROM results x WHERE x.run_id = r.run_id AND x.seq = r.seq) END AS reason,
        r.exit_code, r.timeout_seconds, r.flags, ru.complete,
        (SELECT group_concat(k.issue_id) FROM known_issue_matches k JOIN known_issues i ON i.id = k.issue_id AND i.resolved_at IS NULL
         WHERE k.run_id = r.run_id AND k.seq = r.seq) AS issues
      FROM json_each(@cells) j CROSS JOIN runs ru ON ru.version_id = @version AND ru.machine_id = j.value ->> 0
      CROSS JOIN results r INDEXED BY results_by_case ON r.case_id = j.value ->> 1 AND r.run_id = ru.id JOIN machines m ON m.id = ru.machine_id
      ORDER BY j.key, m.name, ru.id, r.seq`),
    failingCells: statement(`
      SELECT cs.case_id AS caseId, cs.machine_id AS machineId, m.name AS machine FROM case_stats cs JOIN machines m ON m.id = cs.machine_id
      WHERE cs.version_id = ? AND ${FAILED_SQL.split(' + ').map(column => `cs.${column}`).join(' + ')} > 0 ORDER BY cs.case_id, m.name`),
    failureHistory: statement(`
      SELECT (SELECT v2.label FROM versions v2 WHERE v2.id = first.version_id) AS version,
        (SELECT m.name FROM machines m WHERE m.id = first.machine_id) AS machine, count.n AS versions
      FROM (SELECT cs.version_id, cs.machine_id FROM case_stats cs JOIN versions v ON v.id = cs.version_id
            WHERE cs.case_id = @case AND v.series_id = @series AND ${FAILED_SQL.split(' + ').map(column => `cs.${column}`).join(' + ')} > 0
            ORDER BY v.sort_key, v.id, cs.machine_id LIMIT 1) first,
        (SELECT count(DISTINCT cs.version_id) AS n FROM case_stats cs JOIN versions v ON v.id = cs.version_id
            WHERE cs.case_id = @case AND v.series_id = @series AND ${FAILED_SQL.split(' + ').map(column => `cs.${column}`).join(' + ')} > 0) count`),
    issueRefs: statement('SELECT id, title, url, culprit, intermittent, resolved_at FROM known_issues WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id'),
    triageCells: statement(`
      WITH matched AS (
        SELECT k.run_id, k.seq, max(i.kernel_trouble) AS explains_trouble
        FROM json_each(@versions) j CROSS JOIN runs ru ON ru.version_id = j.value JOIN known_issue_matches k ON k.run_id = ru.id
        JOIN known_issues i ON i.id = k.issue_id AND i.resolved_at IS NULL
        GROUP BY k.run_id, k.seq),
      -- a result's kernel trouble is explained only by an issue that claims it (IssueMatcher.kernelTrouble)
      known AS (
        SELECT ru.version_id, ru.machine_id, r.case_id, count(*) AS known,
          sum(r.status IN (${FAILING_STATUS_LIST_SQL})) AS known_failing, sum(m.explains_trouble AND r.flags <> '' AND ${TROUBLED_RESULT_SQL}) AS known_troubled
        FROM matched m JOIN results r ON r.run_id = m.run_id AND r.seq = m.seq JOIN runs ru ON ru.id = m.run_id
        GROUP BY ru.version_id, ru.machine_id, r.case_id),
      cells AS (
        SELECT version_id, machine_id, case_id FROM known
        UNION SELECT s.version_id, s.machine_id, s.case_id
        FROM json_each(@versions) j CROSS JOIN case_stats s INDEXED BY case_stats_infrastructure ON s.version_id = j.value WHERE s.infrastructure > 0)
      SELECT c.version_id, c.machine_id, c.case_id, ${FAILED_SQL.split(' + ').map(column => `cs.${column}`).join(' + ')}, cs.trouble, cs.infrastructure,
        coalesce(k.known, 0), coalesce(k.known_failing, 0), coalesce(k.known_troubled, 0)
      FROM cells c CROSS JOIN case_stats cs ON cs.version_id = c.version_id AND cs.machine_id = c.machine_id AND cs.case_id = c.case_id
      LEFT JOIN known k ON k.version_id = c.version_id AND k.machine_id = c.machine_id AND k.case_id = c.case_id
      ORDER BY c.version_id, c.machine_id, c.case_id`).raw(),
    seriesTestsFirst: statement(`
      SELECT collection, test FROM series_tests
      WHERE series_id = @series AND (@collection IS NULL OR collection = @collection)
      ORDER BY collection, test LIMIT @limit`).raw(),
    seriesTestsAfter: statement(`
      SELECT collection, test FROM series_tests
      WHERE series_id = @series AND (@collection IS NULL OR collection = @collection) AND (collection, test) > (@afterCollection, @afterTest)
      ORDER BY collection, test LIMIT @limit`).raw(),
    casesOfTests: statement(`
      SELECT c.id, c.collection, c.test, c.path FROM json_each(?) j
      JOIN cases c ON c.collection = j.value ->> 0 AND c.test = j.value ->> 1`),
    // case_id IN (...) walks case_stats_by_case in its own order, so that the groups come out
    // already sorted (a join from the json list sorted them in a temporary b-tree: 45% slower), and
    // total() adds without sum()'s overflow checks (a quarter of the statement's time on a page of
    // 20 000 cells; a double is exact far beyond any count of results)
    matrixCells: statement(`
      SELECT case_id, version_id, count(*), group_concat(machine_id), total(trouble),
        total(${FAILED_SQL} > 0 AND ${PASSED_SQL} = 0), total(${PASSED_SQL} > 0 AND ${FAILED_SQL} = 0), total(${PASSED_SQL} > 0 AND ${FAILED_SQL} > 0),
        ${['total', ...STATUSES].map(column => `total(${column})`).join(', ')}
      FROM case_stats
      WHERE case_id IN (SELECT value FROM json_each(@cases)) AND version_id IN (SELECT value FROM json_each(@versions))
        AND (@machine IS NULL OR machine_id = @machine)
        AND (@cells IS NULL OR (version_id, machine_id) IN (SELECT value ->> 0, value ->> 1 FROM json_each(@cells)))
      GROUP BY case_id, version_id`).raw(),
    outcomeCells: statement(`
      SELECT s.case_id AS caseId, s.machine_id AS machineId, s.version_id AS versionId, s.total,
        ${PASSED_SQL} AS passed, ${FAILED_SQL} AS failed, s.skip
      FROM json_each(@cases) c CROSS JOIN case_stats s ON s.case_id = c.value
      WHERE s.version_id IN (SELECT value FROM json_each(@versions))`),
    findCase: statement('SELECT id FROM cases WHERE collection = ? AND test = ? AND path = ?'),
    // the page and its entries come from results_by_case alone, which carries every column of an
    // entry but the reason (migration 008): a case of a 10M-result store has a result in each of
    // ~1 000 runs, each on a page of the table of its own, and reading them was most of a history
    // request. The reason is read from the table only for the results results_with_reason lists.
    history: statement(`
      WITH page AS (
        SELECT r.run_id, r.seq, r.status, r.flags, r.exit_code, r.timeout_seconds, r.line_from, r.line_to,
          v.series_id, v.sort_key, v.id AS version_id, m.name AS machine
        FROM results r INDEXED BY results_by_case JOIN runs ru ON ru.id = r.run_id JOIN versions v ON v.id = ru.version_id
        JOIN machines m ON m.id = ru.machine_id
        WHERE r.case_id = @case AND (@series IS NULL OR v.series_id = @series) AND (@machine IS NULL OR ru.machine_id = @machine)
          AND (@first OR (v.series_id, v.sort_key, v.id, m.name, ru.id, r.seq) > (@afterSeries, @afterSortKey, @afterVersion, @afterMachine, @afterRun, @afterSeq))
        ORDER BY v.series_id, v.sort_key, v.id, m.name, ru.id, r.seq
        LIMIT @limit)
      SELECT s.id AS series_id, s.name AS series_name, v.id AS version_id, v.label, v.message_id, v.sort_key,
        p.machine, ru.id AS run_id, ru.kernel, p.seq, p.status,
        CASE WHEN EXISTS (SELECT 1 FROM results x INDEXED BY results_with_reason
                          WHERE x.case_id = @case AND x.run_id = p.run_id AND x.seq = p.seq AND x.reason IS NOT NULL)
          THEN (SELECT x.reason FROM results x WHERE x.run_id = p.run_id AND x.seq = p.seq) END AS reason,
        p.flags, p.exit_code, p.timeout_seconds, p.line_from, p.line_to,
        (SELECT group_concat(k.issue_id) FROM known_issue_matches k JOIN known_issues i ON i.id = k.issue_id AND i.resolved_at IS NULL
         WHERE k.run_id = p.run_id AND k.seq = p.seq) AS issues
      FROM page p JOIN runs ru ON ru.id = p.run_id
      JOIN versions v ON v.id = p.version_id JOIN series s ON s.id = p.series_id
      ORDER BY p.series_id, p.sort_key, p.version_id, p.machine, p.run_id, p.seq`),
    historyCounts: statement(`
      SELECT ${SUMS} FROM case_stats s JOIN versions v ON v.id = s.version_id
      WHERE s.case_id = @case AND (@series IS NULL OR v.series_id = @series) AND (@machine IS NULL OR s.machine_id = @machine)`),
    listMachines: statement(`
      SELECT m.id, m.name, m.arch, m.cpu, m.flags, m.kernel, m.created_at, m.updated_at,
        (SELECT count(*) FROM runs r WHERE r.machine_id = m.id) AS runs
      FROM machines m WHERE m.name > coalesce(@after, '') ORDER BY m.name LIMIT @limit`),
    versionMachineCounts: statement(`
      SELECT v.id AS version_id, m.name AS machine, count(*) AS runs, count(DISTINCT m.id) AS machines, ${runSums('r')},
        coalesce(sum(r.not_run), 0) AS not_run, count(DISTINCT CASE WHEN r.complete = 0 THEN r.id END) AS incomplete_runs
      FROM versions v JOIN runs r ON r.version_id = v.id JOIN machines m ON m.id = r.machine_id
      WHERE v.series_id = ?
      GROUP BY v.id, m.id ORDER BY v.sort_key, v.id, m.name`),
  }
}
