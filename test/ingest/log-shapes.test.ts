// Synthetic logs, written for these tests: the log shapes of issue 13, each as a real log shows it
// (the real ones are checked by the golden and fact files: test/fixtures/captured/run_kselftest-netns*.txt).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { parseKselftestLog } from '../../ingest/index.ts'
import { PROJECT_ROOT, realFixturePath, realFixturesSkip } from '../helpers/fixtures.ts'

const log = (...lines: string[]): string => `${lines.join('\n')}\n`

describe('parallel runner output (run_kselftest.sh -n, per-test logs)', () => {
  test('results in completion order are matched by collection and name; one never finished', () => {
    const result = parseKselftestLog(log(
      'TAP version 13', '1..3',
      '# selftests: net: a.sh',
      '# selftests: net: b.sh',
      '# selftests: net: c.sh',
      '# c is slow',
      'ok 2 selftests: net: b.sh',
      '# somebody\'s output',
      'not ok 1 selftests: net: a.sh # exit=1',
    ))
    // output printed while several tests ran is given to the test started last (c.sh)
    assert.deepEqual(result.tests.map(t => [t.name, t.number, t.status, t.exitCode, t.lines, t.reason]), [
      ['a.sh', 1, 'fail', 1, [3, 9], null],
      ['b.sh', 2, 'pass', null, [4, 7], null],
      ['c.sh', null, 'error', null, [5, 9], 'no result line: the log ends before its result line'],
    ])
    assert.deepEqual(result.unfinished, [{ collection: 'net', name: 'c.sh', line: 5, cause: 'end_of_log' }])
    assert.deepEqual(result.plans, [{ line: 2, collection: 'net', planned: 3, seen: 3 }])
    assert.match(result.warnings[0]!, /^line 7: results came after other tests had started: the tests ran in parallel/)
  })

  test('two collections side by side: each plan is its collection\'s, in the order they started', () => {
    const result = parseKselftestLog(log(
      'TAP version 13', '1..2',
      '# selftests: kvm: x',
      'TAP version 13', '1..1',
      '# selftests: kvm: y',
      '# selftests: memfd: m',
      'ok 2 selftests: kvm: y',
      'ok 1 selftests: memfd: m',
      '# ok 1 selftests: kvm: x # SKIP',
    ))
    assert.deepEqual(result.tests.map(t => [t.collection, t.name, t.status]), [
      ['kvm', 'x', 'skip'], ['kvm', 'y', 'pass'], ['memfd', 'm', 'pass'],
    ])
    assert.deepEqual(result.plans, [
      { line: 2, collection: 'kvm', planned: 2, seen: 2 },
      { line: 5, collection: 'memfd', planned: 1, seen: 1 },
    ])
    assert.deepEqual(result.unfinished, [])
  })

  test('a sequential run keeps its reading: a header cut short by the next is an error at once', () => {
    const result = parseKselftestLog(log('# selftests: kvm: a', '# hang', '# selftests: kvm: b', 'ok 2 selftests: kvm: b'))
    assert.deepEqual(result.tests.map(t => [t.name, t.status, t.lines, t.reason]), [
      ['a', 'error', [1, 2], 'no result line: the next test started at line 3'],
      ['b', 'pass', [3, 4], null],
    ])
    assert.deepEqual(result.unfinished, [{ collection: 'kvm', name: 'a', line: 1, cause: 'next_test' }])
    assert.deepEqual(result.warnings, [])
  })
})

describe('a console that splits a nested TAP header', () => {
  test('`#` glued to a kernel line, then a bare `TAP version 13`: the nested block resumes', () => {
    const result = parseKselftestLog(log(
      'TAP version 13', '1..1',
      '# selftests: kvm: kvm_binary_stats_test',
      '#[   12.345678] audit: type=1400 audit(1714558953.123:42): apparmor="DENIED"',
      'TAP version 13',
      '[   12.400000] kvm: another console line',
      '# 1..2',
      '# ok 1 vm0',
      '# not ok 2 vm1',
      'not ok 1 selftests: kvm: kvm_binary_stats_test # exit=1',
    ))
    assert.deepEqual(result.tests.map(t => [t.name, t.status, t.exitCode, t.lines, t.reason]), [
      ['kvm_binary_stats_test', 'fail', 1, [3, 10], 'vm1: fail'],
    ])
    assert.deepEqual(result.tests[0]!.subtests.map(s => [s.name, s.status]), [['vm0', 'pass'], ['vm1', 'fail']])
    assert.deepEqual(result.plans, [{ line: 2, collection: 'kvm', planned: 1, seen: 1 }])
    assert.deepEqual(result.warnings, [])
  })

  test('a bare `TAP version 13` followed by a runner plan is a new stream, as before', () => {
    const result = parseKselftestLog(log(
      'TAP version 13', '1..1',
      '# selftests: kvm: a',
      '# hung',
      'TAP version 13', '1..1',
      '# selftests: memfd: m', 'ok 1 selftests: memfd: m',
    ))
    assert.deepEqual(result.tests.map(t => [t.name, t.status, t.lines, t.reason]), [
      ['a', 'error', [3, 4], 'no result line: a new TAP stream started at line 5'],
      ['m', 'pass', [7, 8], null],
    ])
    assert.deepEqual(result.plans.map(p => [p.line, p.collection, p.seen]), [[2, 'kvm', 1], [6, 'memfd', 1]])
  })
})

