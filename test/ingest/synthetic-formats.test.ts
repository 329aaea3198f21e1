// Synthetic logs, written for these tests: one per format rule of docs/parsing.md.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { KselftestLogParser, parseKselftestLog, type TestRecord } from '../../ingest/index.ts'

const log = (...lines: string[]): string => `${lines.join('\n')}\n`
const brief = (t: TestRecord) => ({ id: `${t.collection}: ${t.name}`, status: t.status, lines: t.lines })

describe('the runner format', () => {
  test('concatenated collections restart their numbering and keep their own plans', () => {
    const result = parseKselftestLog(log(
      'TAP version 13', '1..2',
      '# selftests: memfd: memfd_test', 'ok 1 selftests: memfd: memfd_test',
      '# selftests: memfd: run_fuse_test.sh', 'ok 2 selftests: memfd: run_fuse_test.sh',
      'TAP version 13', '1..1',
      '# selftests: net/forwarding: router.sh', 'not ok 1 selftests: net/forwarding: router.sh # exit=1',
    ))
    assert.deepEqual(result.tests.map(brief), [
      { id: 'memfd: memfd_test', status: 'pass', lines: [3, 4] },
      { id: 'memfd: run_fuse_test.sh', status: 'pass', lines: [5, 6] },
      { id: 'net/forwarding: router.sh', status: 'fail', lines: [9, 10] },
    ])
    assert.equal(result.tests[2]!.exitCode, 1)
    assert.deepEqual(result.plans, [
      { line: 2, collection: 'memfd', planned: 2, seen: 2 },
      { line: 8, collection: 'net/forwarding', planned: 1, seen: 1 },
    ])
    assert.deepEqual(result.warnings, [])
  })

  test('directives: SKIP, the pre-5.8 not-ok SKIP, TIMEOUT, exit codes, XFAIL, XPASS', () => {
    const result = parseKselftestLog(log(
      'TAP version 13', '1..6',
      'ok 1 selftests: kvm: a # SKIP',
      'not ok 2 selftests: kvm: b # SKIP',
      'not ok 3 selftests: kvm: c # TIMEOUT 120 seconds',
      'not ok 4 selftests: kvm: d # exit=254',
      'ok 5 selftests: kvm: e # XFAIL known broken on this host',
      'ok 6 selftests: kvm: f # XPASS',
    ))
    assert.deepEqual(result.tests.map(t => [t.name, t.status, t.exitCode, t.timeoutSeconds, t.reason]), [
      ['a', 'skip', null, null, null],
      ['b', 'skip', null, null, null],
      ['c', 'timeout', null, 120, null],
      ['d', 'fail', 254, null, null],
      ['e', 'xfail', null, null, 'known broken on this host'],
      ['f', 'xpass', null, null, null],
    ])
  })

  test('the pre-5.2 runner: bare headers and `ok 1..N ... [PASS]`', () => {
    const result = parseKselftestLog(log(
      'TAP version 13',
      'selftests: breakpoints: step_after_suspend_test',
      '========================================',
      'ok 1..1 selftests: breakpoints: step_after_suspend_test [PASS]',
      'selftests: breakpoints: breakpoint_test',
      '========================================',
      'boom',
      'not ok 1..2 selftests: breakpoints: breakpoint_test [FAIL]',
    ))
    assert.deepEqual(result.tests.map(t => [t.name, t.number, t.status, t.lines, t.reason]), [
      ['step_after_suspend_test', 1, 'pass', [2, 4], null],
      ['breakpoint_test', 2, 'fail', [5, 8], 'boom'],
    ])
  })

  test('noise between and inside tests never breaks parsing', () => {
    const result = parseKselftestLog([
      "make[1]: Entering directory '/src/tools/testing/selftests/kvm'",
      'root@tdx-host:~# ./run_kselftest.sh -c kvm',
      'TAP version 13',
      '1..2',
      '[   12.345678] kselftest: Running tests in kvm',
      '# timeout set to 120',
      '# selftests: kvm: a',
      '<6>[   13.000001] kvm: some message',
      '# output',
      'ok 1 selftests: kvm: a[   13.100000] random: crng init done',
      '# selftests: kvm: b',
      'ok 2 selftests: kvm: b',
      "make[1]: Leaving directory '/src/tools/testing/selftests/kvm'",
    ].join('\r\n'))
    assert.deepEqual(result.tests.map(brief), [
      { id: 'kvm: a', status: 'pass', lines: [7, 10] },
      { id: 'kvm: b', status: 'pass', lines: [11, 12] },
    ])
    assert.deepEqual(result.warnings, [])
    assert.equal(result.lineCount, 13)
  })

  test('a log with nothing of kselftest in it is not recognized', () => {
    const result = parseKselftestLog(log('hello', 'world', 'TAP version 13', '1..0'))
    assert.equal(result.recognized, false)
    assert.deepEqual(result.tests, [])
  })
})

