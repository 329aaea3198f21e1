/**
 * `npm run test:postgres`: the suites whose answers depend on the store, again, each app, command
 * and server on a fresh PostgreSQL database (KSFT_TEST_BACKEND=postgres, helpers/backend.ts). `npm
 * test` runs it before the whole suite, whose closing `# pass` / `# fail` lines are the ones CI
 * reads; without PostgreSQL it says how to enable it in one line and succeeds, as the PostgreSQL
 * storage tests skip. Every file runs on one server started here, rather than one of its own each.
 *
 * The suites: every route file and the others that reach a Store method no route file does
 * (exports.run through a worker and in-process, an admin's delete, merge and prune, the verdicts'
 * reads, the matrix's pages); the CLI commands that open a store (`--db`: ingest, export, prune,
 * demo, token, serve) and the thin ones against a server (gate among them); the upload hook; the
 * hardening suites.
 * Between them every method of the Store interface runs on PostgreSQL.
 *
 * Left to the SQLite run, because they check what only SQLite has:
 * - hardening/backup: `ksft backup` copies a SQLite file (PostgreSQL's is pg_dump, which the
 *   store says: storage/open-store.test.ts);
 * - hardening/store-faults: a full or read-only SQLite file (its max_page_count and query_only);
 * - in hardening/timeouts, the token-use test holding SQLite's write lock from a second
 *   connection, skipped here by sqliteOnly;
 * - test/server/storage/*: the stores' own tests, of SQLite's classes and migrations beside the
 *   PostgreSQL store's (postgres-*.test.ts, open-store; and server/multi-node), which start a
 *   server of their own in the plain run;
 * - bin/package-install: the packed and installed ksft on a SQLite file, as a user starts it with
 *   no database server, and bin/ksft-parse: the parser alone, with no store.
 * Not here since the store is not theirs to tell apart: the parser's suites (test/ingest), the
 * OpenAPI document, the pure query and domain suites, and the dashboard's pages (test/web), whose
 * data comes from the API the route suites check here.
 */
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { PROJECT_ROOT } from './helpers/fixtures.ts'
import { postgresSkip, startPostgres } from './helpers/postgres.ts'

const ROUTES = join('test', 'server', 'routes')
const SUITES = [
  // the API
  ...readdirSync(join(PROJECT_ROOT, ROUTES)).filter(file => file.endsWith('.test.ts')).sort().map(file => join(ROUTES, file)),
  'test/server/response-cache.test.ts',
  'test/server/queries/honest-verdicts.test.ts',
  'test/server/queries/matrix.test.ts',
  // what reads a store outside the routes
  'test/server/demo/demo-series.test.ts',
  'test/server/export/export-routes.test.ts',
  'test/server/export/junit.test.ts',
  'test/server/export/kcidb.test.ts',
  'test/server/export/streamed-exports.test.ts',
  // the CLI and the upload hook
  'test/bin/ci-line.test.ts',
  'test/bin/ksft-export.test.ts',
  'test/bin/ksft-gate.test.ts',
  'test/bin/ksft-ingest.test.ts',
  'test/bin/ksft-issue.test.ts',
  'test/bin/ksft-series.test.ts',
  'test/bin/ksft-upload.test.ts',
  'test/bin/thin-cli.test.ts',
  'test/hook/ksft-upload.test.ts',
  'test/hook/patch-list.test.ts',
  // hardening
  'test/hardening/access.test.ts',
  'test/hardening/admin.test.ts',
  'test/hardening/availability.test.ts',
  'test/hardening/bad-input.test.ts',
  'test/hardening/bounded-answers.test.ts',
  'test/hardening/faults.test.ts',
  'test/hardening/identifiers.test.ts',
  'test/hardening/load.test.ts',
  'test/hardening/serve-config.test.ts',
  'test/hardening/timeouts.test.ts',
]

/** The suites as one node --test run on `databaseUrl`'s server; its exit code. */
function runSuites (databaseUrl: string): Promise<number> {
  const args = ['--import', 'tsx', '--test', ...process.argv.slice(2), ...SUITES]
  const env = { ...process.env, KSFT_TEST_BACKEND: 'postgres', KSFT_TEST_DATABASE_URL: databaseUrl }
  const run = spawn(process.execPath, args, { cwd: PROJECT_ROOT, stdio: 'inherit', env })
  return new Promise((resolve, reject) => {
    run.on('error', reject)
    run.on('close', code => resolve(code ?? 1))
  })
}

const skip = postgresSkip()
if (skip !== false) {
  process.stdout.write(`${skip} (the store's suites on PostgreSQL, npm run test:postgres)\n`)
} else {
  const server = (await startPostgres())!
  try {
    process.exitCode = await runSuites(server.url)
  } finally {
    await server.stop()
  }
}
