/**
 * Writes docs/openapi.json from the route schemas of the app as built (`npm run openapi`).
 * test/server/openapi.test.ts fails when the committed file and the schemas disagree.
 */
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../server/app.ts'

export const OPENAPI_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'openapi.json')

/** The OpenAPI document as the server serves it at /openapi.json, formatted for review in diffs. */
export async function openApiDocument (): Promise<string> {
  const app = await buildApp({ logger: false })
  try {
    await app.ready()
    return JSON.stringify(app.swagger(), null, 2) + '\n'
  } finally {
    await app.close()
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(OPENAPI_PATH, await openApiDocument())
  console.log(`wrote ${OPENAPI_PATH}`)
}
