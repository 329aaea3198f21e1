// Real serial-console captures (test/fixtures/captured/run_kselftest-serial-console-*.txt, see
// SOURCES.md there): the kernel's lines land between and inside the tests' output, some glued into
// the middle of a test's line whose rest comes bare on the next line, some right after prefix.pl's
// `# `, leaving a nested `TAP version 13`, plan or result bare (issue 13).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { KselftestLogParser, parseKselftestLog, type ParseResult, type TestRecord } from '../../ingest/index.ts'
import { capturedFixturePath } from '../helpers/fixtures.ts'

const read = (name: string): { text: string, lines: string[], result: ParseResult } => {
  const text = readFileSync(capturedFixturePath(name), 'utf8')
  return { text, lines: text.split('\n').map(line => line.replace(/\r$/, '')), result: parseKselftestLog(text) }
}

const KERNEL_GLUED = /^(.+?)\[ *\d+\.\d{6}\] /
const COLLECTIONS = [['clone3', 4], ['kcmp', 1], ['membarrier', 2], ['pidfd', 5], ['sigaltstack', 1], ['size', 1]] as const

function byName (result: ParseResult, name: string): TestRecord {
  const record = result.tests.find(t => t.name === name)
  assert.ok(record, `no test ${name}`)
  return record
}

/** What every capture shows, whatever the kernel lines cut; `splitHeaders`: bare nested `TAP version 13` lines. */
function checkRun (name: string, splitHeaders = 0): void {
  const { lines, result } = read(name)
  test('every test has its own result line: 14 tests, no `error`, none unfinished', () => {
    assert.equal(result.tests.length, 14)
    assert.deepEqual(result.tests.filter(t => t.status === 'error'), [])
    assert.deepEqual(result.unfinished, [])
    assert.deepEqual(result.tests.map(t => t.status).filter(s => s !== 'pass'), ['fail'])
    assert.equal(byName(result, 'clone3_cap_checkpoint_restore').exitCode, 1)
  })

  test('one TAP stream per collection: no bare line of a test opened a stream of its own', () => {
    assert.deepEqual(result.plans.map(p => [p.collection, p.planned, p.seen]), COLLECTIONS.map(([c, n]) => [c, n, n]))
    // the runner's own `TAP version 13` lines, and the rest of each split nested header
    assert.equal(lines.filter(line => line === 'TAP version 13').length, COLLECTIONS.length + splitHeaders)
    assert.deepEqual(result.warnings.filter(w => /^line \d+: plan /.test(w)), [])
  })

  test('the kernel lines stay in the run log, inside the ranges of the tests they interrupted', () => {
    assert.equal(result.lineCount, lines.length - 1) // the file ends with a newline
    const glued = lines.flatMap((line, i) => KERNEL_GLUED.test(line) ? [i + 1] : [])
    assert.ok(glued.length > 0)
    for (const no of glued) {
      assert.ok(result.tests.some(t => t.lines[0] < no && no + 1 < t.lines[1]), `line ${no} and its rest are inside a test`)
    }
    assert.ok(lines.filter(line => /^\[ *\d+\.\d{6}\] init \(\d+\): drop_caches: 1$/.test(line)).length > 100)
  })

  test('a glued kernel line is not kernel trouble: no test has a flag but the assertion', () => {
    assert.deepEqual(result.tests.filter(t => t.flags.length > 0).map(t => [t.name, t.flags]), [['clone3_cap_checkpoint_restore', ['assertion_failure']]])
  })
}

describe('serial console, capture 1: `# ok` + kernel line, then ` 2 <name>`', () => {
  checkRun('run_kselftest-serial-console-1.txt')
  const { lines, result } = read('run_kselftest-serial-console-1.txt')

  test('the log shows the cut result as the capture has it', () => {
    assert.equal(lines[960], '# ok[   31.852978] init (146): drop_caches: 1')
    assert.equal(lines[961], ' 2 pidfd check fdinfo for dead process test: Passed')
  })

  test('the cut nested result survives whole: number, name and status, over both lines', () => {
    const record = byName(result, 'pidfd_fdinfo_test')
    assert.equal(record.status, 'pass')
    assert.deepEqual(record.subtests.map(s => [s.name, s.status]), [
      ['pidfd check for NSpid in fdinfo test: Passed', 'pass'],
      ['pidfd check fdinfo for dead process test: Passed', 'pass'],
    ])
    const [from, to] = record.subtests[1]!.lines
    assert.ok(from <= 961 && to >= 962, `lines ${from}-${to}`)
    assert.deepEqual(result.warnings.filter(w => w.includes('pidfd_fdinfo_test')), [])
  })
})