describe('a prefix put before every line by the harness that captured the log', () => {
  const LINES = [
    'TAP version 13', '1..2',
    '# selftests: kvm: a', '# 2024-05-01T10:22:33Z is the test\'s own output', 'ok 1 selftests: kvm: a',
    '# selftests: kvm: b', '# ==== Test Assertion Failure ====', 'not ok 2 selftests: kvm: b # exit=254',
  ]
  const plain = parseKselftestLog(log(...LINES))
  const facts = (r: ReturnType<typeof parseKselftestLog>) => r.tests.map(t => [t.name, t.status, t.exitCode, t.lines, t.flags])

  for (const [name, prefix] of [
    ['an ISO time, as GitHub Actions writes', (i: number) => `2024-05-01T10:22:${String(10 + i).padStart(2, '0')}.123456${i}Z `],
    ['a bracketed date and time', (i: number) => `[2024-05-01 10:22:${String(10 + i).padStart(2, '0')}] `],
    ['a time and an autotest logger tag', (i: number) => `18:56:${String(10 + i).padStart(2, '0')} DEBUG| [stdout] `],
    ['a LAVA-style console stamp', (i: number) => `[ ${12 + i}.345] `],
  ] as const) {
    test(`${name}: stripped for parsing, named in the warnings, the test's own text left alone`, () => {
      const result = parseKselftestLog(log(...LINES.map((line, i) => prefix(i) + line)))
      assert.deepEqual(facts(result), facts(plain))
      assert.deepEqual(result.plans, plain.plans)
      assert.equal(result.warnings.length, 1)
      assert.match(result.warnings[0]!, new RegExp(`^8 lines start with .*the first: \`${prefix(0).replace(/[[\].|]/g, '\\$&')}\``))
      assert.equal(result.reconstructed, false)
    })
  }

  test('a kernel stamp (six decimals) is the kernel\'s, not a harness prefix', () => {
    const result = parseKselftestLog(log('[ 1855.254956] kselftest: Running tests in kvm', ...LINES))
    assert.deepEqual(facts(result), facts(parseKselftestLog(log('', ...LINES))))
    assert.deepEqual(result.warnings, [])
  })

  test('a log whose first line has no prefix strips nothing', () => {
    const result = parseKselftestLog(log('TAP version 13', '2024-05-01T10:22:33Z # selftests: kvm: a', 'ok 1 selftests: kvm: a'))
    assert.deepEqual(result.tests.map(t => [t.name, t.lines]), [['a', [3, 3]]])
  })
})

