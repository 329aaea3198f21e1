import { FAILING_STATUSES, STATUSES, type Status } from '../../../ingest/index.ts'
import { FAILED, PASSED, TROUBLED, TROUBLE_FLAGS } from '../../queries/verdict.ts'
import { CELL_SHIFT } from '../outcome-cells.ts'

/** Statuses of a test that did what it should (pass, xfail): neither failing nor skipped. */
export const PASSING_STATUSES: readonly Status[] = STATUSES.filter(status => status !== 'skip' && !FAILING_STATUSES.includes(status))

/** The outcome bits over case_stats columns: some result passed, some failed, some was troubled. */
export const PASSED_SQL = PASSING_STATUSES.join(' + ')
export const FAILED_SQL = FAILING_STATUSES.join(' + ')
export const OUTCOME_BITS_SQL = `CASE WHEN ${PASSED_SQL} > 0 THEN ${PASSED} ELSE 0 END + CASE WHEN ${FAILED_SQL} > 0 THEN ${FAILED} ELSE 0 END` +
  ` + CASE WHEN trouble > 0 THEN ${TROUBLED} ELSE 0 END`

/** A case_stats row's cell as 8 hex digits, the unit of an outcome set (outcome-cells.ts). */
export const OUTCOME_CELL_SQL = `printf('%08X', case_id * ${1 << CELL_SHIFT} + ${OUTCOME_BITS_SQL})`

/** True for a results row (alias `r`) whose flags include trouble: a comma list, matched whole. */
export const TROUBLED_RESULT_SQL = `(${TROUBLE_FLAGS.map(flag => `instr(',' || r.flags || ',', ',${flag},') > 0`).join(' OR ')})`

/** True for a results row (alias `r`) that failed for infrastructure (database.ts registers the function). */
/** The failing statuses as an SQL list, for `status IN (...)`. */
export const FAILING_STATUS_LIST_SQL = FAILING_STATUSES.map(status => `'${status}'`).join(', ')
export const INFRASTRUCTURE_RESULT_SQL = `(r.status IN (${FAILING_STATUS_LIST_SQL}) AND ksft_infrastructure(r.status, r.exit_code, r.reason) = 1)`
