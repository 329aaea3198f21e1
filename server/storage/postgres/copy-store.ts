import type { Database } from 'better-sqlite3'
import type pg from 'pg'
import { STATUSES, type Status } from '../../../ingest/vocabulary.ts'
import { infrastructureEvidence } from '../../queries/verdict.ts'

/**
 * A SQLite store copied into a PostgreSQL store (`ksft migrate-store`): every table, rows as they
 * are, ids kept, in batches, then both sides counted. The tables and their columns are read from
 * the two catalogs, so a column added to both schemas is copied without a change here, and a table
 * or column one side lacks stops the copy before it starts rather than leaving it behind.
 */

/** Every table, each after the tables it references (foreign keys). */
export const COPY_ORDER = [
  'series', 'versions', 'machines', 'runs', 'log_chunks', 'cases', 'results', 'store_state', 'tokens',
  'case_stats', 'outcome_sets', 'run_collections', 'series_tests',
  'known_issues', 'known_issue_matches', 'known_issue_audit',
  'series_change_ids', 'series_names', 'machine_names',
  'version_patch_lists', 'version_patches', 'run_patch_reports',
] as const

/** Tables of the PostgreSQL schema that are not the store's data. */
const POSTGRES_OWN_TABLES = new Set(['schema_migrations'])

/**
 * Columns PostgreSQL keeps that SQLite computes in SQL when it reads (see 001-schema.sql): worked
 * out here, from the row's SQLite columns, by the same rule.
 */
const COMPUTED: Record<string, { from: string[], value: (get: (column: string) => unknown) => unknown }> = {
  'results.infrastructure': {
    from: ['status', 'exit_code', 'reason'],
    value: get => infrastructureEvidence({
      status: get('status') as Status, exitCode: get('exit_code') as number | null, reason: get('reason') as string | null,
    }) === null ? 0 : 1,
  },
}

/**
 * Rows of a table with a bytea column (deflated log chunks of up to ~1 MB, outcome sets) go in
 * fewer at a time, bound as binary parameters: an unnest array would send them as hex text.
 */
const BLOB_BATCH_ROWS = 16

