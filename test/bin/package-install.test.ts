import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { test, type TestContext } from 'node:test'
import { freePort } from '../helpers/cli.ts'
import { PROJECT_ROOT } from '../helpers/fixtures.ts'
import { tempDir } from '../helpers/store.ts'

/**
 * The package as a user gets it: `npm pack` (which runs the build), then `npm install -g` of the
 * tarball into a temporary prefix, then the installed `ksft` alone, with no tsx, no sources and no
 * checkout around it.
 *
 * npm installs the dependencies from its cache when it can (--prefer-offline). The one native
 * module, better-sqlite3, would compile for a minute: when the installed version is the checkout's,
 * its compiled addon is copied in instead (same version, same Node), else npm rebuilds it.
 */

const LOG = 'TAP version 13\n1..3\n# selftests: memfd: memfd_test\nok 1 selftests: memfd: memfd_test\n' +
  '# selftests: memfd: run_fuse_test.sh\nnot ok 2 selftests: memfd: run_fuse_test.sh # exit=1\n' +
  '# selftests: memfd: run_hugetlbfs_test.sh\nok 3 selftests: memfd: run_hugetlbfs_test.sh # SKIP\n'

interface Run { code: number, stdout: string, stderr: string }

/** npm run from `npm test` inherits npm_config_* of that run (the prefix among them): start clean. */
function cleanEnv (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key)) env[key] = value
  return { ...env, ...extra }
}

function run (file: string, args: string[], options: { cwd?: string, env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: options.cwd, env: cleanEnv(options.env), maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
    })
  })
}

function filesUnder (dir: string, skip: (path: string) => boolean): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (skip(path)) continue
    if (entry.isDirectory()) out.push(...filesUnder(path, skip))
    else out.push(path)
  }
  return out
}

async function install (t: TestContext): Promise<{ ksft: string, packageDir: string }> {
  const work = tempDir(t)
  const packed = await run('npm', ['pack', '--pack-destination', work, '--silent'], { cwd: PROJECT_ROOT })
  assert.equal(packed.code, 0, packed.stderr)
  const tarball = join(work, packed.stdout.trim().split('\n').pop()!)
  assert.ok(existsSync(tarball), `npm pack made no ${tarball}`)

  const prefix = join(work, 'prefix')
  const installed = await run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball])
  assert.equal(installed.code, 0, installed.stderr)
  const packageDir = join(prefix, 'lib', 'node_modules', 'ksft-dashboard')

  const driver = join(packageDir, 'node_modules', 'better-sqlite3')
  const versionOf = (dir: string) => (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version
  const ours = join(PROJECT_ROOT, 'node_modules', 'better-sqlite3')
  const addon = join('build', 'Release', 'better_sqlite3.node')
  if (versionOf(driver) === versionOf(ours) && existsSync(join(ours, addon))) {
    mkdirSync(join(driver, 'build', 'Release'), { recursive: true })
    copyFileSync(join(ours, addon), join(driver, addon))
  } else {
    const rebuilt = await run('npm', ['rebuild', 'better-sqlite3'], { cwd: packageDir })
    assert.equal(rebuilt.code, 0, rebuilt.stderr)
  }
  return { ksft: join(prefix, 'bin', 'ksft'), packageDir }
}

