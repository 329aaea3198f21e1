import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ABSENT, bucketOf, COMPARE_BUCKETS, entryWhy, FAILED, infrastructureEvidence, MIXED, passRate, PASSED, reasonLine, triagedBucket,
  TRIAGED_BUCKETS, TROUBLED, type BucketOrUnchanged, type CellTriage,
} from '../../../server/queries/verdict.ts'

// The precedence of docs/verdicts.md, one row per case it names: [base cell, head cell, head finished, bucket].
const SKIP = 0
const ROWS: Array<[number, number, boolean, BucketOrUnchanged]> = [
  [PASSED, ABSENT, false, 'not_run'],
  [FAILED, ABSENT, false, 'not_run'],
  [PASSED, ABSENT, true, 'missing'],
  [ABSENT, FAILED, true, 'new_failure'],
  [ABSENT, MIXED, true, 'new_failure'],
  [ABSENT, PASSED | TROUBLED, true, 'new_kernel_trouble'],
  [ABSENT, PASSED, true, 'new'],
  [ABSENT, SKIP, true, 'new'],
  [PASSED, MIXED, true, 'flaky'],
  [MIXED, PASSED, true, 'flaky'],
  [PASSED, MIXED | TROUBLED, true, 'new_kernel_trouble'],
  [PASSED, FAILED, true, 'regression'],
  [SKIP, FAILED, true, 'regression'],
  [PASSED, FAILED | TROUBLED, true, 'regression'],
  [PASSED, PASSED | TROUBLED, true, 'new_kernel_trouble'],
  [FAILED, FAILED | TROUBLED, true, 'new_kernel_trouble'],
  [FAILED, PASSED | TROUBLED, true, 'new_kernel_trouble'],
  [FAILED, FAILED, true, 'still_failing'],
  [FAILED | TROUBLED, FAILED | TROUBLED, true, 'still_failing'],
  [FAILED, PASSED, true, 'fixed'],
  [FAILED, SKIP, true, 'fixed'],
  [PASSED | TROUBLED, PASSED | TROUBLED, true, 'still_kernel_trouble'],
  [PASSED | TROUBLED, PASSED, true, 'unchanged'],
  [PASSED, PASSED, true, 'unchanged'],
  [SKIP, PASSED, true, 'unchanged'],
]

test('each (base, head) cell lands in the bucket the precedence names', () => {
  for (const [base, head, finished, bucket] of ROWS) {
    assert.equal(bucketOf(base, head, finished), bucket, `base ${base}, head ${head}, head finished ${finished}`)
  }
  // every bucket is reachable: by the precedence, or by triage (the next test)
  assert.deepEqual(COMPARE_BUCKETS.filter(bucket => !ROWS.some(row => row[3] === bucket)), ['infrastructure', 'known'])
})

test('triage moves an entry only out of a failing or troubled bucket, and only when it explains every such result', () => {
  const cell = (given: Partial<CellTriage>): CellTriage => ({ failing: 2, trouble: 0, infrastructure: 0, known: 0, knownFailing: 0, knownTroubled: 0, ...given })
  const all = cell({ known: 2, knownFailing: 2 })
  for (const bucket of TRIAGED_BUCKETS) assert.equal(triagedBucket(bucket, all), 'known', bucket)
  for (const bucket of ['not_run', 'fixed', 'new', 'missing', 'unchanged'] as const) assert.equal(triagedBucket(bucket, all), bucket, bucket)
  assert.equal(triagedBucket('regression', cell({ known: 1, knownFailing: 1 })), 'regression', 'one unexplained result keeps the regression')
  assert.equal(triagedBucket('regression', cell({ failing: 2, trouble: 1, known: 2, knownFailing: 2 })), 'regression', 'unexplained kernel trouble keeps it too')
  assert.equal(triagedBucket('new_kernel_trouble', cell({ failing: 0, trouble: 1, known: 1, knownTroubled: 1 })), 'known', 'a known WARNING')
  assert.equal(triagedBucket('regression', cell({ infrastructure: 2 })), 'infrastructure')
  assert.equal(triagedBucket('regression', cell({ infrastructure: 2, trouble: 1 })), 'regression', 'kernel trouble is the kernel\'s, whatever the harness did')
  assert.equal(triagedBucket('regression', cell({ infrastructure: 2, known: 2, knownFailing: 2 })), 'known', 'a person\'s triage wins over the evidence')
  assert.equal(triagedBucket('regression', cell({ infrastructure: 1, known: 1, knownFailing: 1 })), 'regression', 'half known, half infrastructure: still the series\' to explain')
  assert.equal(triagedBucket('regression', undefined), 'regression')
})