const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`

export interface CopyProgress {
  table: string
  /** Rows of the table now in PostgreSQL (copied before this call too). */
  copied: number
  /** Rows of the table in SQLite. */
  total: number
  /** The table was complete already and was not read again. */
  skipped: boolean
  /** The table's last report. */
  done: boolean
}

export interface CopyOptions {
  /** Rows per INSERT; 5000 by default. */
  batchRows?: number
  onProgress?: (progress: CopyProgress) => void
}

export interface CopyStats {
  tables: Array<{ table: string, rows: number, copied: number, skipped: boolean, ms: number }>
  /** Rows this call inserted, over every table. */
  rows: number
  ms: number
}

interface Column {
  name: string
  /** PostgreSQL's name of the type (`int8`, `text`, `timestamptz`...): what `$n::<type>[]` binds. */
  type: string
  /** Where the value is in a SQLite row, or how to compute it. */
  source: number | ((row: unknown[]) => unknown)
}

interface TablePlan {
  name: string
  columns: Column[]
  /** The columns read from SQLite, in the order of its rows. */
  sqliteColumns: string[]
  /** The primary key: the order the rows are read in, and where a resumed copy starts. */
  key: string[]
  identity: string | null
  blobs: boolean
}

/**
 * Copies every table of the SQLite store into the PostgreSQL store (migrated: openPostgres), in
 * COPY_ORDER, `batchRows` rows per statement, ids kept (identity columns are given their values,
 * then their sequences are moved past them). Safe to run again: a table with as many rows as in
 * SQLite is skipped, one partly copied goes on after its last row (by primary key), and every insert
 * leaves a row already there as it is. The SQLite side is read in one transaction, a snapshot:
 * uploads a server makes meanwhile are not copied, and a later run does not copy them either into a
 * table it skips (verifyCopy says so). Stop the server first.
 */
export async function copySqliteToPostgres (sqliteDb: Database, pool: pg.Pool, options: CopyOptions = {}): Promise<CopyStats> {
  const batchRows = options.batchRows ?? 5000
  if (!Number.isInteger(batchRows) || batchRows < 1) throw new Error(`batchRows: a positive integer, not ${batchRows}`)
  const plans = await planCopy(sqliteDb, pool)
  await checkTarget(sqliteDb, pool)
  const started = performance.now()
  const stats: CopyStats = { tables: [], rows: 0, ms: 0 }
  const ownTransaction = !sqliteDb.inTransaction
  if (ownTransaction) sqliteDb.exec('BEGIN')
  try {
    for (const plan of plans) {
      const tableStarted = performance.now()
      const copied = await copyTable(sqliteDb, pool, plan, plan.blobs ? Math.min(batchRows, BLOB_BATCH_ROWS) : batchRows, options.onProgress)
      if (plan.identity !== null) await moveSequence(pool, plan.name, plan.identity)
      // a bulk load leaves the planner without statistics and the visibility map empty: until
      // autovacuum came by, the trend reads would plan blind and read the heap behind every
      // index-only scan (matrix and compare 5 to 15 times slower on a fresh copy of 1M results)
      if (copied.copied > 0) await pool.query(`VACUUM (ANALYZE) ${quote(plan.name)}`)
      stats.tables.push({ table: plan.name, ...copied, ms: performance.now() - tableStarted })
      stats.rows += copied.copied
    }
  } finally {
    if (ownTransaction) sqliteDb.exec('COMMIT')
  }
  stats.ms = performance.now() - started
  return stats
}

/** The tables and columns of both stores, checked against each other. */
async function planCopy (sqliteDb: Database, pool: pg.Pool): Promise<TablePlan[]> {
  const sqliteTables = new Set(sqliteDb.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").pluck().all() as string[])
  const { rows: pgColumns } = await pool.query<{ table_name: string, column_name: string, udt_name: string, is_identity: string }>(`
    SELECT table_name, column_name, udt_name, is_identity FROM information_schema.columns
    WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`)
  const pgTables = new Set(pgColumns.map(row => row.table_name).filter(table => !POSTGRES_OWN_TABLES.has(table)))
  const ordered = new Set<string>(COPY_ORDER)
  const unknown = [...new Set([...sqliteTables, ...pgTables])].filter(table => !ordered.has(table)).sort()
  if (unknown.length > 0) throw new Error(`tables the copy does not know where to put: ${unknown.join(', ')} (storage/postgres/copy-store.ts COPY_ORDER)`)
  const missing = COPY_ORDER.filter(table => !sqliteTables.has(table) || !pgTables.has(table))
  if (missing.length > 0) throw new Error(`tables missing from one of the stores: ${missing.join(', ')}`)

  const { rows: keys } = await pool.query<{ table_name: string, key: string[] }>(`
    SELECT c.relname AS table_name, array_agg(a.attname::text ORDER BY k.position) AS key
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
    CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indisprimary AND c.relnamespace = current_schema()::regnamespace
    GROUP BY c.relname`)
  const keyOf = new Map(keys.map(row => [row.table_name, row.key]))

  return COPY_ORDER.map(table => {
    const sqliteColumns = (sqliteDb.prepare('SELECT name FROM pragma_table_info(?) ORDER BY cid').pluck().all(table) as string[])
    const own = pgColumns.filter(row => row.table_name === table)
    const extra = sqliteColumns.filter(column => !own.some(row => row.column_name === column))
    if (extra.length > 0) throw new Error(`${table}: SQLite columns PostgreSQL lacks: ${extra.join(', ')}`)
    const columns: Column[] = own.map(row => {
      const index = sqliteColumns.indexOf(row.column_name)
      if (index >= 0) return { name: row.column_name, type: row.udt_name, source: index }
      const computed = COMPUTED[`${table}.${row.column_name}`]
      if (computed === undefined) throw new Error(`${table}.${row.column_name}: a PostgreSQL column with no SQLite column and no rule to compute it`)
      const from = computed.from.map(column => {
        const at = sqliteColumns.indexOf(column)
        if (at < 0) throw new Error(`${table}.${row.column_name} is computed from ${column}, which SQLite's ${table} lacks`)
        return at
      })
      return { name: row.column_name, type: row.udt_name, source: (values: unknown[]) => computed.value(column => values[from[computed.from.indexOf(column)]!]) }
    })
    const key = keyOf.get(table)
    if (key === undefined) throw new Error(`${table}: no primary key in PostgreSQL`)
    return {
      name: table,
      columns,
      sqliteColumns,
      key,
      identity: own.find(row => row.is_identity === 'YES')?.column_name ?? null,
      blobs: own.some(row => row.udt_name === 'bytea'),
    }
  })
}