describe('truncation', () => {
  test('a header with no result is an error, never a pass, and the plan shortfall is reported', () => {
    const result = parseKselftestLog(log(
      'TAP version 13', '1..3',
      '# selftests: memfd: memfd_test', 'ok 1 selftests: memfd: memfd_test',
      '# selftests: memfd: run_fuse_test.sh', '# opening: ./mnt/memfd',
      '[ 1931.860330] Unable to handle kernel paging request at virtual address 005a5a5a5a5a5a5a',
      '[ 1932.138111] Kernel panic - not syncing: Oops: Fatal exception',
    ))
    const cut = result.tests[1]!
    assert.equal(cut.status, 'error')
    assert.equal(cut.reason, 'no result line: the log ends before its result line, after a kernel panic')
    assert.deepEqual(cut.lines, [5, 8])
    assert.deepEqual(cut.flags, ['kernel_oops', 'kernel_panic'])
    assert.deepEqual(result.plans, [{ line: 2, collection: 'memfd', planned: 3, seen: 2 }])
    assert.deepEqual(result.warnings, ['line 2: plan 1..3 (memfd) but 2 tests arrived'])
  })

  test('a header followed by the next header closes the first as an error', () => {
    const result = parseKselftestLog(log('# selftests: kvm: a', '# hang', '# selftests: kvm: b', 'ok 2 selftests: kvm: b'))
    assert.deepEqual(result.tests.map(t => [t.name, t.status, t.lines, t.reason]), [
      ['a', 'error', [1, 2], 'no result line: the next test started at line 3'],
      ['b', 'pass', [3, 4], null],
    ])
  })
})

describe('nested results', () => {
  test('kselftest.h output behind one `# ` level becomes subtests, deeper levels nest', () => {
    const result = parseKselftestLog(log(
      '# selftests: kvm: kvm_binary_stats_test',
      '# TAP version 13',
      '# 1..3',
      '# ok 1 vm0',
      '# # TAP version 13',
      '# # 1..2',
      '# # ok 1 deep-a',
      '# # not ok 2 deep-b',
      '# not ok 2 vm1',
      '# ok 3 vm2 # SKIP no such vm',
      '# # Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0',
      'not ok 1 selftests: kvm: kvm_binary_stats_test # exit=1',
    ))
    const [t] = result.tests
    assert.equal(t!.reason, 'vm1: fail (deep-b: fail)')
    assert.deepEqual(t!.subtests, [
      { name: 'vm0', status: 'pass', reason: null, lines: [2, 4], subtests: [] },
      {
        name: 'vm1',
        status: 'fail',
        reason: 'deep-b: fail',
        lines: [5, 9],
        subtests: [
          { name: 'deep-a', status: 'pass', reason: null, lines: [5, 7], subtests: [] },
          { name: 'deep-b', status: 'fail', reason: null, lines: [8, 8], subtests: [] },
        ],
      },
      { name: 'vm2', status: 'skip', reason: 'no such vm', lines: [10, 10], subtests: [] },
    ])
  })

  test('a nested Bail out! explains the failure; 1..0 # SKIP explains a skip', () => {
    const result = parseKselftestLog(log(
      '# selftests: membarrier: membarrier_test',
      '# TAP version 13', '# 1..3', '# ok 1 available', '# Bail out! MEMBARRIER_CMD_GET_REGISTRATIONS errno = 22',
      'not ok 1 selftests: membarrier: membarrier_test # exit=1',
      '# selftests: kvm: vmx_msrs_test',
      '# 1..0 # SKIP - Requirement not met: kvm_cpu_has(X86_FEATURE_VMX)',
      'ok 2 selftests: kvm: vmx_msrs_test # SKIP',
    ))
    assert.equal(result.tests[0]!.reason, 'Bail out! MEMBARRIER_CMD_GET_REGISTRATIONS errno = 22')
    assert.equal(result.tests[1]!.reason, 'Requirement not met: kvm_cpu_has(X86_FEATURE_VMX)')
    assert.deepEqual(result.warnings, ['membarrier: membarrier_test: line 2: nested plan 1..3 but 1 result (bailed out)'])
  })

  test('XFAIL and XPASS of kselftest.h are statuses, not part of the name', () => {
    const result = parseKselftestLog(log(
      '# selftests: mm: t', '# ok 1 a # XFAIL not supported', '# not ok 2 b # XPASS', 'ok 1 selftests: mm: t',
    ))
    assert.deepEqual(result.tests[0]!.subtests.map(s => [s.name, s.status, s.reason]), [
      ['a', 'xfail', 'not supported'],
      ['b', 'xpass', null],
    ])
  })

  test('nesting is bounded: a 10 000-level `# # # ...` block neither overflows nor throws', () => {
    const deep = Array.from({ length: 10_000 }, (_, i) => `${'# '.repeat(i + 1)}ok 1 level${i}`)
    const result = parseKselftestLog(log('# selftests: x: deep', ...deep, 'ok 1 selftests: x: deep'))
    assert.equal(result.tests[0]!.status, 'pass')
    let depth = 0
    for (let s = result.tests[0]!.subtests; s.length > 0; s = s[0]!.subtests) depth++
    assert.ok(depth >= 1 && depth <= 8, `depth ${depth}`)
  })
})

