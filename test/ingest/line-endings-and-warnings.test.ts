// Synthetic logs, written for these tests (issue 12): line endings as serial consoles write them,
// and a warnings list that stays small however often a log repeats itself.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { KselftestLogParser, parseKselftestLog, type ParseResult } from '../../ingest/index.ts'

const LINES = [
  'TAP version 13',
  '1..2',
  '# selftests: memfd: memfd_test',
  '# memfd: CREATE',
  'ok 1 selftests: memfd: memfd_test',
  '# selftests: memfd: run_fuse_test.sh',
  '# fuse: mount failed',
  'not ok 2 selftests: memfd: run_fuse_test.sh # exit=1',
]

const facts = (result: ParseResult) => ({
  recognized: result.recognized,
  lineCount: result.lineCount,
  tests: result.tests.map(t => [t.name, t.status, t.exitCode, t.lines, t.reason]),
  plans: result.plans,
  warnings: result.warnings,
})

describe('line endings', () => {
  const expected = facts(parseKselftestLog(`${LINES.join('\n')}\n`))

  test('the plain log reads as its lines say', () => {
    assert.deepEqual(expected.tests, [
      ['memfd_test', 'pass', null, [3, 5], null],
      ['run_fuse_test.sh', 'fail', 1, [6, 8], 'fuse: mount failed'],
    ])
  })

  test('\\r\\n, as a serial console writes, reads the same', () => {
    assert.deepEqual(facts(parseKselftestLog(`${LINES.join('\r\n')}\r\n`)), expected)
  })

  test('\\r\\r\\n (a tty adding its \\r to the program\'s) reads the same, and is a kselftest log', () => {
    assert.deepEqual(facts(parseKselftestLog(`${LINES.join('\r\r\n')}\r\r\n`)), expected)
  })

  test('a mix of \\n, \\r\\n and \\r\\r\\n reads the same: the failing test stays a failure', () => {
    const endings = ['\n', '\r\n', '\r\r\n']
    const text = LINES.map((line, i) => line + endings[i % 3]).join('')
    assert.deepEqual(facts(parseKselftestLog(text)), expected)
  })

  test('the same in 5-byte chunks, where a \\r and its \\n arrive apart', () => {
    const text = `${LINES.join('\r\r\n')}\r\r\n`
    const parser = new KselftestLogParser()
    for (let i = 0; i < text.length; i += 5) parser.push(text.slice(i, i + 5))
    assert.deepEqual(facts(parser.end()), expected)
  })

  test('a lone \\r inside a line: the kernel cut a result\'s \\r\\n in two; both halves are read', () => {
    const result = parseKselftestLog([
      '# selftests: kvm: hyperv_clock',
      '# progress 10%\r# progress 100%',
      'ok 6 selftests: kvm: hyperv_clock\r[   62.515064] WARNING: CPU: 1 PID: 915 at kvm_main.c:3156\r',
      '',
      '# selftests: kvm: next_test',
      'not ok 7 selftests: kvm: next_test # exit=254\r',
    ].join('\n'))
    assert.deepEqual(result.tests.map(t => [t.name, t.status, t.exitCode, t.lines]), [
      ['hyperv_clock', 'pass', null, [1, 3]],
      ['next_test', 'fail', 254, [5, 6]],
    ])
    // the warning came after the result: it is nobody's
    assert.deepEqual(result.tests[0]!.flags, [])
    assert.deepEqual(result.warnings, ['kernel trouble outside any test: kernel_warning'])
    assert.equal(result.lineCount, 6)
  })

  test('a lone \\r between two output lines keeps both in the test, on their own line number', () => {
    const result = parseKselftestLog([
      '# selftests: kvm: t',
      '# TAP version 13\r# 1..2',
      '# ok 1 a\r# not ok 2 b',
      'not ok 1 selftests: kvm: t # exit=1',
    ].join('\n'))
    assert.deepEqual(result.tests[0]!.subtests.map(s => [s.name, s.status, s.lines]), [
      ['a', 'pass', [2, 3]],
      ['b', 'fail', [3, 3]],
    ])
    assert.equal(result.tests[0]!.reason, 'b: fail')
  })
})

describe('warnings are bounded', () => {
  test('one result line repeated a million times gives one warning about it, with the count', () => {
    const result = parseKselftestLog('ok 1 selftests: c: t\n'.repeat(1_000_000))
    assert.equal(result.tests.length, 1)
    assert.deepEqual(result.warnings, ['line 2: c: t reported again (first at line 1); kept the worse result (and 999998 more times)'])
  })

  test('many tests reported again: the first 20, then how many more', () => {
    const lines: string[] = []
    for (let i = 0; i < 1000; i++) lines.push(`ok ${i} selftests: c: t${i}`, `ok ${i} selftests: c: t${i}`)
    const result = parseKselftestLog(lines.join('\n'))
    assert.equal(result.tests.length, 1000)
    assert.equal(result.warnings.length, 21)
    assert.equal(result.warnings[20], '… and 980 more reported-again warnings')
  })

  test('plan mismatches and nested warnings are capped per kind', () => {
    const text = 'TAP version 13\n1..2\n'.repeat(10_000) + '# selftests: c: t\n# 1..3\n# ok 1 a\nok 1 selftests: c: t\n'
    const result = parseKselftestLog(text)
    const plan = result.warnings.filter(w => /plan 1\.\.2 but/.test(w))
    assert.equal(plan.length, 20)
    assert.ok(result.warnings.includes('… and 9980 more plan warnings'), result.warnings.join('\n'))
    assert.ok(result.warnings.length <= 2 * 21 + 1)
  })
})
