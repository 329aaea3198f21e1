import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { buildTestApp, uploadUrl } from '../helpers/app.ts'
import { TEST_BACKEND, testStoreLocation } from '../helpers/backend.ts'
import { FROM_SOURCE, KSFT, runKsft } from '../helpers/cli.ts'
import { PROJECT_ROOT } from '../helpers/fixtures.ts'
import { tempDir } from '../helpers/store.ts'

const LOG = 'TAP version 13\n1..2\n# selftests: kvm: a\nok 1 selftests: kvm: a\n# selftests: kvm: b\nnot ok 2 selftests: kvm: b # exit=1\n'

/**
 * A module hook (loaded with --import, before bin/ksft) that writes every module URL the command
 * resolves to a file: what a command loads, seen from outside, whatever loader runs the sources.
 */
function recorderHook (t: TestContext): { hook: string, out: string } {
  const dir = tempDir(t)
  const out = join(dir, 'resolved.txt')
  const hooks = `import { appendFileSync } from 'node:fs'
let out
export function initialize (data) { out = data.out }
export async function resolve (specifier, context, next) {
  const resolved = await next(specifier, context)
  appendFileSync(out, resolved.url + '\\n')
  return resolved
}`
  const hook = join(dir, 'record-modules.mjs')
  writeFileSync(hook, `import { register } from 'node:module'
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)}, { data: { out: ${JSON.stringify(out)} } })
`)
  writeFileSync(out, '')
  return { hook, out }
}

/** Runs `ksft args` and returns its exit code and the npm packages it loaded. */
async function packagesLoaded (t: TestContext, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number, stderr: string, packages: Set<string> }> {
  const { hook, out } = recorderHook(t)
  const { code, stderr } = await new Promise<{ code: number, stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import', hook, KSFT, ...args], { env: { ...process.env, ...FROM_SOURCE, ...env } }, (err, _stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr })
    })
  })
  const packages = new Set<string>()
  for (const url of readFileSync(out, 'utf8').split('\n')) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
    if (m) packages.add(m[1]!)
  }
  return { code, stderr, packages }
}

const SERVER_ONLY = ['fastify', 'better-sqlite3', 'pg']
/** The database driver of the backend the tests run on. */
const DRIVER = TEST_BACKEND === 'postgres' ? 'pg' : 'better-sqlite3'

function assertLoadsNone (packages: Set<string>, what: string): void {
  for (const name of SERVER_ONLY) assert.ok(!packages.has(name), `${what} loaded ${name}`)
}

test('the recorder sees a command load the database driver and the server (the check below can fail)', async (t) => {
  const db = await testStoreLocation(t)
  const log = join(tempDir(t), 'ksft.log')
  writeFileSync(log, LOG)
  const ingest = await packagesLoaded(t, ['ingest', log, '--db', db, '--series', 's', '--version', 'v1'])
  assert.equal(ingest.code, 0, ingest.stderr)
  assert.ok(ingest.packages.has(DRIVER), `ingest loaded ${[...ingest.packages].join(', ')}`)
})

test('ksft --help and each command\'s --help load neither fastify nor a database driver', async (t) => {
  for (const args of [['--help'], ['gate', '--help'], ['compare', '--help'], ['upload', '--help'], ['ingest', '--help'], ['serve', '--help'], ['series', 'merge', '--help'], ['migrate-store', '--help']]) {
    const run = await packagesLoaded(t, args)
    assert.equal(run.code, 0, run.stderr)
    assertLoadsNone(run.packages, `ksft ${args.join(' ')}`)
    // commander is all the help needs; typebox alone takes longer to load than the rest of the CLI
    assert.ok(!run.packages.has('typebox'), `ksft ${args.join(' ')} loaded typebox`)
  }
})

test('ksft upload, gate and compare against a server load neither fastify nor a database driver', async (t) => {
  const { app, token } = await buildTestApp(t)
  for (const version of ['v1', 'v2']) {
    const res = await app.inject({ method: 'POST', url: uploadUrl({ series: 's', version, machine: 'm1' }), payload: LOG, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
    assert.equal(res.statusCode, 201, res.body)
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  const server = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const log = join(tempDir(t), 'ksft.log')
  writeFileSync(log, LOG)

  const upload = await packagesLoaded(t, ['upload', log, '--series', 's', '--version', 'v3', '--machine', 'm1', '--server', server], { KSFT_TOKEN: token })
  assert.equal(upload.code, 0, upload.stderr)
  assertLoadsNone(upload.packages, 'ksft upload')

  const gate = await packagesLoaded(t, ['gate', '--server', server, '--series', 's', '--base', 'v1', '--head', 'v2'])
  assert.equal(gate.code, 0, gate.stderr)
  assertLoadsNone(gate.packages, 'ksft gate')

  const compare = await packagesLoaded(t, ['compare', '--server', server, '--series', 's', '--base', 'v1', '--head', 'v3'])
  assert.equal(compare.code, 0, compare.stderr)
  assertLoadsNone(compare.packages, 'ksft compare')
})

test('ksft --version prints the version of package.json', async () => {
  const { version } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }
  const run = await runKsft(['--version'])
  assert.equal(run.code, 0, run.stderr)
  assert.equal(run.stdout, `${version}\n`)
  // after a command, --version is that command's option: the series version of ingest and upload
  const upload = await runKsft(['upload', '-', '--series', 's', '--version', 'v7', '--server', 'http://127.0.0.1:9'], { env: { KSFT_TOKEN: '' } })
  assert.equal(upload.code, 2)
  assert.match(upload.stderr, /no token/)
})

/** Runs ksft with its standard output closed before it writes: the next write fails with EPIPE. */
function withClosedStdout (args: string[]): Promise<{ code: number | null, stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KSFT, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...FROM_SOURCE } })
    child.stdout.destroy()
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.on('close', code => resolve({ code, stderr }))
  })
}

test('output into a closed pipe ends quietly, and the exit code stays the command\'s', async (t) => {
  const help = await withClosedStdout(['--help'])
  assert.deepEqual(help, { code: 0, stderr: '' })

  const db = await testStoreLocation(t)
  const log = join(tempDir(t), 'ksft.log')
  writeFileSync(log, LOG)
  const stored = await withClosedStdout(['ingest', log, '--db', db, '--series', 's', '--version', 'v1'])
  assert.deepEqual(stored, { code: 0, stderr: '' })

  const missing = await withClosedStdout(['ingest', join(tempDir(t), 'no-such.log'), '--db', db, '--series', 's', '--version', 'v1'])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /^ksft: error: cannot read .*no-such\.log: no such file\n$/)
})
