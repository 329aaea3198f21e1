import type { Flag } from './vocabulary.ts'

/**
 * Kernel console output: `[  12.345678] text`, with an optional printk level (`<4>[...]`). printk
 * always prints six decimals, which keeps `[ OK ]` or `[1.5]` in test output from matching. The
 * stamp may be glued into the middle of a runner line when the console interrupts it.
 */
const KERNEL_STAMP = /(?:<\d>)?\[\s*\d+\.\d{6}\]\s?/

export interface SplitLine {
  /** What the runner or the test printed (may be empty). */
  runner: string
  /** What the kernel printed on this line, stamp removed, or null. */
  kernel: string | null
}

export function splitKernelText (line: string): SplitLine {
  // cheap test first: almost every line has no stamp
  if (line.indexOf('.') === -1 || line.indexOf('[') === -1) return { runner: line, kernel: null }
  const m = KERNEL_STAMP.exec(line)
  if (!m) return { runner: line, kernel: null }
  return { runner: line.slice(0, m.index), kernel: line.slice(m.index + m[0].length) }
}

const KERNEL_TROUBLE: Array<[RegExp, Flag]> = [
  [/Kernel panic - not syncing/, 'kernel_panic'],
  [/\bOops\b|^invalid opcode:|^general protection fault|^Unable to handle kernel/, 'kernel_oops'],
  [/^BUG:|kernel BUG at /, 'kernel_bug'],
  [/^WARNING:/, 'kernel_warning'],
  [/rcu: INFO: .*stall|rcu_\w+ self-detected stall|rcu_\w+ detected stalls/, 'rcu_stall'],
  [/^\s*Call [Tt]race:/, 'call_trace'],
]

/** Kernel trouble named by a console line (stamp already removed). */
export function kernelTroubleIn (text: string, into: Set<Flag>): void {
  for (const [pattern, flag] of KERNEL_TROUBLE) {
    if (pattern.test(text)) into.add(flag)
  }
}

const USERSPACE_TROUBLE: Array<[RegExp, Flag]> = [
  // `Aborted (core dumped)` from the shell, `./run_hugetlbfs_test.sh: line 60: 97095 Aborted`
  [/(?:^|\s)Aborted(?:\s|$)/, 'aborted'],
  [/Segmentation fault/, 'segfault'],
  // KVM selftests' TEST_ASSERT, glibc's assert() (possibly wrapped after "Assertion"), the harness
  [/==== Test Assertion Failure ====|: Assertion\b.*\bfailed|: Assertion\s*$|Test terminated by assertion/, 'assertion_failure'],
]

/** Signs of a crash or a failed assertion in a test's own output. */
export function userspaceTroubleIn (text: string, into: Set<Flag>): void {
  for (const [pattern, flag] of USERSPACE_TROUBLE) {
    if (pattern.test(text)) into.add(flag)
  }
}