test('npm pack makes a package that installs with npm install -g, and the installed ksft ingests, serves the dashboard and uploads', { timeout: 240_000 }, async (t) => {
  const { ksft, packageDir } = await install(t)

  // what ships: bin/ksft and the compiled tree, no sources, tests, benchmarks or fixtures
  const shipped = filesUnder(packageDir, path => path === join(packageDir, 'node_modules')).map(path => relative(packageDir, path))
  assert.ok(shipped.includes(join('dist', 'bin', 'cli.js')))
  assert.ok(shipped.includes(join('dist', 'web', 'dist', 'index.html')))
  for (const path of shipped) {
    assert.match(path, /^(bin\/ksft|dist\/.*|package\.json|README\.md|LICENSE)$/, `${path} is in the package`)
    assert.doesNotMatch(path, /\.ts$/, `${path} is in the package`)
  }
  // devDependencies stay out: this ksft cannot fall back to tsx and the sources
  assert.ok(!existsSync(join(packageDir, 'node_modules', 'tsx')), 'tsx was installed')
  assert.ok(!existsSync(join(packageDir, 'node_modules', 'esbuild')), 'esbuild was installed')

  const work = tempDir(t)
  const db = join(work, 'ksft.db')
  const log = join(work, 'ksft.log')
  writeFileSync(log, LOG)
  // run from elsewhere than the checkout, as a user would
  const ksftRun = (args: string[], env: NodeJS.ProcessEnv = {}) => run(ksft, args, { cwd: work, env })

  const help = await ksftRun(['--help'])
  assert.equal(help.code, 0, help.stderr)
  assert.match(help.stdout, /^Usage: ksft /)
  for (const command of ['ingest', 'serve', 'upload', 'gate', 'token']) assert.match(help.stdout, new RegExp(`\\n {2}${command} `))

  const version = await ksftRun(['--version'])
  assert.equal(version.stdout.trim(), (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version)

  const ingest = await ksftRun(['ingest', log, '--db', db, '--series', 'memfd: installed', '--version', 'v1', '--machine', 'm1'])
  assert.equal(ingest.code, 0, ingest.stderr)
  assert.match(ingest.stdout, /^run 1 stored: memfd: installed v1 on m1\n {2}3 tests: 1 pass, 1 fail, 1 skip\n/)

  const token = await ksftRun(['token', 'create', '--name', 'ci', '--db', db])
  assert.equal(token.code, 0, token.stderr)
  const secret = token.stdout.trim().split('\n').pop()!

  const port = await freePort()
  const server = spawn(ksft, ['serve', '--db', db, '--host', '127.0.0.1', '--port', String(port)], {
    cwd: work, env: cleanEnv({ KSFT_LOG_LEVEL: 'warn' }), stdio: ['ignore', 'ignore', 'pipe'],
  })
  let serverErr = ''
  server.stderr.on('data', (chunk: Buffer) => { serverErr += chunk.toString() })
  t.after(() => { if (server.exitCode === null) server.kill('SIGKILL') })
  const base = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 20_000
  for (;;) {
    assert.equal(server.exitCode, null, `ksft serve exited: ${serverErr}`)
    try {
      if ((await fetch(`${base}/healthz`)).ok) break
    } catch {}
    assert.ok(Date.now() < deadline, `ksft serve did not answer within 20 s: ${serverErr}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }

  // the dashboard is there with no build step of its own
  const page = await fetch(`${base}/`)
  assert.equal(page.status, 200)
  const html = await page.text()
  assert.match(html, /<script[^>]+src="\/assets\/app\.js"/)
  const script = await fetch(`${base}/assets/app.js`)
  assert.equal(script.status, 200)
  assert.match(script.headers.get('content-type') ?? '', /javascript/)
  assert.ok((await script.arrayBuffer()).byteLength > 10_000)
  const hook = await fetch(`${base}/hook.sh`)
  assert.equal(hook.status, 200)
  assert.match(await hook.text(), /^#!\/bin\/sh\n/)

  const upload = await ksftRun(['upload', log, '--server', base, '--series', 'memfd: installed', '--version', 'v2', '--machine', 'm1'], { KSFT_TOKEN: secret })
  assert.equal(upload.code, 0, upload.stderr)
  assert.equal(upload.stdout, `${base}/runs/2\n`)
  const stored = await fetch(`${base}/api/v1/runs/2`)
  assert.equal(stored.status, 200)
  assert.equal(((await stored.json()) as { summary: { total: number } }).summary.total, 3)

  const gate = await ksftRun(['gate', '--server', base, '--series', 'memfd: installed', '--base', 'v1', '--head', 'v2'])
  assert.equal(gate.code, 0, `${gate.stdout}${gate.stderr}`)
  assert.equal(serverErr, '')
})
