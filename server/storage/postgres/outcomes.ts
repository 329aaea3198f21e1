import { TROUBLE_FLAGS } from '../../queries/verdict.ts'
import { cellOf } from '../outcome-cells.ts'
import { OUTCOME_BITS_SQL } from '../outcome-sql.ts'

/**
 * What sqlite/outcomes.ts writes in SQLite's dialect, in PostgreSQL's: the same rules from the
 * same definitions, so that both backends build the same bytes and count the same results
 * (outcome-sql.ts has the fragments both write alike).
 */

/**
 * A case_stats row's cell as the 4 big-endian bytes of an outcome set: int8send gives a bigint's 8
 * big-endian bytes, and a cell (below 2^32: case ids stay below 2^29) is the last 4. Concatenated
 * with `string_agg(<this>, ''::bytea ORDER BY case_id)`, the bytes SQLite's
 * `unhex(group_concat(printf('%08X', ...), '' ORDER BY case_id))` gives.
 */
export const OUTCOME_CELL_SQL = `substr(int8send((case_id * ${cellOf(1, 0)} + ${OUTCOME_BITS_SQL})::bigint), 5)`

/**
 * True for a results row (alias `r`) whose flags include trouble: SQLite's
 * `instr(',' || r.flags || ',', ',f,')` for each flag, as an overlap of arrays.
 */
export const TROUBLED_RESULT_SQL = `(string_to_array(r.flags, ',') && ARRAY[${TROUBLE_FLAGS.map(flag => `'${flag}'`).join(', ')}]::text[])`

/**
 * True for a results row (alias `r`) that failed for infrastructure: ingest stores the JS rule's
 * answer in results.infrastructure, which PostgreSQL cannot call as SQLite calls ksft_infrastructure.
 */
export const INFRASTRUCTURE_RESULT_SQL = '(r.infrastructure = 1)'
