import { endianness } from 'node:os'
import { FAILING_STATUSES, STATUSES, type Status } from '../../ingest/index.ts'

/**
 * A cell (a case on one machine in one version, over its runs) reduced to what compare and flaky
 * ask: did some result pass, did some fail. Both bits set is a cell whose runs disagree.
 */
export const PASSED = 1
export const FAILED = 2

/** Statuses of a test that did what it should (pass, xfail): neither failing nor skipped. */
export const PASSING_STATUSES: readonly Status[] = STATUSES.filter(status => status !== 'skip' && !FAILING_STATUSES.includes(status))

/** The two outcome bits over case_stats columns: some result passed, some failed. */
export const PASSED_SQL = PASSING_STATUSES.join(' + ')
export const FAILED_SQL = FAILING_STATUSES.join(' + ')
export const OUTCOME_BITS_SQL = `CASE WHEN ${PASSED_SQL} > 0 THEN ${PASSED} ELSE 0 END + CASE WHEN ${FAILED_SQL} > 0 THEN ${FAILED} ELSE 0 END`

const LITTLE_ENDIAN = endianness() === 'LE'

/**
 * An outcome set (see outcome_sets in migrations/003-trend-aggregates.sql) as numbers
 * `case_id * 4 + bits`, in case order. Case ids stay below 2^30 for that to fit.
 */
export function decodeOutcomeSet (blob: Buffer): Uint32Array {
  const cells = new Uint32Array(blob.length >>> 2)
  const bytes = Buffer.from(cells.buffer)
  blob.copy(bytes, 0, 0, cells.length * 4)
  // one native byte swap: flaky decodes every set of a series, a million numbers on a big store
  if (LITTLE_ENDIAN) bytes.swap32()
  return cells
}
