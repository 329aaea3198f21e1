/**
 * The one definition of the words results are described with. The TypeScript types, the JSON
 * schemas of the API and the SQL CHECK constraints are all derived from these arrays.
 */

export const STATUSES = ['pass', 'fail', 'skip', 'xfail', 'xpass', 'timeout', 'error'] as const
export type Status = (typeof STATUSES)[number]

/** Statuses that mean "this test did not do what it should" when comparing versions. */
export const FAILING_STATUSES: readonly Status[] = ['fail', 'xpass', 'timeout', 'error']

/**
 * When two results claim the same test (a harness `ok 5 # SKIP` followed by `ok 5 name`, or a
 * collection run twice in one log), the one that tells more about trouble wins.
 */
const STATUS_SEVERITY: Record<Status, number> = {
  pass: 0, xfail: 1, skip: 2, xpass: 3, fail: 4, timeout: 5, error: 6,
}

export function worseStatus (a: Status, b: Status): Status {
  return STATUS_SEVERITY[b] > STATUS_SEVERITY[a] ? b : a
}

export function isFailing (status: Status): boolean {
  return FAILING_STATUSES.includes(status)
}

/**
 * Flags attached to a test. Kernel trouble is what the kernel console printed between the test's
 * header and its result; the userspace signs are what the test's own output shows. `false_pass`
 * marks a test reported `ok` although its output shows a crash or a failed assertion.
 */
export const FLAGS = [
  'kernel_oops',
  'kernel_bug',
  'kernel_warning',
  'kernel_panic',
  'rcu_stall',
  'call_trace',
  'aborted',
  'segfault',
  'assertion_failure',
  'false_pass',
] as const
export type Flag = (typeof FLAGS)[number]

export const KERNEL_TROUBLE_FLAGS: readonly Flag[] = [
  'kernel_oops', 'kernel_bug', 'kernel_warning', 'kernel_panic', 'rcu_stall', 'call_trace',
]

export type Summary = { total: number } & Record<Status, number>

export function summarize (statuses: Iterable<Status>): Summary {
  const summary: Summary = { total: 0, pass: 0, fail: 0, skip: 0, xfail: 0, xpass: 0, timeout: 0, error: 0 }
  for (const status of statuses) {
    summary[status]++
    summary.total++
  }
  return summary
}
