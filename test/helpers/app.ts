import type { TestContext } from 'node:test'
import { buildApp, type AppOptions } from '../../server/app.ts'
import { testStoreLocation } from './backend.ts'
import { tempDir } from './store.ts'

/**
 * The real app on a fresh store (a SQLite file, or a PostgreSQL database with
 * KSFT_TEST_BACKEND=postgres: helpers/backend.ts), closed when the test ends; with an upload token.
 */
export async function buildTestApp (t: TestContext, options: AppOptions = {}) {
  const dir = tempDir(t)
  const dbPath = await testStoreLocation(t)
  const app = await buildApp({ dbPath, logger: false, ...options })
  t.after(() => app.close())
  const { token } = await app.store.tokens.create('test-uploader', ['upload'])
  return { app, dbPath, dir, token }
}

export function uploadUrl (meta: Record<string, string>): string {
  return `/api/v1/runs?${new URLSearchParams(meta).toString()}`
}
