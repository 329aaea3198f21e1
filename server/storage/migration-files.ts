import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FLAGS, STATUSES } from '../../ingest/vocabulary.ts'
import { AUDIT_ACTIONS, CULPRITS } from '../domain/known-issues.ts'
import { TOKEN_SCOPES } from './rows.ts'

/** One numbered SQL file of a dialect's migrations (migrations/<dialect>/NNN-name.sql). */
export interface Migration {
  version: number
  name: string
  sql: string
}

/** A list of SQL string literals, for `IN (...)` and `ARRAY[...]`. */
function literals (values: readonly string[]): string {
  return values.map(value => `'${value.replaceAll("'", "''")}'`).join(', ')
}

/** Values the migrations of both dialects take from the code's one definition of a vocabulary. */
const PLACEHOLDERS: Record<string, string> = {
  STATUSES: literals(STATUSES),
  FLAGS: literals(FLAGS),
  CULPRITS: literals(CULPRITS),
  AUDIT_ACTIONS: literals(AUDIT_ACTIONS),
  TOKEN_SCOPES: literals(TOKEN_SCOPES),
}

/** The migrations directory of a dialect. */
export function migrationsDir (dialect: 'sqlite' | 'postgres'): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'migrations', dialect)
}

/** A directory's numbered migrations in order, each `{{NAME}}` filled in from PLACEHOLDERS. */
export function loadMigrationFiles (dir: string): Migration[] {
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