/** Tables whose rows a copy cut short can have left, each with the key that names a row whatever its id. */
const IDENTIFIED_BY: ReadonlyArray<readonly [table: string, key: string]> = [['series', 'name'], ['machines', 'name'], ['runs', 'dedup_key'], ['tokens', 'name']]

/**
 * Refuses a PostgreSQL store that holds rows of its own: a copy resumes after the rows already
 * there, and one of another store would be left standing beside the copied ones (same counts,
 * other data). Every row there must be the SQLite row of the same id.
 */
async function checkTarget (sqliteDb: Database, pool: pg.Pool): Promise<void> {
  for (const [table, key] of IDENTIFIED_BY) {
    const { rows } = await pool.query<{ id: number, key: string }>(`SELECT id, ${quote(key)} AS key FROM ${quote(table)} ORDER BY id`)
    const lookup = sqliteDb.prepare(`SELECT ${quote(key)} FROM ${quote(table)} WHERE id = ?`).pluck()
    const other = rows.find(row => lookup.get(row.id) !== row.key)
    if (other !== undefined) {
      throw new Error(`the PostgreSQL store is not empty and not a copy of this SQLite store: its ${table} row ${other.id} (${JSON.stringify(other.key)}) is not there; copy into an empty database`)
    }
  }
}

