import type { Flag } from './vocabulary.ts'

/**
 * Kernel console output: `[  12.345678] text`, with an optional printk level (`<4>[...]`). printk
 * always prints six decimals, which keeps `[ OK ]` or `[1.5]` in test output from matching. The
 * stamp may be glued into the middle of a runner line when the console interrupts it.
 */
const KERNEL_STAMP = /(?:<\d>)?\[\s*\d+\.\d{6}\]\s?/y

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
      // sticky, from the bracket: unanchored, this searched the rest of the line from every `[1.`
      KERNEL_STAMP.lastIndex = start
      const m = KERNEL_STAMP.exec(line)
      if (m) return { start, end: start + m[0].length }
    }
    bracket = line.indexOf('[', bracket + 1)
  }
  return null
}

function isDigit (code: number): boolean {
  return code >= 48 && code <= 57
}

const KERNEL_HINT = /panic|Oops|opcode|protection|Unable|BUG|WARNING|rcu|[Tt]race/
interface Matcher { test (text: string): boolean }

const KERNEL_TROUBLE: Array<[Matcher, Flag]> = [
  [/Kernel panic - not syncing/, 'kernel_panic'],
  [/\bOops\b|^invalid opcode:|^general protection fault|^Unable to handle kernel/, 'kernel_oops'],
  [/^BUG:|kernel BUG at /, 'kernel_bug'],
  [/^WARNING:/, 'kernel_warning'],
  [{ test: isRcuStall }, 'rcu_stall'],
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
/** The same hint, searched for through a whole text from `lastIndex` (plain-lines.ts). */
export const USERSPACE_HINT_ANYWHERE = new RegExp(USERSPACE_HINT.source, 'g')
const USERSPACE_TROUBLE: Array<[Matcher, Flag]> = [
  // `Aborted (core dumped)` from the shell, `./run_hugetlbfs_test.sh: line 60: 97095 Aborted`
  [/(?:^|\s)Aborted(?:\s|$)/, 'aborted'],
  [/Segmentation fault/, 'segfault'],
  // KVM selftests' TEST_ASSERT, glibc's assert() (possibly wrapped after "Assertion"), the harness
  [{ test: text => text.includes('==== Test Assertion Failure ====') || isGlibcAssertion(text) || text.includes('Test terminated by assertion') }, 'assertion_failure'],
]

/** Signs of a crash or a failed assertion in a test's own output. */
export function userspaceTroubleIn (text: string, into: Set<Flag>): void {
  // this runs on every output line: plain substring tests keep the regexes off almost all of them
  if (!USERSPACE_HINT.test(text)) return
  for (const [pattern, flag] of USERSPACE_TROUBLE) {
    if (pattern.test(text)) into.add(flag)
  }
}

/**
 * `rcu: INFO: rcu_sched self-detected stall`, `rcu: INFO: ... detected stalls on CPUs/tasks`: taken
 * apart with indexOf, because `rcu: INFO: .*stall` and `rcu_\w+ self-detected stall` searched again
 * from every `rcu_` of a line (quadratic on `rcu_rcu_rcu_...`).
 */
function isRcuStall (text: string): boolean {
  const info = text.indexOf('rcu: INFO: ')
  if (info !== -1 && text.indexOf('stall', info + 11) !== -1) return true
  return rcuWordBefore(text, ' self-detected stall') || rcuWordBefore(text, ' detected stalls')
}

/** `rcu_\w+` + `tail`: some occurrence of `tail` follows a word holding `rcu_` and one more word character. */
function rcuWordBefore (text: string, tail: string): boolean {
  for (let at = text.indexOf(tail); at !== -1; at = text.indexOf(tail, at + 1)) {
    let start = at
    while (start > 0 && isWordChar(text.charCodeAt(start - 1))) start--
    // each stretch of word characters is scanned once: the next occurrence starts after a space
    const rcu = text.slice(start, at).indexOf('rcu_')
    if (rcu !== -1 && start + rcu + 4 < at) return true
  }
  return false
}

/**
 * glibc's `file.c:12: main: Assertion `x' failed.`, or an assertion line wrapped after "Assertion":
 * `: Assertion\b.*\bfailed|: Assertion\s*$`, read by hand (the regex was quadratic on a line of
 * repeated `: Assertion`).
 */
export function isGlibcAssertion (text: string): boolean {
  let at = text.indexOf(': Assertion')
  while (at !== -1 && at + 11 < text.length && isWordChar(text.charCodeAt(at + 11))) at = text.indexOf(': Assertion', at + 1)
  if (at === -1) return false
  for (let f = text.indexOf('failed', at + 11); f !== -1; f = text.indexOf('failed', f + 1)) {
    if (!isWordChar(text.charCodeAt(f - 1))) return true
  }
  // wrapped: nothing but white space after the last `: Assertion`
  const last = text.lastIndexOf(': Assertion')
  return text.slice(last + 11).trim() === ''
}

function isWordChar (code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95
}
