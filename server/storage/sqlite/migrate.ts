import type { Database } from 'better-sqlite3'
import { BACKFILLS } from './backfills.ts'
import { loadMigrationFiles, migrationsDir, type Migration } from '../migration-files.ts'

export type { Migration }

export function loadMigrations (dir = migrationsDir('sqlite')): Migration[] {
  return loadMigrationFiles(dir)
}

/**
 * Applies, in order, every migration newer than the file's `user_version`, each in a transaction
 * that also sets `user_version` (and runs its backfill, see backfills.ts): forward only, and a failed migration leaves the file as it was.
 */
export function migrate (db: Database, migrations = loadMigrations()): number[] {
  const current = db.pragma('user_version', { simple: true }) as number
  const newest = migrations.at(-1)?.version ?? 0
  if (current > newest) {
    throw new Error(`the database is at schema version ${current}, newer than this ksft-dashboard (${newest}); upgrade ksft-dashboard`)
  }
  const applied: number[] = []
  for (const migration of migrations) {
    if (migration.version <= current) continue
    db.transaction(() => {
      db.exec(migration.sql)
      BACKFILLS[migration.version]?.(db)
      db.pragma(`user_version = ${migration.version}`)
    })()
    applied.push(migration.version)
  }
  return applied
}