test('infrastructure evidence: the shell, the namespace setup and the build, never a kernel failure', () => {
  const fail = (reason: string | null, exitCode: number | null = 1) => infrastructureEvidence({ status: 'fail', exitCode, reason })
  // real: run_kselftest-v5.6.15-x86_64-qemu-android-... `./run.sh: line 3: ./ion_test.sh: not found` with exit=127
  assert.equal(fail('./run.sh: line 3: ./ion_test.sh: not found', 127), 'exit code 127: the shell did not find a command')
  assert.equal(fail('./run.sh: line 3: ./ion_test.sh: not found'), 'the shell did not find a command')
  assert.equal(fail('fusermount3: command not found'), 'the shell did not find a command')
  assert.equal(fail('/bin/sh: 1: ./memfd_test: Permission denied'), 'the shell could not run a file')
  assert.equal(fail('Create NS failed'), 'the harness could not set up a network namespace')
  assert.equal(fail('setting the network namespace "kvm-x1y2" failed: Invalid argument'), 'the harness could not set up a network namespace')
  assert.equal(fail('Warning: file memfd_test is missing!'), 'the test was not built (the runner found no file to run)')
  assert.equal(fail('anything', 126), 'exit code 126: the shell found a command it could not run')
  // kernel failures stay the kernel's: real reasons of fixtures/real
  assert.equal(fail('x86_64/cpuid_test.c:78: cpuid1->nent == cpuid2->nent: CPUID nent mismatch: 59 vs. 56', 254), null)
  assert.equal(fail('guest_memfd_test.c:139: fd == -1 && errno == EINVAL: guest_memfd() with flag \'0x1\' should fail with EINVAL', 254), null)
  assert.equal(fail('include/kvm_util.h:527: !ret: KVM_IRQFD failed, rc: -1 errno: 11 (Resource temporarily unavailable)', 254), null)
  assert.equal(fail(null, 1), null)
  assert.equal(infrastructureEvidence({ status: 'skip', exitCode: 127, reason: 'not found' }), null, 'a skip is no failure')
})

test('the pass rate counts tests that never ran against it', () => {
  const summary = { total: 2, pass: 2, fail: 0, skip: 0, xfail: 0, xpass: 0, timeout: 0, error: 0 }
  assert.equal(passRate(summary, 0), 1)
  assert.equal(passRate(summary, 6), 0.25)
  assert.equal(passRate({ ...summary, total: 1, pass: 0, skip: 1 }, 0), null)
})

test('a reason line is the first line, cut at a word with an ellipsis', () => {
  assert.equal(reasonLine('one\ntwo'), 'one')
  const long = 'guest_memfd_test.c:139: fd == -1 && errno == EINVAL: guest_memfd() with flag 0x1 should fail with EINVAL but it did not at all'
  const cut = reasonLine(long, 60)!
  assert.ok(cut.endsWith('…') && cut.length <= 60, cut)
  assert.ok(long.startsWith(cut.slice(0, -1)) && long[cut.length - 1] === ' ', 'cut at a space, never inside a word')
})

test('why: the head\'s reason; the base\'s only when it failed or the head never ran; a timeout or an exit code when nothing else is said', () => {
  const side = (status: string | null, reason: string | null = null, exitCode: number | null = null, timeoutSeconds: number | null = null) =>
    ({ status, reason, exitCode, timeoutSeconds }) as Parameters<typeof entryWhy>[0]['head']
  assert.equal(entryWhy({ bucket: 'regression', base: side('skip', 'Requirement not met: tdx'), head: side('fail', null, 254) }), 'exit code 254')
  assert.equal(entryWhy({ bucket: 'regression', base: side('pass'), head: side('timeout', null, null, 45) }), 'timed out after 45 s')
  assert.equal(entryWhy({ bucket: 'fixed', base: side('fail', 'broke'), head: side('pass') }), 'broke')
  assert.equal(entryWhy({ bucket: 'not_run', base: side('fail', 'nent mismatch'), head: side(null) }), 'nent mismatch')
  assert.equal(entryWhy({ bucket: 'new', base: side(null), head: side('skip', 'Requirement not met: svm') }), 'Requirement not met: svm')
})