describe('pastes that lost their shape', () => {
  test('a log indented by a constant amount is read behind it, and flagged reconstructed', () => {
    const result = parseKselftestLog(log(
      '  TAP version 13', '  1..1', '  # selftests: memfd: memfd_test', '  # TAP version 13', '  # 1..1',
      '  # not ok 1 sealing', '', '  not ok 1 selftests: memfd: memfd_test # exit=1',
    ))
    assert.deepEqual(result.tests.map(t => [t.name, t.status, t.exitCode, t.lines, t.subtests.map(s => [s.name, s.status])]), [
      ['memfd_test', 'fail', 1, [3, 8], [['sealing', 'fail']]],
    ])
    assert.equal(result.reconstructed, true)
    assert.match(result.warnings[0]!, /^7 lines start with an indentation of 2 .*this parse is reconstructed$/)
  })

  test('a log that lost every `# `: bare header, nested stream and results read as the test\'s own', () => {
    const result = parseKselftestLog(log(
      'TAP version 13', '1..1',
      'selftests: kvm: kvm_binary_stats_test',
      'TAP version 13', '1..2', 'ok 1 vm0', 'not ok 2 vm1', 'Totals: pass:1 fail:1',
      'not ok 1 selftests: kvm: kvm_binary_stats_test exit=1',
    ))
    assert.deepEqual(result.tests.map(t => [t.name, t.status, t.exitCode, t.lines, t.reason]), [
      ['kvm_binary_stats_test', 'fail', 1, [3, 9], 'vm1: fail'],
    ])
    assert.deepEqual(result.tests[0]!.subtests.map(s => [s.name, s.status]), [['vm0', 'pass'], ['vm1', 'fail']])
    assert.deepEqual(result.plans, [{ line: 2, collection: 'kvm', planned: 1, seen: 1 }])
    assert.equal(result.reconstructed, true)
    assert.match(result.warnings[0]!, /^line 3: the tests' output has lost the runner's `# ` prefixes/)
  })

  test('the pre-5.2 runner\'s bare header and `====` rule are its own format, not a lost one', () => {
    const result = parseKselftestLog(log(
      'TAP version 13', 'selftests: livepatch: test-livepatch.sh', '========================================',
      'not ok 1..1 selftests: livepatch: test-livepatch.sh [SKIP]',
    ))
    assert.deepEqual(result.tests.map(t => [t.name, t.status]), [['test-livepatch.sh', 'skip']])
    assert.equal(result.reconstructed, false)
    assert.deepEqual(result.warnings, [])
  })
})

describe('old runners', () => {
  test('`# TIMEOUT` without seconds is a timeout with no length', () => {
    const result = parseKselftestLog(log('# selftests: kvm: a', 'not ok 1 selftests: kvm: a # TIMEOUT', '# selftests: kvm: b', 'not ok 2 selftests: kvm: b # TIMEOUT 45 seconds'))
    assert.deepEqual(result.tests.map(t => [t.name, t.status, t.timeoutSeconds]), [['a', 'timeout', null], ['b', 'timeout', 45]])
  })
})

test('a paste without `# ` whose nested results and result line are indented by two spaces', () => {
  const result = parseKselftestLog(log(
    'TAP version 13', '1..1',
    'selftests: kvm: kvm_binary_stats_test',
    '  TAP version 13', '  1..2', '  ok 1 vm0', '  not ok 2 vm1',
    '  not ok 1 selftests: kvm: kvm_binary_stats_test # exit=1',
  ))
  assert.deepEqual(result.tests.map(t => [t.name, t.status, t.exitCode, t.lines]), [['kvm_binary_stats_test', 'fail', 1, [3, 8]]])
  assert.deepEqual(result.tests[0]!.subtests.map(s => [s.name, s.status]), [['vm0', 'pass'], ['vm1', 'fail']])
  assert.equal(result.reconstructed, true)
})

describe('the shapes in real logs', () => {
  const captured = (name: string) => readFileSync(join(PROJECT_ROOT, 'test/fixtures/captured', name), 'utf8')

  test('a parallel run (run_kselftest.sh -n): no test is an error, and the run says it was parallel', () => {
    const result = parseKselftestLog(captured('run_kselftest-netns.txt'))
    assert.deepEqual(result.tests.filter(t => t.status === 'error').map(t => t.name), [])
    assert.ok(result.warnings.some(w => /the tests ran in parallel/.test(w)))
    assert.deepEqual(result.unfinished, [])
  })

  test('time stamps before every line (moreutils ts): the same tests as the run without them', () => {
    const plain = parseKselftestLog(captured('run_kselftest-root.txt'))
    for (const name of ['run_kselftest-iso-timestamps.txt', 'run_kselftest-bracket-timestamps.txt']) {
      const result = parseKselftestLog(captured(name))
      assert.deepEqual(result.tests.map(t => [t.collection, t.name, t.status]), plain.tests.map(t => [t.collection, t.name, t.status]), name)
      assert.match(result.warnings[0]!, /lines start with/)
    }
  })

  test('a qa-reports log, every `# ` removed, is read and flagged reconstructed', { skip: realFixturesSkip }, () => {
    const result = parseKselftestLog(readFileSync(realFixturePath('lkft-next-20250929-arm64-kvm-irqfd_test-qa-reports-log.txt'), 'utf8'))
    assert.deepEqual(result.tests.map(t => [t.name, t.status, t.exitCode]), [['irqfd_test', 'fail', 254]])
    assert.equal(result.reconstructed, true)
  })
})
