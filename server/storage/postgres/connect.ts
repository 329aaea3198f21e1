import pg from 'pg'
import { loadMigrations, migrate } from './migrate.ts'

export interface PostgresOptions {
  /** Connections the pool opens at most. */
  maxConnections?: number
  /**
   * Only to read (an export): nothing is created or migrated, a database without the current schema
   * is refused, and every transaction is read-only.
   */
  readonly?: boolean
}

/** Connections a pool keeps open while it is idle. */
const KEPT_CONNECTIONS = 2

/** True for what `--db` and KSFT_DATABASE_URL take as a PostgreSQL database rather than a SQLite file. */
export function isPostgresUrl (url: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(url)
}

/**
 * A pool on the database a `postgres://` or `postgresql://` URL names (a socket directory as
 * `?host=/run/postgresql`), with the schema brought up to date before it is returned. Close it
 * with `pool.end()`.
 */
export async function openPostgres (url: string, options: PostgresOptions = {}): Promise<pg.Pool> {
  // the URL itself stays out of the message: it may hold a password
  if (!isPostgresUrl(url)) throw new Error('a PostgreSQL database is named by a postgres:// or postgresql:// URL')
  const maxConnections = options.maxConnections ?? 10
  const pool = new pg.Pool({
    connectionString: url,
    max: maxConnections,
    // Two connections stay open however long the pool is idle: a request that had to open one (pg
    // closes an idle connection after 10 s) took 45-56 ms where one on an open connection took 9-14,
    // for a history page on the 10M-result store. Each connection is a PostgreSQL process of its
    // own, which pays at its start, and then for its first statements: planning on a cold catalog
    // cache, and a page fault for each page of shared memory it touches first (docs/scaling.md,
    // huge pages).
    min: Math.min(KEPT_CONNECTIONS, maxConnections),
    types: STORE_TYPES,
    Client: StoreClient,
    // Read-only is set on each connection once it is open, and the pool hands out no connection
    // whose setting failed (pg-pool awaits onConnect and ends the connection when it throws). Not
    // as a startup option (`options: '-c default_transaction_read_only=on'`): pg takes `options`
    // from the URL over the one given here, so a URL with `?options=-c default_transaction_read_only=off`
    // made a read-only store that writes. A setting made in the session comes after whatever the
    // URL, the role or the database set at startup.
    ...options.readonly ? { onConnect: readOnlySession } : {},
  })
  // An idle connection the server or the network dropped: the pool discards it and opens a new one
  // for the next query, and that query reports the trouble if it lasts. Without a listener, the
  // pool's 'error' event would end the process.
  pool.on('error', () => {})
  try {
    if (options.readonly) await checkSchema(pool)
    else await migrate(pool)
    return pool
  } catch (err) {
    await pool.end()
    throw err
  }
}

/**
 * PostgreSQL's text cannot hold U+0000 ("invalid byte sequence for encoding UTF8: 0x00"), and a
 * serial console puts NULs in kernel logs, so in a test's reason too: the upload failed with a
 * 500 where SQLite stores it. Every string a statement is given (and each string of an array) is
 * written with U+FFFD, the replacement character, in its place; the raw log, kept as bytes,
 * keeps the byte itself. A copy from SQLite (ksft migrate-store) goes through here as well.
 */
export function storableText (value: unknown): unknown {
  if (typeof value === 'string') return storableString(value)
  if (Array.isArray(value) && value.some(item => (typeof item === 'string' && item.includes(NUL)) || Array.isArray(item))) return value.map(storableText)
  return value
}
const NUL = '\u0000'
const REPLACEMENT = '\uFFFD'

/** A string as PostgreSQL stores it (storableText). */
export function storableString (value: string): string {
  return value.includes(NUL) ? value.replaceAll(NUL, REPLACEMENT) : value
}

/** The pool's connections: pg.Client, with the values of every statement made storable (storableText). */
class StoreClient extends pg.Client {
  override query (...args: unknown[]): never {
    const [config, values] = args
    if (Array.isArray(values)) args[1] = values.map(storableText)
    else if (isPlainObject(config) && Array.isArray(config.values)) args[0] = { ...config, values: config.values.map(storableText) }
    return (super.query as (...given: unknown[]) => never)(...args)
  }
}

/** A statement given as { text, values, name, ... }, not a submittable (a cursor, a COPY stream) that must stay what it is. */
function isPlainObject (value: unknown): value is { values?: unknown } {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype
}

/** Makes every later transaction of the connection read-only (a write fails: "cannot execute ... in a read-only transaction"). */
async function readOnlySession (client: pg.ClientBase): Promise<void> {
  await client.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY')
}

/** A store opened to read is at this build's schema version: older, it would need migrating; none, it is no store. */
async function checkSchema (pool: pg.Pool): Promise<void> {
  const newest = loadMigrations().at(-1)?.version ?? 0
  const { rows: [table] } = await pool.query<{ present: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
  if (table?.present !== true) throw new Error('the database holds no ksft-dashboard store')
  const { rows } = await pool.query<{ current: number }>('SELECT coalesce(max(version), 0) AS current FROM schema_migrations')
  const current = rows[0]!.current
  if (current !== newest) throw new Error(`the database is at schema version ${current}, this ksft-dashboard reads ${newest}; start ksft serve on it to migrate, or upgrade`)
}

const { INT8, TIMESTAMPTZ } = pg.types.builtins
/** bigint[]'s type id: pg.types.builtins names scalar types only. */
const INT8_ARRAY = 1016 as Parameters<typeof pg.types.getTypeParser>[0]
const parseTimestamp = pg.types.getTypeParser(TIMESTAMPTZ)
const parseInt8Array = pg.types.getTypeParser(INT8_ARRAY)

/**
 * Values as the SQLite store hands them to its callers, so that the code above the store reads
 * both backends alike: ids and counts (bigint) as numbers, not strings (they stay far below
 * 2^53), and times stamped by the clock as the ISO strings that were written. For this pool only:
 * pg.types.setTypeParser would change every pool of the process.
 */
const STORE_TYPES: pg.CustomTypesConfig = {
  getTypeParser: (oid, format) => {
    if (format !== 'binary') {
      if (oid === INT8) return Number
      if (oid === INT8_ARRAY) return (text: string) => (parseInt8Array(text) as Array<string | null>).map(item => item === null ? null : Number(item))
      if (oid === TIMESTAMPTZ) return (text: string) => (parseTimestamp(text) as Date).toISOString()
    }
    return pg.types.getTypeParser(oid, format)
  },
}
