import type pg from 'pg'
import { FAILING_STATUSES, STATUSES, type Summary } from '../../../ingest/index.ts'
import { seriesNameKey } from '../../domain/series-identity.ts'
import { decodeOutcomeSet } from '../outcome-cells.ts'
import { FAILED_SQL, PASSED_SQL } from '../outcome-sql.ts'
import type {
  CaseName, CellResult, CellSummary, CollectionRow, HistoryFilters, HistoryKey, HistoryRow, IssueRef, MachineCase, MachineRef, MachineRow, MachineSeriesRow, MatrixCellRow, OutcomeCell, PassRateRow, SeriesIdentity, SeriesRef, SeriesRow, TrendFilters, TrendRow, TriageCell, VersionCounts, VersionMachine, VersionMachineRow, VersionRow,
} from '../rows.ts'
import {
  caseName, countsOf, historyRow, issueRef, machineRow, matrixCell, passRateRow, resultDetail, seriesRowOf, summaryOf, trendRow, triageCell, versionMachineRow,
  type MatrixCellsRow, type Row, type TriageCellRow,
} from '../trend-rows.ts'
import { OUTCOME_CELL_SQL, TROUBLED_RESULT_SQL } from './outcomes.ts'

/**
 * storage/trend-store.ts's TrendStore on PostgreSQL: the same methods, each answering (in a
 * Promise) what the SQLite one answers, row for row and in the same order, over the same
 * aggregates (migrations/postgres/001-schema.sql). The dialect's differences, once each:
 * - a list parameter is an array (`= ANY($1::bigint[])`, `unnest(...) WITH ORDINALITY` where SQLite
 *   walked json_each in the list's order), never a JSON text;
 * - every parameter is cast where it is used, since `$1 IS NULL` alone says nothing of its type;
 * - camelCase names are quoted (PostgreSQL folds unquoted ones to lower case);
 * - where SQLite's order came from the index it read (it has no ORDER BY), an ORDER BY says it here;
 * - `sum()` of a comparison is `count(*) FILTER (WHERE ...)`, group_concat is string_agg (in the
 *   order SQLite concatenated), an outcome cell is int8send's bytes (./outcomes.ts);
 * - a negative LIMIT is no limit in SQLite and an error here: it is passed as NULL.
 * The pool must read bigint and timestamptz as connect.ts's openPostgres makes it do.
 */

const COUNTS = ['total', ...STATUSES]
const SUMS = COUNTS.map(column => `coalesce(sum(${column}), 0)::bigint AS ${column}`).join(', ')
const runSums = (alias: string) => COUNTS.map(column => `coalesce(sum(${alias}.${column}), 0)::bigint AS ${column}`).join(', ')
/** Cells as the statements take them: their machines and their cases, two arrays that unnest pairs. */
const cellColumns = (cells: readonly MachineCase[]): [number[], number[]] => [cells.map(cell => cell.machineId), cells.map(cell => cell.caseId)]
const qualified = (alias: string, sum: string) => sum.split(' + ').map(column => `${alias}.${column}`).join(' + ')
const FAILING_STATUS_LIST_SQL = FAILING_STATUSES.map(status => `'${status}'`).join(', ')

/** SQLite's LIMIT takes -1 for none; PostgreSQL's takes NULL. */
function limitOf (limit: number): number | null {
  return limit < 0 ? null : limit
}

export class PostgresTrendStore {
  constructor (private readonly pool: pg.Pool) {}

  /** Runs a statement of STATEMENTS, prepared on each connection the first time it runs there. */
  private async rows<T = Row> (name: keyof typeof STATEMENTS, values: unknown[]): Promise<T[]> {
    return (await this.pool.query({ name: `trend.${name}`, text: STATEMENTS[name], values })).rows as T[]
  }

  /** The same, each row an array of its columns. */
  private async arrays<T extends unknown[]> (name: keyof typeof STATEMENTS, values: unknown[]): Promise<T[]> {
    return (await this.pool.query({ name: `trend.${name}`, text: STATEMENTS[name], values, rowMode: 'array' })).rows as T[]
  }

  async seriesById (id: number): Promise<SeriesRef | null> {
    return (await this.rows<SeriesRef>('seriesById', [id]))[0] ?? null
  }

