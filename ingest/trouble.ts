import type { Flag } from './vocabulary.ts'

/**
 * Kernel console output: `[  12.345678] text`, with an optional printk level (`<4>[...]`). printk
 * always prints six decimals, which keeps `[ OK ]` or `[1.5]` in test output from matching. The
 * stamp may be glued into the middle of a runner line when the console interrupts it.
 */
const KERNEL_STAMP = /(?:<\d>)?\[\s*\d+\.\d{6}\]\s?/

/**
 * Where the kernel's stamp starts and ends on a line, or null (almost always): the runner's text
 * is what comes before it, the kernel's what comes after.
 */
export function findKernelStamp (line: string): { start: number, end: number } | null {
  // this runs on every line of the log: look for `[ digits.` by hand before any regex
  let bracket = line.indexOf('[')
  while (bracket !== -1) {
    let i = bracket + 1
    while (line.charCodeAt(i) === 32) i++
    const digitsStart = i
    while (isDigit(line.charCodeAt(i))) i++
    if (i > digitsStart && line.charCodeAt(i) === 46 /* . */) {
      const start = bracket >= 3 && line.charCodeAt(bracket - 3) === 60 /* < */ ? bracket - 3 : bracket
      const m = KERNEL_STAMP.exec(line.slice(start))
      if (m && m.index === 0) return { start, end: start + m[0].length }
    }
    bracket = line.indexOf('[', bracket + 1)
  }
  return null
}

function isDigit (code: number): boolean {
  return code >= 48 && code <= 57
}

const KERNEL_HINT = /panic|Oops|opcode|protection|Unable|BUG|WARNING|rcu|[Tt]race/
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
  // every pattern needs one of these; most console lines have none
  if (!KERNEL_HINT.test(text)) return
  for (const [pattern, flag] of KERNEL_TROUBLE) {
    if (pattern.test(text)) into.add(flag)
  }
}

const USERSPACE_HINT = /bort|ssertion|Segmentation/
const USERSPACE_TROUBLE: Array<[RegExp, Flag]> = [
  // `Aborted (core dumped)` from the shell, `./run_hugetlbfs_test.sh: line 60: 97095 Aborted`
  [/(?:^|\s)Aborted(?:\s|$)/, 'aborted'],
  [/Segmentation fault/, 'segfault'],
  // KVM selftests' TEST_ASSERT, glibc's assert() (possibly wrapped after "Assertion"), the harness
  [/==== Test Assertion Failure ====|: Assertion\b.*\bfailed|: Assertion\s*$|Test terminated by assertion/, 'assertion_failure'],
]

/** Signs of a crash or a failed assertion in a test's own output. */
export function userspaceTroubleIn (text: string, into: Set<Flag>): void {
  // this runs on every output line: plain substring tests keep the regexes off almost all of them
  if (!USERSPACE_HINT.test(text)) return
  for (const [pattern, flag] of USERSPACE_TROUBLE) {
    if (pattern.test(text)) into.add(flag)
  }
}