async function copyTable (sqliteDb: Database, pool: pg.Pool, plan: TablePlan, batchRows: number,
  onProgress: CopyOptions['onProgress']): Promise<{ rows: number, copied: number, skipped: boolean }> {
  const table = quote(plan.name)
  const total = (sqliteDb.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number)
  const already = Number((await pool.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n)
  // store_state is a handful of counters, and the new store has its own write_counter row: always taken over
  const upsert = plan.name === 'store_state'
  if (already >= total && !upsert) {
    onProgress?.({ table: plan.name, copied: already, total, skipped: true, done: true })
    return { rows: total, copied: 0, skipped: true }
  }

  const keyList = plan.key.map(quote).join(', ')
  const selected = plan.sqliteColumns.map(quote).join(', ')
  const keyIndexes = plan.key.map(column => plan.sqliteColumns.indexOf(column))
  const keyMatch = plan.key.length === 1 ? `${keyList} > ?` : `(${keyList}) > (${plan.key.map(() => '?').join(', ')})`
  const first = sqliteDb.prepare(`SELECT ${selected} FROM ${table} ORDER BY ${keyList} LIMIT ?`).raw()
  const next = sqliteDb.prepare(`SELECT ${selected} FROM ${table} WHERE ${keyMatch} ORDER BY ${keyList} LIMIT ?`).raw()

  // a copy cut short committed its batches in key order: go on after the last row it wrote
  let after: unknown[] | null = null
  if (already > 0 && !upsert) {
    const { rows } = await pool.query({ text: `SELECT ${keyList} FROM ${table} ORDER BY ${plan.key.map(column => `${quote(column)} DESC`).join(', ')} LIMIT 1`, rowMode: 'array' })
    after = rows[0] as unknown[]
  }

  const insert = insertStatement(plan, upsert)
  let copied = 0
  for (;;) {
    const rows = (after === null ? first.all(batchRows) : next.all(...after, batchRows)) as unknown[][]
    if (rows.length === 0) {
      // the last batch was full: only this read found the end
      onProgress?.({ table: plan.name, copied: Math.min(already + copied, total), total, skipped: false, done: true })
      break
    }
    let result: pg.QueryResult
    try {
      result = await pool.query(insert(rows))
    } catch (err) {
      // say where: a value SQLite holds and PostgreSQL refuses (text with U+0000, a name too long
      // for a unique index) stops the copy at a row an operator can look up
      const from = keyIndexes.map(index => rows[0]![index])
      throw new Error(`${plan.name}: the ${rows.length} rows from (${plan.key.join(', ')}) = (${from.map(value => JSON.stringify(value)).join(', ')}): ${(err as Error).message}`, { cause: err })
    }
    copied += result.rowCount ?? 0
    const last = rows.at(-1)!
    after = keyIndexes.map(index => last[index])
    const done = rows.length < batchRows
    onProgress?.({ table: plan.name, copied: Math.min(already + copied, total), total, skipped: false, done })
    if (done) break
  }
  return { rows: total, copied, skipped: false }
}

/**
 * The statement that inserts a batch: one `unnest` of a typed array per column (one statement
 * text whatever the batch's size), or for tables with blobs a multi-row VALUES with binary
 * parameters. Rows already there (a resumed copy) stay as they are; store_state's take the copied values.
 */
function insertStatement (plan: TablePlan, upsert: boolean): (rows: unknown[][]) => pg.QueryConfig {
  const table = quote(plan.name)
  const columns = plan.columns.map(column => quote(column.name)).join(', ')
  const overriding = plan.identity === null ? '' : ' OVERRIDING SYSTEM VALUE'
  // an upsert changes (and counts) only the rows whose values differ
  const others = plan.columns.map(column => column.name).filter(column => !plan.key.includes(column))
  const conflict = upsert
    ? `ON CONFLICT (${plan.key.map(quote).join(', ')}) DO UPDATE SET (${others.map(quote).join(', ')}) = ROW(${others.map(column => `excluded.${quote(column)}`).join(', ')})
       WHERE (${others.map(column => `${table}.${quote(column)}`).join(', ')}) IS DISTINCT FROM (${others.map(column => `excluded.${quote(column)}`).join(', ')})`
    : 'ON CONFLICT DO NOTHING'
  const valueOf = (column: Column, row: unknown[]): unknown => typeof column.source === 'number' ? row[column.source] : column.source(row)
  if (plan.blobs) {
    return rows => {
      const values: unknown[] = []
      const tuples = rows.map(row => `(${plan.columns.map(column => {
        values.push(valueOf(column, row))
        return `$${values.length}`
      }).join(', ')})`)
      return { text: `INSERT INTO ${table} (${columns})${overriding} VALUES ${tuples.join(', ')} ${conflict}`, values }
    }
  }
  const text = `INSERT INTO ${table} (${columns})${overriding}
    SELECT * FROM unnest(${plan.columns.map((column, i) => `$${i + 1}::${column.type}[]`).join(', ')}) ${conflict}`
  return rows => ({ text, values: plan.columns.map(column => rows.map(row => valueOf(column, row))) })
}

/** The sequence of an identity column past the largest id copied, so that the next insert takes a new one. */
async function moveSequence (pool: pg.Pool, table: string, column: string): Promise<void> {
  await pool.query(`SELECT setval(pg_get_serial_sequence($1, $2), coalesce(max(${quote(column)}), 1), max(${quote(column)}) IS NOT NULL) FROM ${quote(table)}`,
    [quote(table), column])
}

export interface CopyDifference {
  /** A table's row count, or the name of an aggregate. */
  what: string
  /** What differs: the key of the group (a version id, a status), or '' for a whole-table figure. */
  key: string
  sqlite: unknown
  postgres: unknown
}

export interface CopyReport {
  equal: boolean
  tables: Array<{ table: string, sqlite: number, postgres: number }>
  /** Each aggregate compared, with how many groups it has on the SQLite side. */
  aggregates: Array<{ name: string, groups: number, equal: boolean }>
  differences: CopyDifference[]
}

const COUNT_COLUMNS = ['total', ...STATUSES]
const FAILING = "('fail', 'xpass', 'timeout', 'error')"

/**
 * Figures the copy must keep, written for each side: the first column is the group's key (''
 * for one over the whole table), the rest its values. PostgreSQL's sums are cast to bigint, which
 * the store's pool reads as numbers.
 */
const AGGREGATES: Array<{ name: string, sqlite: string, postgres: string }> = (() => {
  const caseStatsSums = [...COUNT_COLUMNS, 'trouble', 'infrastructure']
  const sums = (columns: string[], cast: string) => columns.map(column => `coalesce(sum(${column}), 0)${cast}`).join(', ')
  return [
    {
      name: 'case_stats sums',
      sqlite: `SELECT '', ${sums(caseStatsSums, '')} FROM case_stats`,
      postgres: `SELECT '', ${sums(caseStatsSums, '::bigint')} FROM case_stats`,
    },
    {
      name: 'case_stats sums per version',
      sqlite: `SELECT version_id, count(*), ${sums(caseStatsSums, '')} FROM case_stats GROUP BY version_id ORDER BY version_id`,
      postgres: `SELECT version_id, count(*), ${sums(caseStatsSums, '::bigint')} FROM case_stats GROUP BY version_id ORDER BY version_id`,
    },
    {
      name: 'runs and their tests per version',
      sqlite: `SELECT version_id, count(*), count(DISTINCT machine_id), ${sums([...COUNT_COLUMNS, 'not_run', '1 - complete', 'log_bytes', 'log_lines'], '')} FROM runs GROUP BY version_id ORDER BY version_id`,
      postgres: `SELECT version_id, count(*), count(DISTINCT machine_id), ${sums([...COUNT_COLUMNS, 'not_run', '1 - complete', 'log_bytes', 'log_lines'], '::bigint')} FROM runs GROUP BY version_id ORDER BY version_id`,
    },
    {
      name: 'run_collections sums per version',
      sqlite: `SELECT r.version_id, count(*), ${sums(COUNT_COLUMNS.map(column => `rc.${column}`), '')} FROM run_collections rc JOIN runs r ON r.id = rc.run_id GROUP BY r.version_id ORDER BY r.version_id`,
      postgres: `SELECT r.version_id, count(*), ${sums(COUNT_COLUMNS.map(column => `rc.${column}`), '::bigint')} FROM run_collections rc JOIN runs r ON r.id = rc.run_id GROUP BY r.version_id ORDER BY r.version_id`,
    },
    {
      name: 'results per status',
      sqlite: 'SELECT status, count(*) FROM results GROUP BY status ORDER BY status',
      postgres: 'SELECT status, count(*) FROM results GROUP BY status ORDER BY status',
    },
    {
      // what SQLite computes when it reads, against the column the copy computed
      name: 'failing results with infrastructure evidence',
      sqlite: `SELECT '', coalesce(sum(status IN ${FAILING} AND ksft_infrastructure(status, exit_code, reason)), 0) FROM results`,
      postgres: `SELECT '', coalesce(sum(infrastructure), 0)::bigint FROM results`,
    },
    {
      name: 'raw log bytes (deflated)',
      sqlite: "SELECT '', count(*), coalesce(sum(length(content)), 0), coalesce(sum(line_count), 0) FROM log_chunks",
      postgres: "SELECT '', count(*), coalesce(sum(octet_length(content)), 0)::bigint, coalesce(sum(line_count), 0)::bigint FROM log_chunks",
    },
    {
      name: 'outcome set bytes',
      sqlite: "SELECT '', count(*), coalesce(sum(length(cells)), 0) FROM outcome_sets",
      postgres: "SELECT '', count(*), coalesce(sum(octet_length(cells)), 0)::bigint FROM outcome_sets",
    },
    {
      name: 'store state',
      sqlite: 'SELECT key, value FROM store_state ORDER BY key',
      postgres: 'SELECT key, value FROM store_state ORDER BY key',
    },
  ]
})()

/** A number PostgreSQL sent as text (a bigint or numeric read by a pool without the store's parsers) as a number. */
function plain (value: unknown): unknown {
  return typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value
}

/**
 * Row counts of every table and the aggregates of AGGREGATES, on both sides: what differs, table
 * by table and group by group (a version, a status).
 */
export async function verifyCopy (sqliteDb: Database, pool: pg.Pool): Promise<CopyReport> {
  const report: CopyReport = { equal: true, tables: [], aggregates: [], differences: [] }
  for (const table of COPY_ORDER) {
    const sqlite = sqliteDb.prepare(`SELECT count(*) FROM ${quote(table)}`).pluck().get() as number
    const postgres = Number((await pool.query(`SELECT count(*) AS n FROM ${quote(table)}`)).rows[0].n)
    report.tables.push({ table, sqlite, postgres })
    if (sqlite !== postgres) report.differences.push({ what: `${table} rows`, key: '', sqlite, postgres })
  }
  for (const aggregate of AGGREGATES) {
    const sqliteRows = sqliteDb.prepare(aggregate.sqlite).raw().all() as unknown[][]
    const pgRows = (await pool.query({ text: aggregate.postgres, rowMode: 'array' })).rows as unknown[][]
    const groups = (rows: unknown[][]) => new Map(rows.map(row => [String(row[0]), row.slice(1).map(plain)]))
    const left = groups(sqliteRows)
    const right = groups(pgRows)
    let equal = true
    for (const key of new Set([...left.keys(), ...right.keys()])) {
      const sqlite = left.get(key) ?? null
      const postgres = right.get(key) ?? null
      if (JSON.stringify(sqlite) !== JSON.stringify(postgres)) {
        equal = false
        report.differences.push({ what: aggregate.name, key, sqlite, postgres })
      }
    }
    report.aggregates.push({ name: aggregate.name, groups: left.size, equal })
  }
  report.equal = report.differences.length === 0
  return report
}
