import type pg from 'pg'
import { loadMigrationFiles, migrationsDir, type Migration } from '../migration-files.ts'

/**
 * The advisory lock every migrating node takes ('ksft' in ASCII). Advisory locks belong to one
 * database, so two stores in one cluster do not wait for each other.
 */
const MIGRATION_LOCK = 0x6b736674

export type { Migration }

export function loadMigrations (dir = migrationsDir('postgres')): Migration[] {
  return loadMigrationFiles(dir)
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
