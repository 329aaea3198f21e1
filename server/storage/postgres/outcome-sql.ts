import { TROUBLE_FLAGS } from '../../queries/verdict.ts'
import { cellOf, OUTCOME_BITS_SQL } from '../outcomes.ts'

/**
 * storage/outcomes.ts's SQL fragments that SQLite's dialect writes its own way, in PostgreSQL's
 * (see the header of migrations/postgres/001-schema.sql). The others (PASSED_SQL, FAILED_SQL,
 * OUTCOME_BITS_SQL, FAILING_STATUS_LIST_SQL) read the same in both.
 */

/** True for a results row (alias `r`) whose flags (a comma list) include trouble: SQLite's instr() over ',' || flags || ','. */
export const TROUBLED_RESULT_SQL = `(string_to_array(r.flags, ',') && ARRAY[${TROUBLE_FLAGS.map(flag => `'${flag}'`).join(', ')}]::text[])`

/**
 * True for a results row (alias `r`) that failed for infrastructure: ingest stores the JS rule's
 * answer in results.infrastructure, which PostgreSQL cannot call as SQLite calls ksft_infrastructure.
 */
export const INFRASTRUCTURE_RESULT_SQL = '(r.infrastructure = 1)'

/**
 * A case_stats row's cell as the 4 big-endian bytes of an outcome set: SQLite's
 * printf('%08X', ...) then unhex(), here the last 4 of int8send's 8 bytes.
 */
export const OUTCOME_CELL_SQL = `substr(int8send((case_id * ${cellOf(1, 0)} + ${OUTCOME_BITS_SQL})::bigint), 5)`
