/**
 * `npm run test:postgres`: the API suites again, each app on a fresh PostgreSQL database
 * (KSFT_TEST_BACKEND=postgres, helpers/backend.ts). `npm test` runs it before the whole suite,
 * whose closing `# pass` / `# fail` lines are the ones CI reads; without PostgreSQL it says how to
 * enable it in one line and succeeds, as the PostgreSQL storage tests skip.
 *
 * The suites: every route file, and the few others that reach a Store method no route file does
 * (exports.run through a worker, an admin's delete and version merge, the verdicts' reads). Between
 * them every method of the Store interface runs on PostgreSQL; the CLI suites (test/bin), which
 * drive the same routes through child processes, are left to the SQLite run for time.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { PROJECT_ROOT } from './helpers/fixtures.ts'
import { postgresSkip } from './helpers/postgres.ts'

const ROUTES = join('test', 'server', 'routes')
const SUITES = [
  ...readdirSync(join(PROJECT_ROOT, ROUTES)).filter(file => file.endsWith('.test.ts')).sort().map(file => join(ROUTES, file)),
  'test/server/response-cache.test.ts',
  'test/server/export/export-routes.test.ts',
  'test/server/queries/honest-verdicts.test.ts',
  'test/hardening/admin.test.ts',
]

const skip = postgresSkip()
if (skip !== false) {
  process.stdout.write(`${skip} (the API suites on PostgreSQL, npm run test:postgres)\n`)
} else {
  const args = ['--import', 'tsx', '--test', ...process.argv.slice(2), ...SUITES]
  const run = spawnSync(process.execPath, args, { cwd: PROJECT_ROOT, stdio: 'inherit', env: { ...process.env, KSFT_TEST_BACKEND: 'postgres' } })
  process.exitCode = run.status ?? 1
}
