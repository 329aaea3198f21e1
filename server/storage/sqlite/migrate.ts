import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Database } from 'better-sqlite3'
import { STATUSES } from '../../../ingest/vocabulary.ts'
import { AUDIT_ACTIONS, CULPRITS } from '../../domain/known-issues.ts'
import { BACKFILLS } from './backfills.ts'

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'migrations', 'sqlite')

export interface Migration {
  version: number
  name: string
  sql: string
}

/** Values the migrations take from the code's one definition of a vocabulary. */
const PLACEHOLDERS: Record<string, string> = {
  STATUSES: STATUSES.map(status => `'${status}'`).join(', '),
  CULPRITS: CULPRITS.map(culprit => `'${culprit}'`).join(', '),
  AUDIT_ACTIONS: AUDIT_ACTIONS.map(action => `'${action}'`).join(', '),
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