  /** A series by its exact name, else by any title it was uploaded under, in any case and spacing. */
  async seriesByName (name: string): Promise<SeriesRef | null> {
    return (await this.rows<SeriesRef>('seriesByName', [name]))[0] ?? (await this.rows<SeriesRef>('seriesByNameKey', [seriesNameKey(name)]))[0] ?? null
  }

  async seriesIdentity (id: number): Promise<SeriesIdentity> {
    const [names, changeIds] = await Promise.all([this.arrays<[string]>('seriesNames', [id]), this.arrays<[string]>('seriesChangeIds', [id])])
    return { names: names.map(([name]) => name), changeIds: changeIds.map(([changeId]) => changeId) }
  }

  /** The list's row of one series. */
  async seriesRow (id: number): Promise<SeriesRow | null> {
    const [row] = await this.listSeries(1, id + 1)
    return row?.id === id ? row : null
  }

  /**
   * Series newest first, those with an id below `beforeId` when given; with `search`, only those
   * one of whose names holds it (in any case and spacing).
   */
  async listSeries (limit: number, beforeId: number | null, search: string | null = null): Promise<SeriesRow[]> {
    const query = search === null ? null : seriesNameKey(search)
    return (await this.rows('listSeries', [beforeId ?? Number.MAX_SAFE_INTEGER, limitOf(limit), query === '' ? null : query])).map(seriesRowOf)
  }

  /** A version's runs, machines and tests counted over its runs. */
  async versionCounts (versionId: number): Promise<VersionCounts> {
    return countsOf((await this.rows('versionCounts', [versionId]))[0]!)
  }

  /** A series' versions in version order: `base` first, then by number (see domain/version-label.ts), then by id. */
  async versions (seriesId: number): Promise<VersionRow[]> {
    return this.rows<VersionRow>('versions', [seriesId])
  }

  /** A machine by its name, or by a name it had before an admin renamed or merged it. */
  async machineByName (name: string): Promise<MachineRef | null> {
    return (await this.rows<MachineRef>('machineByName', [name]))[0] ?? (await this.rows<MachineRef>('machineByOldName', [name]))[0] ?? null
  }

  async hasCollection (collection: string): Promise<boolean> {
    return (await this.rows('hasCollection', [collection])).length > 0
  }

  /** Tests per status for each version of a series, from the runs' summary columns. */
  async trend (seriesId: number, filters: TrendFilters): Promise<TrendRow[]> {
    return (await this.rows('trend', [seriesId, filters.machineId, filters.arch])).map(trendRow)
  }

  /** The same as trend, for one collection, from run_collections. */
  async trendOfCollection (seriesId: number, collection: string, filters: TrendFilters): Promise<TrendRow[]> {
    return (await this.rows('trendOfCollection', [seriesId, filters.machineId, filters.arch, collection])).map(trendRow)
  }

  /** The machines with runs of a version (of this architecture, when given), by name. */
  async versionMachines (versionId: number, arch: string | null = null): Promise<MachineRef[]> {
    return this.rows<MachineRef>('versionMachines', [versionId, arch])
  }

  /** Which machine ran which of these versions, narrowed to one machine and to an architecture when given. */
  async versionMachineCells (versionIds: number[], machineId: number | null, arch: string | null): Promise<VersionMachine[]> {
    return this.rows<VersionMachine>('versionMachineCells', [versionIds, machineId, arch])
  }

  /** Tests per status over every run of each of the last `limit` versions of a series, in version order. */
  async recentVersionCounts (seriesId: number, limit: number): Promise<PassRateRow[]> {
    return (await this.rows('recentVersionCounts', [seriesId, limitOf(limit)])).map(passRateRow)
  }

  /** The collections a series ran, by name, with how many of their tests it ran. */
  async collections (seriesId: number): Promise<CollectionRow[]> {
    return this.rows<CollectionRow>('collections', [seriesId])
  }

  /** The ids of every test and subtest of a collection that the series ran, ascending: the order of outcome sets. */
  async collectionCases (seriesId: number, collection: string): Promise<Uint32Array> {
    return Uint32Array.from((await this.arrays<[number]>('collectionCases', [seriesId, collection])).map(([id]) => id))
  }

  /** The series and version labels each of these machines ran, by machine, newest series first, in version order. */
  async machineSeries (machineIds: number[]): Promise<MachineSeriesRow[]> {
    return this.rows<MachineSeriesRow>('machineSeries', [machineIds])
  }

