import { join } from 'node:path'
import { after, type TestContext } from 'node:test'
import { startPostgres, type TestPostgres } from './postgres.ts'
import { tempDir } from './store.ts'

/**
 * The backend the API suites run on: SQLite, or PostgreSQL when KSFT_TEST_BACKEND=postgres
 * (`npm run test:postgres`). On PostgreSQL, each app gets a fresh database of one server shared by
 * the test file's process: the one KSFT_TEST_DATABASE_URL names, or a throwaway cluster started at
 * the first database asked for and stopped after the file's last test.
 */
export const TEST_BACKEND: 'sqlite' | 'postgres' = process.env.KSFT_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite'

let server: Promise<TestPostgres> | null = null
// imported at a test file's top: this hook is the file's own, run after its last test
if (TEST_BACKEND === 'postgres') after(async () => { await (await server)?.stop() })

/** Where a test's app keeps its store: a fresh SQLite file in a temp dir, or a fresh PostgreSQL database. */
export async function testStoreLocation (t: TestContext): Promise<string> {
  if (TEST_BACKEND === 'sqlite') return join(tempDir(t), 'ksft.db')
  server ??= startPostgres().then(started => {
    if (started === null) throw new Error("KSFT_TEST_BACKEND=postgres needs Debian's postgresql package or KSFT_TEST_DATABASE_URL")
    return started
  })
  return (await server).createDatabase()
}

/** Why a test cannot run on this backend (it checks what only SQLite has), or false. */
export function sqliteOnly (reason: string): string | false {
  return TEST_BACKEND === 'sqlite' ? false : `SQLite only: ${reason}`
}
