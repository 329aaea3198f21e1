// Synthetic logs, written for these tests: the log shapes of issue 13, each as a real log shows it
// (the real ones are checked by the golden and fact files: test/fixtures/captured/run_kselftest-netns*.txt).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseKselftestLog } from '../../ingest/index.ts'

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