  /**
   * The outcome set of each machine that ran a version (see ../outcomes.ts): as stored by the last
   * upload, or built from case_stats when a deleted or moved run dropped one.
   */
  async outcomeSets (versionId: number, machineIds: number[]): Promise<Map<number, Uint32Array>> {
    let rows = await this.arrays<[number, Buffer]>('outcomeSets', [versionId])
    if (machineIds.some(id => !rows.some(([machineId]) => machineId === id))) rows = await this.arrays<[number, Buffer]>('buildOutcomeSets', [versionId])
    return new Map(rows.map(([machineId, cells]) => [machineId, decodeOutcomeSet(cells)]))
  }

  /** In the order of `caseIds`, as SQLite's: put in order here, not by the statement (see caseNames there). */
  async caseNames (caseIds: number[]): Promise<CaseName[]> {
    const named = new Map((await this.rows('caseNames', [caseIds])).map(row => [row.id as number, caseName(row)]))
    return caseIds.flatMap(id => named.get(id) ?? [])
  }

  /** Each cell's results in one version counted per status. */
  async cellSummaries (versionId: number, cells: readonly MachineCase[]): Promise<CellSummary[]> {
    return (await this.rows('cellSummaries', [versionId, ...cellColumns(cells)]))
      .map(row => ({ machineId: row.machine_id as number, caseId: row.case_id as number, summary: summaryOf(row) }))
  }

  /** Each result of the cells in one version: where it is in its run's log, and what it says. */
  async cellResults (versionId: number, cells: readonly MachineCase[]): Promise<CellResult[]> {
    return (await this.rows('cellResults', [versionId, ...cellColumns(cells)]))
      .map(row => ({ machineId: row.machine_id as number, caseId: row.case_id as number, result: resultDetail(row) }))
  }

  /** The cells of a version with a failing result, in case order: where untriaged failures are looked for. */
  async failingCells (versionId: number): Promise<Array<{ caseId: number, machineId: number, machine: string }>> {
    return this.rows('failingCells', [versionId])
  }

  /** The first version of the series (and a machine) where a case failed, and in how many versions it failed. */
  async failureHistory (seriesId: number, caseId: number): Promise<{ version: string, machine: string, versions: number } | null> {
    return (await this.rows<{ version: string, machine: string, versions: number }>('failureHistory', [seriesId, caseId]))[0] ?? null
  }

  /** Known issues by id (storage/issue-store.ts), for the entries that name them. */
  async issueRefs (ids: readonly number[]): Promise<IssueRef[]> {
    if (ids.length === 0) return []
    return (await this.rows('issueRefs', [ids])).map(issueRef)
  }

  /**
   * What triage needs of versions (queries/verdict.ts CellTriage), for the cells where it can say
   * something: those with a result an active known issue matched, and those with an infrastructure
   * failure. Read from the matches and case_stats, never from every failing result; one statement
   * for all the versions of a matrix.
   */
  async triageCells (versionIds: readonly number[]): Promise<TriageCell[]> {
    return (await this.arrays<TriageCellRow>('triageCells', [versionIds])).map(triageCell)
  }

  /** The machines with a run of this version that finished (ingest/completeness.ts). */
  async finishedMachines (versionId: number): Promise<Set<number>> {
    return new Set((await this.arrays<[number]>('finishedMachines', [versionId])).map(([id]) => id))
  }

  /** A page of the tests (not subtests) a series ran, by collection and name, after `after` when given. */
  async seriesTests (seriesId: number, collection: string | null, after: [string, string] | null, limit: number): Promise<Array<[string, string]>> {
    return after === null
      ? this.arrays<[string, string]>('seriesTestsFirst', [seriesId, collection, limitOf(limit)])
      : this.arrays<[string, string]>('seriesTestsAfter', [seriesId, collection, limitOf(limit), after[0], after[1]])
  }

  /** The tests and all their subtests (of any series). */
  async casesOfTests (tests: Array<[string, string]>): Promise<CaseName[]> {
    return (await this.rows('casesOfTests', [tests.map(([collection]) => collection), tests.map(([, test]) => test)])).map(caseName)
  }