describe('serial console, capture 2: nested results cut inside their names', () => {
  checkRun('run_kselftest-serial-console-2.txt')
  const { lines, result } = read('run_kselftest-serial-console-2.txt')
  const subtest = (test: string, name: string) => byName(result, test).subtests.find(s => s.name === name)

  for (const [no, test_, name, status] of [
    [717, 'clone3_set_tid', 'create PID 1 in new NS with 2 TIDs and flags 0x20000000', 'pass'],
    [748, 'clone3_set_tid', 'fail due to too few active PID NSs with 4 TIDs and flags 0x20000000', 'pass'],
    [799, 'clone3_cap_checkpoint_restore', 'global.clone3_cap_checkpoint_restore', 'fail'],
    [916, 'membarrier_test_multi_thread', 'sys membarrier MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE test: flags = 0', 'pass'],
  ] as const) {
    test(`line ${no}: ${status} ${name}`, () => {
      const m = KERNEL_GLUED.exec(lines[no - 1]!)
      assert.ok(m, 'the line has a kernel line glued into it')
      assert.equal(`${m[1]!}${lines[no]!}`.replace(/^# (?:not )?ok \d+ /, ''), name)
      assert.equal(subtest(test_, name)?.status, status)
    })
  }

  test('no subtest is named after a piece of a cut line', () => {
    const names = result.tests.flatMap(t => t.subtests.map(s => s.name))
    assert.deepEqual(names.filter(n => n === '' || /drop_caches/.test(n)), [])
    assert.equal(byName(result, 'clone3_set_tid').subtests.length, 28)
    assert.equal(byName(result, 'membarrier_test_multi_thread').subtests.length, 15)
  })
})

describe('serial console, split capture 1: issue 13\'s split nested header, in pidfd_setns_test', () => {
  checkRun('run_kselftest-serial-console-split-1.txt', 1)
  const { lines, result } = read('run_kselftest-serial-console-split-1.txt')

  test('the log shows `# ` glued to a kernel line, then `TAP version 13` bare, then `# 1..8`', () => {
    assert.deepEqual(lines.slice(1514, 1519), [
      '[   33.037094] init (139): drop_caches: 1',
      '# [   33.083467] init (139): drop_caches: 1',
      'TAP version 13',
      '# 1..8',
      '# # Starting 8 tests from 2 test cases.',
    ])
    assert.equal(lines[1645], 'ok 5 selftests: pidfd: pidfd_setns_test')
  })

  test('the nested block resumes: its eight results and the test\'s own result survive', () => {
    const record = byName(result, 'pidfd_setns_test')
    assert.deepEqual([record.status, record.number, record.lines], ['pass', 5, [1481, 1646]])
    assert.equal(record.subtests.length, 8)
    assert.deepEqual(record.subtests.filter(s => s.status !== 'pass'), [])
    assert.equal(record.subtests[0]!.name, 'global.setns_einval')
    assert.deepEqual(result.warnings.filter(w => w.includes('pidfd_setns_test')), [])
  })
})

describe('serial console, split capture 2: a split nested header, plan and result', () => {
  checkRun('run_kselftest-serial-console-split-2.txt', 1)
  const { lines, result } = read('run_kselftest-serial-console-split-2.txt')

  test('the log shows the three lines cut right after prefix.pl\'s `# `', () => {
    assert.deepEqual(lines.slice(1039, 1042), ['# [   13.096452] init (140): drop_caches: 1', 'TAP version 13', '# 1..3'])
    assert.deepEqual(lines.slice(1115, 1118), ['# TAP version 13', '# [   15.433694] init (140): drop_caches: 1', '1..18'])
    assert.deepEqual(lines.slice(1476, 1478), ['# [   23.978384] init (140): drop_caches: 1', 'ok 5 child.no_strange_EBADF'])
  })

  test('kcmp_test keeps its result after its split header (it prints no nested results)', () => {
    assert.deepEqual([byName(result, 'kcmp_test').status, byName(result, 'kcmp_test').subtests], ['pass', []])
  })

  test('a bare `1..18` after `# ` + kernel line is the test\'s nested plan, not the runner\'s', () => {
    assert.deepEqual(result.plans.find(p => p.collection === 'membarrier'), { line: 1060, collection: 'membarrier', planned: 2, seen: 2 })
    assert.equal(byName(result, 'membarrier_test_single_thread').status, 'pass')
    assert.ok(result.warnings.includes('membarrier: membarrier_test_single_thread: line 1116: nested plan 1..18 but 16 results'))
  })

  test('a bare `ok 5 ...` after `# ` + kernel line is the test\'s fifth result', () => {
    assert.deepEqual(byName(result, 'pidfd_getfd_test').subtests.map(s => [s.name, s.status]).at(-1), ['child.no_strange_EBADF', 'pass'])
    assert.equal(byName(result, 'pidfd_getfd_test').subtests.length, 5)
  })
})

describe('the rule the captures ask for, on small logs', () => {
  const log = (...lines: string[]): string => `${lines.join('\r\n')}\r\n`
  const run = (...body: string[]) => parseKselftestLog(log('TAP version 13', '1..1', '# selftests: c: t', '# TAP version 13', '# 1..2', ...body, 'ok 1 selftests: c: t'))

  test('the rest of a cut line comes after more kernel lines: joined to its start', () => {
    const result = run('# ok 1 fir[   1.000000] k: one', '[   1.000001] k: two', 'st one', '# not[   1.100000] k', ' ok 2 second')
    // each result ends on the line that ends it: the rest's
    assert.deepEqual(result.tests[0]!.subtests.map(s => [s.name, s.status, s.lines[1]]), [['first one', 'pass', 8], ['second', 'fail', 10]])
  })

  test('a line cut twice is joined twice', () => {
    const result = run('# ok 1 a[   1.000000] k', 'b[   1.000001] k', 'c', '# ok 2 d')
    assert.deepEqual(result.tests[0]!.subtests.map(s => s.name), ['abc', 'd'])
  })

  test('a kernel line at the end of a test\'s line, then the next `#` line: both lines stay', () => {
    const result = run('# ok 1 a[   1.000000] k', '# ok 2 b')
    assert.deepEqual(result.tests[0]!.subtests.map(s => [s.name, s.status]), [['a', 'pass'], ['b', 'pass']])
    assert.equal(result.tests[0]!.status, 'pass')
  })

  test('a cut line followed by the runner\'s result: the result is the runner\'s, not the rest', () => {
    const result = run('# ok 1 a', '# ok 2 b[   1.000000] k')
    assert.deepEqual(result.tests.map(t => [t.name, t.status, t.lines]), [['t', 'pass', [3, 8]]])
    assert.deepEqual(result.tests[0]!.subtests.map(s => s.name), ['a', 'b'])
  })

  test('`# ` + kernel line, then a bare nested plan or result: the nested line resumes', () => {
    const result = run('# [   1.000000] k', '1..2', '# ok 1 a', '# [   1.000001] k', '[   1.000002] k', 'not ok 2 b')
    assert.deepEqual(result.tests[0]!.subtests.map(s => [s.name, s.status]), [['a', 'pass'], ['b', 'fail']])
    assert.deepEqual(result.plans, [{ line: 2, collection: 'c', planned: 1, seen: 1 }])
    assert.deepEqual(result.warnings, [])
  })

  test('a test that prints a kernel line whole (`# [ ... ]`), then its next `#` line: both stay', () => {
    const result = run('# ok 1 a', '# [   1.000000] k', '# ok 2 b')
    assert.deepEqual(result.tests[0]!.subtests.map(s => s.name), ['a', 'b'])
  })

  test('the same in 7-character chunks', () => {
    const text = log('TAP version 13', '1..1', '# selftests: c: t', '# TAP version 13', '# 1..1', '# ok[   1.000000] k', ' 1 x', 'ok 1 selftests: c: t')
    const whole = parseKselftestLog(text)
    assert.deepEqual(whole.tests[0]!.subtests.map(s => s.name), ['x'])
    const parser = new KselftestLogParser()
    for (let i = 0; i < text.length; i += 7) parser.push(text.slice(i, i + 7))
    assert.deepEqual(parser.end(), whole)
  })
})
