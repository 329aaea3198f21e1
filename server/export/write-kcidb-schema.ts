import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { kcidbSubsetJsonSchema } from './kcidb-schema.ts'

/** docs/kcidb-v5.3-subset.schema.json, as written from server/export/kcidb-schema.ts. */
export const KCIDB_SCHEMA_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'kcidb-v5.3-subset.schema.json')

export function kcidbSchemaFileText (): string {
  return `${JSON.stringify(kcidbSubsetJsonSchema(), null, 2)}\n`
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(KCIDB_SCHEMA_FILE, kcidbSchemaFileText())
  process.stdout.write(`wrote ${KCIDB_SCHEMA_FILE}\n`)
}