  /**
   * The cells of a page's cases: each case's results per version, summed over machines (or on one
   * machine, or over the given version and machine pairs), in one statement for the page.
   * `machineSet` numbers the comma-separated list of the cell's machine ids, in no given order.
   */
  async matrixCells (caseIds: number[], versionIds: number[], machineId: number | null, cells: VersionMachine[] | null,
    machineSet: (ids: string) => number): Promise<MatrixCellRow[]> {
    const rows = await this.arrays<MatrixCellsRow>('matrixCells', [
      caseIds, versionIds, machineId,
      cells === null ? null : cells.map(cell => cell.versionId),
      cells === null ? null : cells.map(cell => cell.machineId),
    ])
    return rows.map(row => matrixCell(row, machineSet))
  }

  /** Passed, failed and skipped results of these cases per machine and version. */
  async outcomeCells (caseIds: number[], versionIds: number[]): Promise<OutcomeCell[]> {
    return this.rows<OutcomeCell>('outcomeCells', [caseIds, versionIds])
  }

  async findCase (collection: string, test: string, path: string[]): Promise<number | null> {
    return (await this.rows<{ id: number }>('findCase', [collection, test, JSON.stringify(path)]))[0]?.id ?? null
  }

  /** One case's results in history order (series, version order, machine, run), after `after`. */
  async history (caseId: number, filters: HistoryFilters, after: HistoryKey | null, limit: number): Promise<HistoryRow[]> {
    const [afterSeries, afterSortKey, afterVersion, afterMachine, afterRun, afterSeq] = after ?? []
    const rows = await this.rows('history', [
      caseId, filters.seriesId, filters.machineId, after === null,
      afterSeries ?? null, afterSortKey ?? null, afterVersion ?? null, afterMachine ?? null, afterRun ?? null, afterSeq ?? null,
      limitOf(limit),
    ])
    return rows.map(historyRow)
  }

  /** Every result of a case, counted from case_stats. */
  async historyCounts (caseId: number, filters: HistoryFilters): Promise<Summary> {
    return summaryOf((await this.rows('historyCounts', [caseId, filters.seriesId, filters.machineId]))[0]!)
  }

  /** Machines by name, after `afterName` when given. */
  async listMachines (afterName: string | null, limit: number): Promise<MachineRow[]> {
    return (await this.rows('listMachines', [afterName, limitOf(limit)])).map(machineRow)
  }

  /** Runs and tests counted per version and machine of a series, in version order then machine name. */
  async versionMachineCounts (seriesId: number): Promise<VersionMachineRow[]> {
    return (await this.rows('versionMachineCounts', [seriesId])).map(versionMachineRow)
  }
}

/** The run's own arch, else what its machine said last, is parameter `n` when that is not null. */
const archMatches = (n: number) => `($${n}::text IS NULL OR coalesce(r.arch, (SELECT m.arch FROM machines m WHERE m.id = r.machine_id)) = $${n}::text)`
const KNOWN_ISSUES_OF_RESULT = (run: string, seq: string) => `(SELECT string_agg(k.issue_id::text, ',') FROM known_issue_matches k
  JOIN known_issues i ON i.id = k.issue_id AND i.resolved_at IS NULL WHERE k.run_id = ${run} AND k.seq = ${seq})`

