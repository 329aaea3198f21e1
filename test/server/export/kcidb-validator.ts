import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv, type ErrorObject } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { PROJECT_ROOT } from '../../helpers/fixtures.ts'

// ajv-formats is CommonJS: its plugin is the default export under one loader and the module under another
const addFormats = addFormatsModule.default ?? addFormatsModule

export const KCIDB_SCHEMA_PATH = join(PROJECT_ROOT, 'docs', 'kcidb-v5.3-subset.schema.json')

/** The committed KCIDB subset schema, compiled with formats checked (uri, email, date-time). */
export function kcidbValidator (): (document: unknown) => ErrorObject[] {
  const ajv = new Ajv({ allErrors: true, strict: true })
  addFormats(ajv)
  const validate = ajv.compile(JSON.parse(readFileSync(KCIDB_SCHEMA_PATH, 'utf8')) as object)
  return (document) => (validate(document) ? [] : [...(validate.errors ?? [])])
}

/** Every path in a JSON value where a null sits: KCIDB forbids them anywhere. */
export function nullPaths (value: unknown, path = '$'): string[] {
  if (value === null) return [path]
  if (Array.isArray(value)) return value.flatMap((item, i) => nullPaths(item, `${path}[${i}]`))
  if (typeof value === 'object') return Object.entries(value as object).flatMap(([key, item]) => nullPaths(item, `${path}.${key}`))
  return []
}
