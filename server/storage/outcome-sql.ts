import { FAILING_STATUSES, STATUSES, type Status } from '../../ingest/index.ts'
import { FAILED, PASSED, TROUBLED } from '../queries/verdict.ts'

/**
 * The SQL fragments over case_stats and results that read the same in SQLite's and PostgreSQL's
 * dialects; each backend's outcomes.ts writes the others its own way.
 */

/** Statuses of a test that did what it should (pass, xfail): neither failing nor skipped. */
export const PASSING_STATUSES: readonly Status[] = STATUSES.filter(status => status !== 'skip' && !FAILING_STATUSES.includes(status))

/** The outcome bits over case_stats columns: some result passed, some failed, some was troubled. */
export const PASSED_SQL = PASSING_STATUSES.join(' + ')
export const FAILED_SQL = FAILING_STATUSES.join(' + ')
export const OUTCOME_BITS_SQL = `CASE WHEN ${PASSED_SQL} > 0 THEN ${PASSED} ELSE 0 END + CASE WHEN ${FAILED_SQL} > 0 THEN ${FAILED} ELSE 0 END` +
  ` + CASE WHEN trouble > 0 THEN ${TROUBLED} ELSE 0 END`

/** The failing statuses as an SQL list, for `status IN (...)`. */
export const FAILING_STATUS_LIST_SQL = FAILING_STATUSES.map(status => `'${status}'`).join(', ')

/** Every count a case_stats cell keeps: what a merge adds up and a deletion takes away. */
export const COUNTS = ['total', ...STATUSES, 'trouble', 'infrastructure']
