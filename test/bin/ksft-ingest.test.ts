import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { STATUSES } from '../../ingest/index.ts'
import { readStore, TEST_BACKEND, testStoreLocation } from '../helpers/backend.ts'
import { realFixturePath, realFixturesSkip } from '../helpers/fixtures.ts'
import { runKsft, startServer } from '../helpers/cli.ts'
import { tempDir } from '../helpers/store.ts'

const META = ['--series', 'KVM: mm: fd-based approach for supporting KVM guest private memory', '--version', 'v7', '--machine', 'tdx-host-1']
// synthetic log written for these tests
const SYNTHETIC = 'TAP version 13\n1..2\n# selftests: kvm: a\nok 1 selftests: kvm: a\n# selftests: kvm: b\n# Aborted\nnot ok 2 selftests: kvm: b # exit=134\n'

/** The runs stored at `db`: none in a SQLite file never made. */
async function runCount (db: string): Promise<number> {
  if (TEST_BACKEND === 'sqlite' && !existsSync(db)) return 0
  return readStore(db, async tables => (await tables.all<{ n: number }>('SELECT count(*) AS n FROM runs'))[0]!.n)
}

test('ksft ingest --json prints the run, every test and the warnings', { skip: realFixturesSkip }, async (t) => {
  const db = await testStoreLocation(t)
  const res = await runKsft(['ingest', realFixturePath('real-kvm-pvm-subset-8-tests.txt'), ...META, '--db', db, '--json'])
  assert.equal(res.code, 0, res.stderr)
  const out = JSON.parse(res.stdout)
  assert.deepEqual(Object.keys(out.run.summary), ['total', ...STATUSES])
  assert.deepEqual(out.run.summary, { total: 8, pass: 4, fail: 2, skip: 2, xfail: 0, xpass: 0, timeout: 0, error: 0 })
  const memfd = out.tests.find((test: { name: string }) => test.name === 'guest_memfd_test')
  assert.deepEqual({ ...memfd, reason: undefined }, {
    collection: 'kvm', name: 'guest_memfd_test', number: 3, status: 'fail', exitCode: 254, timeoutSeconds: null,
    reason: undefined, flags: ['assertion_failure'], lines: [24, 35], subtests: [],
  })
  assert.deepEqual(out.tests.find((test: { name: string }) => test.name === 'kvm_binary_stats_test').subtests.map((s: { name: string }) => s.name), ['vm0', 'vm1', 'vm2', 'vm3'])
  assert.deepEqual(out.warnings, [])
})

test('ksft ingest reads standard input and prints a readable summary; a second ingest finds the same run', async (t) => {
  const db = await testStoreLocation(t)
  const first = await runKsft(['ingest', '-', ...META, '--db', db], { input: SYNTHETIC })
  assert.equal(first.code, 0, first.stderr)
  assert.match(first.stdout, /^run 1 stored: KVM: mm: .* v7 on tdx-host-1\n {2}2 tests: 1 pass, 1 fail\n {2}fail {4}kvm: b exit=134 \[aborted\]: Aborted \(lines 5-7\)\n$/)
  const again = await runKsft(['ingest', '-', ...META, '--db', db], { input: SYNTHETIC })
  assert.match(again.stdout, /^run 1 already stored/)
  assert.equal(await runCount(db), 1)
})

test('ksft ingest: errors are one line on stderr, a non-zero exit, and nothing stored', async (t) => {
  const dir = tempDir(t)
  const db = await testStoreLocation(t)
  const notKselftest = join(dir, 'hello.txt')
  writeFileSync(notKselftest, 'hello\nworld\n')
  const cases: Array<[string[], string | undefined, RegExp]> = [
    [['ingest', join(dir, 'missing.log'), ...META, '--db', db], undefined, /^ksft: error: cannot read .*missing\.log: no such file\n$/],
    [['ingest', dir, ...META, '--db', db], undefined, /^ksft: error: cannot read .*: is a directory\n$/],
    [['ingest', '-', ...META, '--db', db], '', /^ksft: error: the log is empty\n$/],
    [['ingest', notKselftest, ...META, '--db', db], undefined, /^ksft: error: not a kselftest log: none of its 2 lines is a "selftests:" test header or a TAP result line\n$/],
    [['ingest', '-', '--series', 'x', '--version', 'v1\u0007', '--db', db], SYNTHETIC, /^ksft: error: version contains control characters \(U\+0007\)\n$/],
    [['ingest', '-', ...META, '--commit', 'not-a-sha', '--db', db], SYNTHETIC, /^ksft: error: commit must be a git commit hash/],
  ]
  for (const [args, input, stderr] of cases) {
    const res = await runKsft(args, { input })
    assert.notEqual(res.code, 0, args.join(' '))
    assert.match(res.stderr, stderr)
    assert.equal(res.stdout, '')
  }
  assert.equal(await runCount(db), 0)
})

test('ksft ingest without --series is a usage error', async (t) => {
  const res = await runKsft(['ingest', '-', '--version', 'v1', '--db', join(tempDir(t), 'x.db')], { input: SYNTHETIC })
  assert.notEqual(res.code, 0)
  assert.match(res.stderr, /required option '--series <name>' not specified/)
})

test('ksft serve answers /healthz on the port and database it is given (flags or KSFT_* variables)', async (t) => {
  const db = await testStoreLocation(t)
  await runKsft(['ingest', '-', ...META, '--db', db], { input: SYNTHETIC })
  const { url } = await startServer(t, [], { KSFT_DB: db })
  const res = await fetch(`${url}/healthz`)
  assert.equal(res.status, 200)
  assert.deepEqual(await res.json(), { status: 'ok', backend: TEST_BACKEND, writeCounter: 1 })
  if (TEST_BACKEND === 'sqlite') assert.ok(readFileSync(db).length > 0)
})
