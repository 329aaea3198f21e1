import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ABSENT, bucketOf, COMPARE_BUCKETS, entryWhy, FAILED, MIXED, passRate, PASSED, reasonLine, TROUBLED, type BucketOrUnchanged,
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
  // every bucket is reachable
  assert.deepEqual(COMPARE_BUCKETS.filter(bucket => !ROWS.some(row => row[3] === bucket)), [])
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