/** Every statement, by method; parameters are numbered in the order the method passes them. */
const STATEMENTS = {
  seriesById: 'SELECT id, name FROM series WHERE id = $1::bigint',
  seriesByName: 'SELECT id, name FROM series WHERE name = $1::text',
  seriesByNameKey: 'SELECT s.id, s.name FROM series_names n JOIN series s ON s.id = n.series_id WHERE n.name_key = $1::text',
  seriesNames: 'SELECT name FROM series_names WHERE series_id = $1::bigint ORDER BY created_at, name',
  seriesChangeIds: 'SELECT change_id FROM series_change_ids WHERE series_id = $1::bigint ORDER BY created_at, change_id',
  listSeries: `
    SELECT s.id, s.name, s.created_at,
      (SELECT count(*) FROM versions v WHERE v.series_id = s.id) AS versions,
      (SELECT count(*) FROM versions v JOIN runs r ON r.version_id = v.id WHERE v.series_id = s.id) AS runs,
      (SELECT count(DISTINCT r.machine_id) FROM versions v JOIN runs r ON r.version_id = v.id WHERE v.series_id = s.id) AS machines,
      (SELECT v.id FROM versions v WHERE v.series_id = s.id ORDER BY v.sort_key DESC, v.id DESC LIMIT 1) AS latest_version_id
    FROM series s WHERE s.id < $1::bigint
      AND ($3::text IS NULL OR strpos(lower(s.name), $3::text) > 0
        OR EXISTS (SELECT 1 FROM series_names n WHERE n.series_id = s.id AND strpos(n.name_key, $3::text) > 0))
    ORDER BY s.id DESC LIMIT $2::bigint`,
  versionCounts: `
    SELECT count(*) AS runs, count(DISTINCT machine_id) AS machines, ${SUMS},
      coalesce(sum(not_run), 0)::bigint AS not_run, coalesce(sum(1 - complete), 0)::bigint AS incomplete_runs FROM runs WHERE version_id = $1::bigint`,
  versions: 'SELECT id, label, message_id AS "messageId" FROM versions WHERE series_id = $1::bigint ORDER BY sort_key, id',
  machineByName: 'SELECT id, name FROM machines WHERE name = $1::text',
  machineByOldName: 'SELECT m.id, m.name FROM machine_names o JOIN machines m ON m.id = o.machine_id WHERE o.name = $1::text',
  hasCollection: 'SELECT 1 FROM cases WHERE collection = $1::text LIMIT 1',
  trend: `
    SELECT v.id AS version_id, count(r.id) AS runs, count(DISTINCT r.machine_id) AS machines, ${runSums('r')},
      coalesce(sum(r.not_run), 0)::bigint AS not_run, count(DISTINCT CASE WHEN r.complete = 0 THEN r.id END) AS incomplete_runs
    FROM versions v
    LEFT JOIN runs r ON r.version_id = v.id AND ($2::bigint IS NULL OR r.machine_id = $2::bigint) AND ${archMatches(3)}
    WHERE v.series_id = $1::bigint
    GROUP BY v.id ORDER BY v.sort_key, v.id`,
  trendOfCollection: `
    SELECT v.id AS version_id, count(rc.run_id) AS runs,
      count(DISTINCT CASE WHEN rc.run_id IS NOT NULL THEN r.machine_id END) AS machines, ${runSums('rc')},
      coalesce(sum(rc.not_run), 0)::bigint AS not_run, count(DISTINCT CASE WHEN rc.complete = 0 THEN rc.run_id END) AS incomplete_runs
    FROM versions v
    LEFT JOIN runs r ON r.version_id = v.id AND ($2::bigint IS NULL OR r.machine_id = $2::bigint) AND ${archMatches(3)}
    LEFT JOIN run_collections rc ON rc.run_id = r.id AND rc.collection = $4::text
    WHERE v.series_id = $1::bigint
    GROUP BY v.id ORDER BY v.sort_key, v.id`,
  versionMachines: `
    SELECT DISTINCT m.id, m.name FROM runs r JOIN machines m ON m.id = r.machine_id
    WHERE r.version_id = $1::bigint AND ${archMatches(2)} ORDER BY m.name`,
  // in the order of the list, then by machine id: the order SQLite reads them in (json_each, then runs_by_version)
  versionMachineCells: `
    SELECT r.version_id AS "versionId", r.machine_id AS "machineId", m.name AS machine
    FROM unnest($1::bigint[]) WITH ORDINALITY AS v(id, n) JOIN runs r ON r.version_id = v.id JOIN machines m ON m.id = r.machine_id
    WHERE ($2::bigint IS NULL OR r.machine_id = $2::bigint) AND ${archMatches(3)}
    GROUP BY r.version_id, r.machine_id, m.name ORDER BY min(v.n), r.machine_id`,
  recentVersionCounts: `
    SELECT v.id AS version_id, v.label, ${runSums('r')}, coalesce(sum(r.not_run), 0)::bigint AS not_run,
      count(DISTINCT CASE WHEN r.complete = 0 THEN r.id END) AS incomplete_runs
    FROM (SELECT id, label, sort_key FROM versions WHERE series_id = $1::bigint ORDER BY sort_key DESC, id DESC LIMIT $2::bigint) v
    LEFT JOIN runs r ON r.version_id = v.id
    GROUP BY v.id, v.label, v.sort_key ORDER BY v.sort_key, v.id`,
  collections: `
    SELECT collection AS name, count(*) AS tests FROM series_tests WHERE series_id = $1::bigint GROUP BY collection ORDER BY collection`,
  collectionCases: `
    SELECT c.id FROM series_tests st JOIN cases c ON c.collection = st.collection AND c.test = st.test
    WHERE st.series_id = $1::bigint AND st.collection = $2::text ORDER BY c.id`,
  machineSeries: `
    SELECT r.machine_id AS "machineId", v.series_id AS "seriesId", s.name AS "seriesName", v.label
    FROM runs r JOIN versions v ON v.id = r.version_id JOIN series s ON s.id = v.series_id
    WHERE r.machine_id = ANY($1::bigint[])
    GROUP BY r.machine_id, v.id, s.id
    ORDER BY r.machine_id, v.series_id DESC, v.sort_key, v.id`,
  outcomeSets: 'SELECT machine_id, cells FROM outcome_sets WHERE version_id = $1::bigint ORDER BY machine_id',
  buildOutcomeSets: `
    SELECT machine_id, string_agg(${OUTCOME_CELL_SQL}, ''::bytea ORDER BY case_id)
    FROM case_stats WHERE version_id = $1::bigint GROUP BY machine_id ORDER BY machine_id`,
  // = ANY looks each id up in cases_pkey; a join from the unnested list, ordered by its place
  // there, was planned as a merge join over the whole table (78 ms against 12 for 3 000 ids)
  caseNames: 'SELECT c.id, c.collection, c.test, c.path FROM cases c WHERE c.id = ANY($1::bigint[])',
  // one statement for a page of cells (a compare page has 100 on each side), not one per cell
  cellSummaries: `
    SELECT s.machine_id, s.case_id, s.total, ${STATUSES.map(status => `s.${status}`).join(', ')}
    FROM unnest($2::bigint[], $3::bigint[]) WITH ORDINALITY AS j(machine_id, case_id, n)
    JOIN case_stats s ON s.version_id = $1::bigint AND s.machine_id = j.machine_id AND s.case_id = j.case_id
    ORDER BY j.n`,
  // from results_by_case alone, as history, and the reason from the table for the results that have one
  cellResults: `
    SELECT ru.machine_id, r.case_id, ru.id AS run_id, m.name AS machine, r.status, r.line_from, r.line_to,
      CASE WHEN EXISTS (SELECT FROM results x WHERE x.case_id = r.case_id AND x.run_id = r.run_id AND x.seq = r.seq AND x.reason IS NOT NULL)
        THEN (SELECT x.reason FROM results x WHERE x.run_id = r.run_id AND x.seq = r.seq) END AS reason,
      r.exit_code, r.timeout_seconds, r.flags, ru.complete, ${KNOWN_ISSUES_OF_RESULT('r.run_id', 'r.seq')} AS issues
    FROM unnest($2::bigint[], $3::bigint[]) WITH ORDINALITY AS j(machine_id, case_id, n)
    JOIN runs ru ON ru.version_id = $1::bigint AND ru.machine_id = j.machine_id
    JOIN results r ON r.case_id = j.case_id AND r.run_id = ru.id JOIN machines m ON m.id = ru.machine_id
    ORDER BY j.n, m.name, ru.id, r.seq`,
  failingCells: `
    SELECT cs.case_id AS "caseId", cs.machine_id AS "machineId", m.name AS machine FROM case_stats cs JOIN machines m ON m.id = cs.machine_id
    WHERE cs.version_id = $1::bigint AND ${qualified('cs', FAILED_SQL)} > 0 ORDER BY cs.case_id, m.name`,
  failureHistory: `
    SELECT (SELECT v2.label FROM versions v2 WHERE v2.id = earliest.version_id) AS version,
      (SELECT m.name FROM machines m WHERE m.id = earliest.machine_id) AS machine, counted.n AS versions
    FROM (SELECT cs.version_id, cs.machine_id FROM case_stats cs JOIN versions v ON v.id = cs.version_id
          WHERE cs.case_id = $2::bigint AND v.series_id = $1::bigint AND ${qualified('cs', FAILED_SQL)} > 0
          ORDER BY v.sort_key, v.id, cs.machine_id LIMIT 1) earliest,
      (SELECT count(DISTINCT cs.version_id) AS n FROM case_stats cs JOIN versions v ON v.id = cs.version_id
          WHERE cs.case_id = $2::bigint AND v.series_id = $1::bigint AND ${qualified('cs', FAILED_SQL)} > 0) counted`,
  issueRefs: 'SELECT id, title, url, culprit, intermittent, resolved_at FROM known_issues WHERE id = ANY($1::bigint[]) ORDER BY id',
  triageCells: `
    WITH matched AS (
      SELECT k.run_id, k.seq, max(i.kernel_trouble) AS explains_trouble FROM runs ru JOIN known_issue_matches k ON k.run_id = ru.id
      JOIN known_issues i ON i.id = k.issue_id AND i.resolved_at IS NULL
      WHERE ru.version_id = ANY($1::bigint[]) GROUP BY k.run_id, k.seq),
    -- a result's kernel trouble is explained only by an issue that claims it (IssueMatcher.kernelTrouble)
    known AS (
      SELECT ru.version_id, ru.machine_id, r.case_id, count(*) AS known,
        count(*) FILTER (WHERE r.status IN (${FAILING_STATUS_LIST_SQL})) AS known_failing,
        count(*) FILTER (WHERE m.explains_trouble = 1 AND r.flags <> '' AND ${TROUBLED_RESULT_SQL}) AS known_troubled
      FROM matched m JOIN results r ON r.run_id = m.run_id AND r.seq = m.seq JOIN runs ru ON ru.id = m.run_id
      GROUP BY ru.version_id, ru.machine_id, r.case_id),
    cells AS (
      SELECT version_id, machine_id, case_id FROM known
      UNION SELECT version_id, machine_id, case_id FROM case_stats WHERE version_id = ANY($1::bigint[]) AND infrastructure > 0)
    SELECT c.version_id, c.machine_id, c.case_id, ${qualified('cs', FAILED_SQL)}, cs.trouble, cs.infrastructure,
      coalesce(k.known, 0), coalesce(k.known_failing, 0), coalesce(k.known_troubled, 0)
    FROM cells c JOIN case_stats cs ON cs.version_id = c.version_id AND cs.machine_id = c.machine_id AND cs.case_id = c.case_id
    LEFT JOIN known k ON k.version_id = c.version_id AND k.machine_id = c.machine_id AND k.case_id = c.case_id
    ORDER BY c.version_id, c.machine_id, c.case_id`,
  finishedMachines: 'SELECT DISTINCT machine_id FROM runs WHERE version_id = $1::bigint AND complete = 1 ORDER BY machine_id',
  seriesTestsFirst: `
    SELECT collection, test FROM series_tests
    WHERE series_id = $1::bigint AND ($2::text IS NULL OR collection = $2::text)
    ORDER BY collection, test LIMIT $3::bigint`,
  seriesTestsAfter: `
    SELECT collection, test FROM series_tests
    WHERE series_id = $1::bigint AND ($2::text IS NULL OR collection = $2::text) AND (collection, test) > ($4::text, $5::text)
    ORDER BY collection, test LIMIT $3::bigint`,
  // in the order of the list, each test's cases by path: SQLite reads them from the cases' unique index
  casesOfTests: `
    SELECT c.id, c.collection, c.test, c.path FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS j(collection, test, n)
    JOIN cases c ON c.collection = j.collection AND c.test = j.test ORDER BY j.n, c.path`,
  // case_id = ANY walks case_stats_by_case in its order, so the groups need no sort (a join from
  // the unnested list sorted them all first, and ordering each cell's machines sorted them again:
  // 74 ms against 24 for a page of 10 000 cells)
  matrixCells: `
    SELECT s.case_id, s.version_id, count(*), string_agg(s.machine_id::text, ','), coalesce(sum(s.trouble), 0)::bigint,
      count(*) FILTER (WHERE ${FAILED_SQL} > 0 AND ${PASSED_SQL} = 0), count(*) FILTER (WHERE ${PASSED_SQL} > 0 AND ${FAILED_SQL} = 0),
      count(*) FILTER (WHERE ${PASSED_SQL} > 0 AND ${FAILED_SQL} > 0),
      ${COUNTS.map(column => `sum(s.${column})::bigint`).join(', ')}
    FROM case_stats s
    WHERE s.case_id = ANY($1::bigint[]) AND s.version_id = ANY($2::bigint[]) AND ($3::bigint IS NULL OR s.machine_id = $3::bigint)
      AND ($4::bigint[] IS NULL OR (s.version_id, s.machine_id) IN (SELECT * FROM unnest($4::bigint[], $5::bigint[])))
    GROUP BY s.case_id, s.version_id ORDER BY s.case_id, s.version_id`,
  // in the order of the case list, then by version and machine (case_stats_by_case)
  outcomeCells: `
    SELECT s.case_id AS "caseId", s.machine_id AS "machineId", s.version_id AS "versionId", s.total,
      ${PASSED_SQL} AS passed, ${FAILED_SQL} AS failed, s.skip
    FROM unnest($1::bigint[]) WITH ORDINALITY AS c(id, n) JOIN case_stats s ON s.case_id = c.id
    WHERE s.version_id = ANY($2::bigint[])
    ORDER BY c.n, s.version_id, s.machine_id`,
  findCase: 'SELECT id FROM cases WHERE collection = $1::text AND test = $2::text AND path = $3::text',
  // The page and its entries come from results_by_case alone, an index that carries every column
  // of an entry but the reason (migration 003): a case's results are each in a run of their own,
  // so in a heap page of their own, and reading 200 of them for a case not read lately was most of
  // the page's time. The reason is read from the table only for the results results_with_reason
  // lists, whose EXISTS the planner hashes once for the case.
  history: `
    WITH page AS (
      SELECT r.run_id, r.seq, r.status, r.flags, r.exit_code, r.timeout_seconds, r.line_from, r.line_to,
        v.series_id, v.sort_key, v.id AS version_id, m.name AS machine
      FROM results r JOIN runs ru ON ru.id = r.run_id JOIN versions v ON v.id = ru.version_id
      JOIN machines m ON m.id = ru.machine_id
      WHERE r.case_id = $1::bigint AND ($2::bigint IS NULL OR v.series_id = $2::bigint) AND ($3::bigint IS NULL OR ru.machine_id = $3::bigint)
        AND ($4::boolean OR (v.series_id, v.sort_key, v.id, m.name, ru.id, r.seq) > ($5::bigint, $6::float8, $7::bigint, $8::text, $9::bigint, $10::integer))
      ORDER BY v.series_id, v.sort_key, v.id, m.name, ru.id, r.seq
      LIMIT $11::bigint)
    SELECT s.id AS series_id, s.name AS series_name, v.id AS version_id, v.label, v.message_id, v.sort_key,
      p.machine, ru.id AS run_id, ru.kernel, p.seq, p.status,
      CASE WHEN EXISTS (SELECT FROM results x WHERE x.case_id = $1::bigint AND x.run_id = p.run_id AND x.seq = p.seq AND x.reason IS NOT NULL)
        THEN (SELECT x.reason FROM results x WHERE x.run_id = p.run_id AND x.seq = p.seq) END AS reason,
      p.flags, p.exit_code, p.timeout_seconds, p.line_from, p.line_to, ${KNOWN_ISSUES_OF_RESULT('p.run_id', 'p.seq')} AS issues
    FROM page p JOIN runs ru ON ru.id = p.run_id
    JOIN versions v ON v.id = p.version_id JOIN series s ON s.id = p.series_id
    ORDER BY p.series_id, p.sort_key, p.version_id, p.machine, p.run_id, p.seq`,
  historyCounts: `
    SELECT ${SUMS} FROM case_stats s JOIN versions v ON v.id = s.version_id
    WHERE s.case_id = $1::bigint AND ($2::bigint IS NULL OR v.series_id = $2::bigint) AND ($3::bigint IS NULL OR s.machine_id = $3::bigint)`,
  listMachines: `
    SELECT m.id, m.name, m.arch, m.cpu, m.flags, m.kernel, m.created_at, m.updated_at,
      (SELECT count(*) FROM runs r WHERE r.machine_id = m.id) AS runs
    FROM machines m WHERE m.name > coalesce($1::text, '') ORDER BY m.name LIMIT $2::bigint`,
  versionMachineCounts: `
    SELECT v.id AS version_id, m.name AS machine, count(*) AS runs, count(DISTINCT m.id) AS machines, ${runSums('r')},
      coalesce(sum(r.not_run), 0)::bigint AS not_run, count(DISTINCT CASE WHEN r.complete = 0 THEN r.id END) AS incomplete_runs
    FROM versions v JOIN runs r ON r.version_id = v.id JOIN machines m ON m.id = r.machine_id
    WHERE v.series_id = $1::bigint
    GROUP BY v.id, m.id ORDER BY v.sort_key, v.id, m.name`,
} as const
