import { endianness } from 'node:os'
import { FAILING_STATUSES, STATUSES, type Status } from '../../ingest/index.ts'
import { FAILED, PASSED, TROUBLED, TROUBLE_FLAGS } from '../queries/verdict.ts'

/**
 * A cell (a case on one machine in one version, over its runs) reduced to what compare and flaky
 * ask: did some result pass, did some fail, did some show kernel trouble (see queries/verdict.ts).
 */
export { FAILED, PASSED, TROUBLED }

/** Statuses of a test that did what it should (pass, xfail): neither failing nor skipped. */
export const PASSING_STATUSES: readonly Status[] = STATUSES.filter(status => status !== 'skip' && !FAILING_STATUSES.includes(status))

/** The outcome bits over case_stats columns: some result passed, some failed, some was troubled. */
export const PASSED_SQL = PASSING_STATUSES.join(' + ')
export const FAILED_SQL = FAILING_STATUSES.join(' + ')
export const OUTCOME_BITS_SQL = `CASE WHEN ${PASSED_SQL} > 0 THEN ${PASSED} ELSE 0 END + CASE WHEN ${FAILED_SQL} > 0 THEN ${FAILED} ELSE 0 END` +
  ` + CASE WHEN trouble > 0 THEN ${TROUBLED} ELSE 0 END`

/** Outcome bits per cell: the case id is the number shifted past them. */
const CELL_SHIFT = 3
/** A case_stats row's cell as 8 hex digits, the unit of an outcome set. */
export const OUTCOME_CELL_SQL = `printf('%08X', case_id * ${1 << CELL_SHIFT} + ${OUTCOME_BITS_SQL})`

export function caseOfCell (cell: number): number {
  return cell >>> CELL_SHIFT
}

export function bitsOfCell (cell: number): number {
  return cell & ((1 << CELL_SHIFT) - 1)
}

export function cellOf (caseId: number, bits: number): number {
  return caseId * (1 << CELL_SHIFT) + bits
}

/** True for a results row (alias `r`) whose flags include trouble: a comma list, matched whole. */
export const TROUBLED_RESULT_SQL = `(${TROUBLE_FLAGS.map(flag => `instr(',' || r.flags || ',', ',${flag},') > 0`).join(' OR ')})`

/** True for a results row (alias `r`) that failed for infrastructure (database.ts registers the function). */
/** The failing statuses as an SQL list, for `status IN (...)`. */
export const FAILING_STATUS_LIST_SQL = FAILING_STATUSES.map(status => `'${status}'`).join(', ')
export const INFRASTRUCTURE_RESULT_SQL = `(r.status IN (${FAILING_STATUS_LIST_SQL}) AND ksft_infrastructure(r.status, r.exit_code, r.reason) = 1)`

const LITTLE_ENDIAN = endianness() === 'LE'

/**
 * An outcome set (see outcome_sets in migrations/003-trend-aggregates.sql, re-encoded by 005) as
 * numbers `case_id * 8 + bits`, in case order. Case ids stay below 2^29 for that to fit.
 */
export function decodeOutcomeSet (blob: Buffer): Uint32Array {
  const cells = new Uint32Array(blob.length >>> 2)
  const bytes = Buffer.from(cells.buffer)
  blob.copy(bytes, 0, 0, cells.length * 4)
  // one native byte swap: flaky decodes every set of a series, a million numbers on a big store
  if (LITTLE_ENDIAN) bytes.swap32()
  return cells
}
