import { TROUBLE_FLAGS } from '../../queries/verdict.ts'
import { CELL_SHIFT } from '../outcome-cells.ts'
import { FAILING_STATUS_LIST_SQL, OUTCOME_BITS_SQL } from '../outcome-sql.ts'

// the fragments both dialects write alike, for the SQLite store's modules
export { FAILED_SQL, FAILING_STATUS_LIST_SQL, OUTCOME_BITS_SQL, PASSED_SQL, PASSING_STATUSES } from '../outcome-sql.ts'

/** A case_stats row's cell as 8 hex digits, the unit of an outcome set (outcome-cells.ts). */
export const OUTCOME_CELL_SQL = `printf('%08X', case_id * ${1 << CELL_SHIFT} + ${OUTCOME_BITS_SQL})`

/** True for a results row (alias `r`) whose flags include trouble: a comma list, matched whole. */
export const TROUBLED_RESULT_SQL = `(${TROUBLE_FLAGS.map(flag => `instr(',' || r.flags || ',', ',${flag},') > 0`).join(' OR ')})`

/** True for a results row (alias `r`) that failed for infrastructure (database.ts registers the function). */
export const INFRASTRUCTURE_RESULT_SQL = `(r.status IN (${FAILING_STATUS_LIST_SQL}) AND ksft_infrastructure(r.status, r.exit_code, r.reason) = 1)`
