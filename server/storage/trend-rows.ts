import { STATUSES, type Flag, type Status, type Summary } from '../../ingest/index.ts'
import type { Culprit } from '../domain/known-issues.ts'
import type { CaseName, CellCounts, HistoryRow, IssueRef, MachineRow, MatrixCellRow, PassRateRow, ResultDetail, SeriesRow, TrendRow, TriageCell, VersionCounts, VersionMachineRow } from './rows.ts'

/**
 * The trend reads' rows as both backends' statements return them, made into the rows of rows.ts:
 * one mapping, so that sqlite/trend-store.ts and postgres/trend-store.ts answer alike.
 */

export type Row = Record<string, unknown>

/** A group_concat (string_agg) of known-issue ids, ascending. */
export function issueIds (list: string | null): number[] {
  return list === null ? [] : list.split(',').map(Number).sort((a, b) => a - b)
}

export function splitList (text: string): string[] {
  return text === '' ? [] : text.split(',')
}

export function summaryOf (row: Row): Summary {
  const summary = { total: row.total as number } as Summary
  for (const status of STATUSES) summary[status] = row[status] as number
  return summary
}

export function countsOf (row: Row): VersionCounts {
  return {
    runs: row.runs as number,
    machines: row.machines as number,
    summary: summaryOf(row),
    notRun: row.not_run as number,
    incompleteRuns: row.incomplete_runs as number,
  }
}

export function trendRow (row: Row): TrendRow {
  return { versionId: row.version_id as number, ...countsOf(row) }
}

export function caseName (row: Row): CaseName {
  return { id: row.id as number, collection: row.collection as string, test: row.test as string, path: JSON.parse(row.path as string) as string[] }
}

export function seriesRowOf (row: Row): SeriesRow {
  return {
    id: row.id as number,
    name: row.name as string,
    createdAt: row.created_at as string,
    versions: row.versions as number,
    runs: row.runs as number,
    machines: row.machines as number,
    latestVersionId: row.latest_version_id as number,
  }
}

export function passRateRow (row: Row): PassRateRow {
  return {
    versionId: row.version_id as number, label: row.label as string, summary: summaryOf(row),
    notRun: row.not_run as number, incompleteRuns: row.incomplete_runs as number,
  }
}

/** What a result row says of itself and where it is in its run, as compare and history both read it. */
function resultOf (row: Row): Pick<HistoryRow, 'runId' | 'machine' | 'status' | 'lines' | 'reason' | 'exitCode' | 'timeoutSeconds' | 'flags' | 'knownIssues'> {
  return {
    runId: row.run_id as number,
    machine: row.machine as string,
    status: row.status as Status,
    lines: [row.line_from as number, row.line_to as number],
    reason: row.reason as string | null,
    exitCode: row.exit_code as number | null,
    timeoutSeconds: row.timeout_seconds as number | null,
    flags: splitList(row.flags as string) as Flag[],
    knownIssues: issueIds(row.issues as string | null),
  }
}

export function resultDetail (row: Row): ResultDetail {
  return { ...resultOf(row), complete: row.complete === 1 }
}

export function issueRef (row: Row): IssueRef {
  return {
    id: row.id as number,
    title: row.title as string,
    url: row.url as string | null,
    culprit: row.culprit as Culprit,
    intermittent: row.intermittent === 1,
    active: row.resolved_at === null,
  }
}

/** triageCells' columns, in order. */
export type TriageCellRow = [versionId: number, machineId: number, caseId: number, failing: number, trouble: number, infrastructure: number, known: number, knownFailing: number, knownTroubled: number]

export function triageCell ([versionId, machineId, caseId, failing, trouble, infrastructure, known, knownFailing, knownTroubled]: TriageCellRow): TriageCell {
  return { versionId, machineId, caseId, failing, trouble, infrastructure, known, knownFailing, knownTroubled }
}

/** matrixCells' columns, in order: then total and each status in STATUSES order. */
export type MatrixCellsRow = [caseId: number, versionId: number, machines: number, machineIds: string, trouble: number,
  failingMachines: number, passingMachines: number, mixedMachines: number, total: number, ...statuses: number[]]

export function matrixCell ([caseId, versionId, machines, machineIds, trouble, failingMachines, passingMachines, mixedMachines, total, ...statuses]: MatrixCellsRow,
  machineSet: (ids: string) => number): MatrixCellRow {
  const counts = { total, machines, machineSet: machineSet(machineIds), trouble, failingMachines, passingMachines, mixedMachines, known: 0, explained: false } as CellCounts
  STATUSES.forEach((status, i) => { counts[status] = statuses[i]! })
  return { caseId, versionId, counts }
}

export function historyRow (row: Row): HistoryRow {
  return {
    series: { id: row.series_id as number, name: row.series_name as string },
    version: { id: row.version_id as number, label: row.label as string, messageId: row.message_id as string | null, sortKey: row.sort_key as number },
    ...resultOf(row),
    kernel: row.kernel as string | null,
    seq: row.seq as number,
  }
}

export function machineRow (row: Row): MachineRow {
  return {
    id: row.id as number,
    name: row.name as string,
    arch: row.arch as string | null,
    cpu: row.cpu as string | null,
    flags: splitList(row.flags as string),
    kernel: row.kernel as string | null,
    runs: row.runs as number,
    firstSeenAt: row.created_at as string,
    lastSeenAt: row.updated_at as string,
  }
}

export function versionMachineRow (row: Row): VersionMachineRow {
  return { versionId: row.version_id as number, machine: row.machine as string, ...countsOf(row) }
}

