import type { TestRecord } from './records.ts'

/**
 * Recognizers for the lines the kselftest runner itself prints, in every form seen in real logs:
 * the current runner (`# selftests: C: T`, `ok N selftests: C: T # SKIP`), the pre-5.2 runner
 * (bare `selftests: C: T` headers, `not ok 1..N selftests: C: T [SKIP]`), and the LKFT/LAVA
 * transformation of 2019-2020 that stripped colons (`# selftests C T`, `[FAIL] 2 selftests C T`).
 * The form is decided line by line, never from a kernel version.
 */

export interface TestHeader {
  collection: string
  name: string
}

/**
 * What one result line says: a test record's fields as far as the line alone tells them (no
 * collection on a bare TAP line; `reason` is only what the line itself gives, `# SKIP reason`).
 */
export type ResultLine = Pick<TestRecord, 'name' | 'number' | 'status' | 'exitCode' | 'timeoutSeconds' | 'reason'> & {
  collection: string | null
}

const HEADER_CURRENT = /^# selftests: (\S+): (.+)$/
const HEADER_BARE = /^selftests: (\S+): (.+)$/
// LAVA's parser of the time removed every colon: `# selftests lkdtm PANIC.sh`
const HEADER_LAVA = /^# selftests (\S+) (\S+)$/

const RESULT_RUNNER = /^(not ok|ok) (\d+)(?:\.\.(\d+))? selftests: (\S+): (.*)$/
const RESULT_LAVA = /^\[(PASS|FAIL|SKIP)\] (\d+) selftests (\S+) (.*)$/
const RESULT_BARE = /^(not ok|ok)(?:\s+(\d+))?(?:\s+-)?(?:\s+(.*))?$/

const PLAN = /^1\.\.(\d+)\s*(?:#\s*(.*))?$/
const TAP_VERSION = /^K?TAP version \d+/

export function matchHeader (line: string): TestHeader | null {
  const m = HEADER_CURRENT.exec(line) ?? HEADER_BARE.exec(line) ?? HEADER_LAVA.exec(line)
  if (!m) return null
  return { collection: m[1]!, name: m[2]!.trim() }
}

export function matchPlan (line: string): { planned: number, directive: string | null } | null {
  const m = PLAN.exec(line)
  if (!m) return null
  return { planned: Number(m[1]), directive: m[2] ?? null }
}

export function isTapVersion (line: string): boolean {
  return TAP_VERSION.test(line)
}

/** A result line of the runner: it names its collection. */
export function matchRunnerResult (line: string): ResultLine | null {
  let m = RESULT_RUNNER.exec(line)
  if (m) {
    // the pre-5.2 runner printed `ok 1..N`, where N is the test's number
    const number = Number(m[3] ?? m[2])
    return describeResult(m[1] === 'ok', m[4]!, m[5]!, number)
  }
  m = RESULT_LAVA.exec(line)
  if (m) {
    const result = describeResult(m[1] !== 'FAIL', m[3]!, m[4]!, Number(m[2]))
    if (m[1] === 'SKIP') result.status = 'skip'
    return result
  }
  return null
}

/** A plain TAP result line: `ok 3 name # SKIP reason`, as printed by kselftest.h and the harness. */
export function matchBareResult (line: string): ResultLine | null {
  if (!line.startsWith('ok') && !line.startsWith('not ok')) return null
  const m = RESULT_BARE.exec(line)
  if (!m) return null
  return describeResult(m[1] === 'ok', null, m[3] ?? '', m[2] === undefined ? null : Number(m[2]))
}

const LEGACY_VERDICT = /\s+\[(PASS|FAIL|SKIP)\]$/
// qa-reports removed every `# `, leaving `irqfd_test exit=254`
const UNMARKED_EXIT = /\s+exit=(\d+)$/

/** A result as tap-parser reported it; kselftest directives it does not know stay in the name. */
export function interpretTapResult (ok: boolean, number: number | null, name: string, skip: string | boolean, todo: string | boolean): ResultLine {
  const result = describeResult(ok, null, name, number)
  if (skip !== false) {
    result.status = 'skip'
    result.reason = typeof skip === 'string' ? skip.replace(/^[\s:-]+/, '') || null : null
  } else if (todo !== false) {
    result.status = ok ? 'xpass' : 'xfail'
    result.reason = typeof todo === 'string' ? todo.replace(/^[\s:-]+/, '') || null : null
  }
  return result
}

function describeResult (ok: boolean, collection: string | null, tail: string, number: number | null): ResultLine {
  const result: ResultLine = {
    collection,
    name: tail.trim(),
    number,
    status: ok ? 'pass' : 'fail',
    exitCode: null,
    timeoutSeconds: null,
    reason: null,
  }
  const legacy = LEGACY_VERDICT.exec(result.name)
  if (legacy) {
    result.name = result.name.slice(0, legacy.index)
    result.status = legacy[1] === 'PASS' ? 'pass' : legacy[1] === 'SKIP' ? 'skip' : 'fail'
    return result
  }
  const hash = tail.indexOf(' # ')
  const directive = hash >= 0 ? tail.slice(hash + 3).trim() : tail.startsWith('# ') ? tail.slice(2).trim() : null
  if (hash >= 0) result.name = tail.slice(0, hash).trim()
  else if (tail.startsWith('# ')) result.name = ''
  if (directive !== null) applyDirective(result, ok, directive)
  else {
    const exit = UNMARKED_EXIT.exec(result.name)
    if (exit) {
      result.name = result.name.slice(0, exit.index)
      result.exitCode = Number(exit[1])
    }
  }
  return result
}

function applyDirective (result: ResultLine, ok: boolean, directive: string): void {
  let m: RegExpExecArray | null
  if ((m = /^SKIP\b[\s:-]*(.*)$/i.exec(directive))) {
    // pre-5.8 runners printed `not ok N ... # SKIP`: still a skip, not a failure
    result.status = 'skip'
    result.reason = m[1] || null
  } else if ((m = /^TIMEOUT\b\s*(\d+)?/i.exec(directive))) {
    result.status = 'timeout'
    result.timeoutSeconds = m[1] === undefined ? null : Number(m[1])
  } else if ((m = /^exit=(-?\d+)/.exec(directive))) {
    result.exitCode = Number(m[1])
  } else if ((m = /^XFAIL\b[\s:-]*(.*)$/i.exec(directive))) {
    result.status = 'xfail'
    result.reason = m[1] || null
  } else if ((m = /^XPASS\b[\s:-]*(.*)$/i.exec(directive))) {
    result.status = 'xpass'
    result.reason = m[1] || null
  } else if ((m = /^TODO\b[\s:-]*(.*)$/i.exec(directive))) {
    result.status = ok ? 'xpass' : 'xfail'
    result.reason = m[1] || null
  } else if (result.name === '') {
    // `ok 5 # something`: no name, the whole tail was a comment
    result.name = directive
  } else {
    // not a directive we know: it was part of the name
    result.name = `${result.name} # ${directive}`
  }
}
