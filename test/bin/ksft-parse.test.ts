import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { parseKselftestLog } from '../../ingest/index.ts'
import { runKsft } from '../helpers/cli.ts'
import { capturedFixturePath, PROJECT_ROOT, realFixturePath, realFixturesSkip } from '../helpers/fixtures.ts'

// a captured run of the project's own (test/fixtures/captured/SOURCES.md): 8 kvm skips, 2 memfd
// passes, memfd_test killed with SIGKILL (exit=137), run_hugetlbfs_test.sh "ok" after an abort
const KILLED = capturedFixturePath('run_kselftest-test-killed.txt')

test('ksft parse FILE prints the counts, each failing or flagged test with its lines, and exits 0', async () => {
  const { code, stdout, stderr } = await runKsft(['parse', KILLED])
  assert.equal(code, 0, stderr)
  const lines = stdout.trimEnd().split('\n')
  assert.match(lines[0]!, /^3 tests: .*1 fail/)
  assert.match(lines[0]!, /2 pass/)
  assert.ok(lines.some(line => /^fail\s+memfd: memfd_test exit=137 \(lines 4-34\)/.test(line)), stdout)
  // a pass with a flag is listed too: that is what a false pass looks like before an upload
  assert.ok(lines.some(line => /^pass\s+memfd: run_hugetlbfs_test.sh \[aborted,false_pass\] \(lines \d+-51\)/.test(line)), stdout)
  assert.ok(!lines.some(line => /run_fuse_test/.test(line)), 'a clean pass is not listed')
})

test('ksft parse - reads standard input, and --json prints the parse result itself', async () => {
  const text = readFileSync(KILLED, 'utf8')
  const fromFile = await runKsft(['parse', KILLED])
  const fromStdin = await runKsft(['parse', '-'], { input: text })
  assert.equal(fromStdin.code, 0, fromStdin.stderr)
  assert.equal(fromStdin.stdout, fromFile.stdout)
  const json = await runKsft(['parse', '--json', '-'], { input: text })
  assert.equal(json.code, 0, json.stderr)
  assert.deepEqual(JSON.parse(json.stdout), JSON.parse(JSON.stringify(parseKselftestLog(text))))
})

test('ksft parse on a real published log lists its failures and its truncation warning', { skip: realFixturesSkip }, async () => {
  const { code, stdout } = await runKsft(['parse', realFixturePath('lkft-next-20231109-arm64-memfd-fuse-oops-panic-truncated.txt')])
  assert.equal(code, 0)
  assert.match(stdout, /^1 tests: 1 error;/)
  assert.match(stdout, /^error\s+memfd: run_fuse_test.sh \[kernel_oops,kernel_panic,call_trace\] \(lines 2-101\)/m)
})

test('ksft parse refuses what is not a kselftest log, or a file it cannot read, with one clear line and exit 1', async () => {
  const notLog = await runKsft(['parse', '-'], { input: 'hello\nworld\n' })
  assert.equal(notLog.code, 1)
  assert.equal(notLog.stdout, '')
  assert.match(notLog.stderr, /^ksft: standard input is not a kselftest log: none of its 2 lines/)
  // a test's own output saved by -p has no header and no result line: not a log either
  const perTest = await runKsft(['parse', capturedFixturePath('run_kselftest-per-test-log.tmp-memfd_test.txt')])
  assert.equal(perTest.code, 1)
  assert.match(perTest.stderr, /is not a kselftest log/)
  const missing = await runKsft(['parse', '/nonexistent/ksft.log'])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /^ksft: cannot read \/nonexistent\/ksft.log: no such file/)
})

test('the parse command loads neither fastify nor better-sqlite3', async () => {
  // NODE_DEBUG=module traces every CommonJS load (both are CommonJS packages); the command is
  // registered alone, as bin/cli.ts registers it, so the check is about parse.ts itself
  const script = `
    import { Command } from 'commander'
    import { registerParse } from './bin/commands/parse.ts'
    const program = new Command('ksft')
    registerParse(program)
    await program.parseAsync(['node', 'ksft', 'parse', ${JSON.stringify(KILLED)}])
  `
  const { stdout, stderr } = await new Promise<{ stdout: string, stderr: string }>((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: PROJECT_ROOT, env: { ...process.env, NODE_DEBUG: 'module' }, maxBuffer: 64 * 1024 * 1024 },
      (err, out, errOut) => err ? reject(new Error(`${err.message}\n${errOut.slice(-2000)}`)) : resolve({ stdout: out, stderr: errOut }))
  })
  assert.match(stdout, /^3 tests/)
  assert.match(stderr, /commander/, 'the trace shows CommonJS loads')
  assert.doesNotMatch(stderr, /node_modules\/fastify\//)
  assert.doesNotMatch(stderr, /better-sqlite3/)
})