describe('kernel trouble and false passes', () => {
  test('kernel console trouble between header and result is attached to that test only', () => {
    const result = parseKselftestLog(log(
      '# selftests: kvm: hyperv_clock',
      '[   62.510388] ------------[ cut here ]------------',
      '[   62.515064] WARNING: CPU: 1 PID: 915 at arch/x86/kvm/../../../virt/kvm/kvm_main.c:3156',
      '[   62.646009] Call Trace:',
      'ok 6 selftests: kvm: hyperv_clock',
      '# selftests: kvm: next_test',
      'ok 7 selftests: kvm: next_test',
    ))
    assert.deepEqual(result.tests.map(t => [t.name, t.status, t.flags]), [
      ['hyperv_clock', 'pass', ['kernel_warning', 'call_trace']],
      ['next_test', 'pass', []],
    ])
  })

  test('`ok` while the output shows a crash is flagged false_pass', () => {
    const result = parseKselftestLog(log(
      '# selftests: memfd: run_hugetlbfs_test.sh',
      '# ./run_hugetlbfs_test.sh: line 60: 97095 Aborted                 (core dumped) ./memfd_test hugetlbfs',
      'ok 3 selftests: memfd: run_hugetlbfs_test.sh',
      '# selftests: kvm: cpuid_test',
      '# ==== Test Assertion Failure ====',
      '#   x86_64/cpuid_test.c:78: cpuid1->nent == cpuid2->nent',
      '#   pid=14388 tid=14388 errno=0 - Success',
      '#      1\t0x00000000004024d9: compare_cpuids at cpuid_test.c:78',
      '#   CPUID nent mismatch: 59 vs. 56',
      'not ok 6 selftests: kvm: cpuid_test # exit=254',
      '# selftests: x: segv',
      '# Segmentation fault',
      'ok 7 selftests: x: segv',
    ))
    assert.deepEqual(result.tests.map(t => [t.name, t.flags, t.reason]), [
      ['run_hugetlbfs_test.sh', ['aborted', 'false_pass'], null],
      ['cpuid_test', ['assertion_failure'], 'x86_64/cpuid_test.c:78: cpuid1->nent == cpuid2->nent: CPUID nent mismatch: 59 vs. 56'],
      ['segv', ['segfault', 'false_pass'], null],
    ])
  })
})

