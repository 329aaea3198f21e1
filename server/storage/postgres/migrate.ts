import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type pg from 'pg'
import { FLAGS, STATUSES } from '../../../ingest/vocabulary.ts'
import { AUDIT_ACTIONS, CULPRITS } from '../../domain/known-issues.ts'
import { TOKEN_SCOPES } from '../rows.ts'

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'migrations', 'postgres')

/**
 * The advisory lock every migrating node takes ('ksft' in ASCII). Advisory locks belong to one
 * database, so two stores in one cluster do not wait for each other.
 */
const MIGRATION_LOCK = 0x6b736674

export interface Migration {
  version: number
  name: string
  sql: string
}

/** A list of SQL string literals, for `IN (...)` and `ARRAY[...]`. */
function literals (values: readonly string[]): string {
  return values.map(value => `'${value.replaceAll("'", "''")}'`).join(', ')
}

/** Values the migrations take from the code's one definition of a vocabulary. */
const PLACEHOLDERS: Record<string, string> = {
  STATUSES: literals(STATUSES),
  FLAGS: literals(FLAGS),
  CULPRITS: literals(CULPRITS),
  AUDIT_ACTIONS: literals(AUDIT_ACTIONS),
  TOKEN_SCOPES: literals(TOKEN_SCOPES),
}

export function loadMigrations (dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter(file => /^\d+-[\w-]+\.sql$/.test(file))
    .map(file => ({
      version: Number.parseInt(file, 10),
      name: file,
      sql: readFileSync(join(dir, file), 'utf8').replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
        const value = PLACEHOLDERS[key]
        if (value === undefined) throw new Error(`${file}: unknown placeholder {{${key}}}`)
        return value
      }),
    }))
    .sort((a, b) => a.version - b.version)
}

/**
 * Applies, in order, every migration newer than the database, each in a transaction that also
 * records its version in schema_migrations: forward only, and a failed migration leaves the
 * database as it was. Each transaction holds the migration lock from its first statement, so that
 * nodes starting together apply every migration once: the others wait, then find it applied.
 * Returns the versions this call applied.
 */
export async function migrate (pool: pg.Pool, migrations = loadMigrations()): Promise<number[]> {
  const newest = migrations.at(-1)?.version ?? 0
  const applied: number[] = []
  const client = await pool.connect()
  // a connection whose ROLLBACK failed is not handed back to the pool
  let broken: Error | undefined
  try {
    for (;;) {
      await client.query('BEGIN')
      try {
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
        await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
          version integer PRIMARY KEY,
          name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now())`)
        const { rows } = await client.query<{ current: number }>('SELECT coalesce(max(version), 0) AS current FROM schema_migrations')
        const current = rows[0]!.current
        if (current > newest) {
          throw new Error(`the database is at schema version ${current}, newer than this ksft-dashboard (${newest}); upgrade ksft-dashboard`)
        }
        const next = migrations.find(migration => migration.version > current)
        if (next === undefined) {
          await client.query('COMMIT')
          return applied
        }
        // no parameters: the simple protocol, which runs the file's statements one after another
        await client.query(next.sql)
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [next.version, next.name])
        await client.query('COMMIT')
        applied.push(next.version)
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => { broken = rollbackError })
        throw err
      }
    }
  } finally {
    client.release(broken)
  }
}