describe('duplicates', () => {
  test('the same test twice counts once, with the worse result and a warning', () => {
    const result = parseKselftestLog(log(
      'TAP version 13', '1..1', '# selftests: memfd: memfd_test', 'ok 1 selftests: memfd: memfd_test',
      'TAP version 13', '1..1', '# selftests: memfd: memfd_test', 'not ok 1 selftests: memfd: memfd_test # exit=134',
    ))
    assert.deepEqual(result.tests.map(t => [t.name, t.status, t.exitCode, t.lines]), [['memfd_test', 'fail', 134, [7, 8]]])
    assert.deepEqual(result.warnings, ['line 7: memfd: memfd_test reported again (first at line 3); kept the worse result'])
  })

  test('the harness `ok 5 # SKIP` then `ok 5 name` is one skipped test', () => {
    const result = parseKselftestLog(log(
      'TAP version 13', '1..1',
      '#  RUN           vmx_pmu_caps.lbr_perf_capabilities ...',
      'ok 1 # SKIP - Requirement not met: host_cap.lbr_format && 0',
      '#            OK  vmx_pmu_caps.lbr_perf_capabilities',
      'ok 1 vmx_pmu_caps.lbr_perf_capabilities',
    ))
    assert.deepEqual(result.tests.map(t => [t.collection, t.name, t.status, t.reason, t.lines]), [
      ['unknown', 'vmx_pmu_caps.lbr_perf_capabilities', 'skip', 'Requirement not met: host_cap.lbr_format && 0', [3, 6]],
    ])
    assert.deepEqual(result.plans, [{ line: 2, collection: 'unknown', planned: 1, seen: 1 }])
  })
})

describe('line ranges', () => {
  test('every record lies inside the input and subtests inside their test', () => {
    const result = parseKselftestLog(log(
      'TAP version 13', '1..1', '# selftests: net/forwarding: bridge_mdb.sh',
      '# TEST: IPv4 host entries forwarding tests                            [FAIL]',
      '# \tPacket not locally received after adding a host entry',
      '# TEST: IPv6 host entries forwarding tests                            [ OK ]',
      'not ok 1 selftests: net/forwarding: bridge_mdb.sh # exit=1',
    ))
    const [t] = result.tests
    assert.deepEqual(t!.lines, [3, 7])
    assert.deepEqual(t!.subtests, [
      { name: 'IPv4 host entries forwarding tests', status: 'fail', reason: 'Packet not locally received after adding a host entry', lines: [4, 5], subtests: [] },
      { name: 'IPv6 host entries forwarding tests', status: 'pass', reason: null, lines: [6, 6], subtests: [] },
    ])
    assert.equal(t!.reason, 'IPv4 host entries forwarding tests: fail (Packet not locally received after adding a host entry)')
  })
})

describe('runaway lines', () => {
  test('a line over 16 KiB is parsed by its start, the same whether it arrives whole or in pieces', () => {
    const text = log('# selftests: x: y', `# ${'z'.repeat(3 * 1024 * 1024)}`, 'ok 1 selftests: x: y')
    const whole = parseKselftestLog(text)
    const parser = new KselftestLogParser()
    for (let i = 0; i < text.length; i += 65536) parser.push(text.slice(i, i + 65536))
    assert.deepEqual(parser.end(), whole)
    assert.deepEqual(whole.tests.map(brief), [{ id: 'x: y', status: 'pass', lines: [1, 3] }])
    assert.deepEqual(whole.warnings, ['line 2 is longer than 16384 characters; only its start was parsed (the raw log keeps it whole)'])
  })

  test('a result line cut at 16 KiB still names its test; its tail past the cut is not read', () => {
    const result = parseKselftestLog(log('# selftests: x: y', `not ok 1 selftests: x: y${' '.repeat(20_000)}# exit=1`))
    assert.equal(result.tests.length, 1)
    assert.equal(result.tests[0]!.status, 'fail')
    assert.equal(result.tests[0]!.exitCode, null)
  })
})

test('a deeper note before a nested failure explains it without its `# `', () => {
  const result = parseKselftestLog(log(
    '# selftests: kvm: guest_memfd_test', '# # guest_memfd() with flag 0x1 should fail', '# not ok 1 file_size', 'not ok 1 selftests: kvm: guest_memfd_test # exit=1',
  ))
  assert.deepEqual(result.tests[0]!.subtests.map(s => [s.name, s.reason]), [['file_size', 'guest_memfd() with flag 0x1 should fail']])
})
