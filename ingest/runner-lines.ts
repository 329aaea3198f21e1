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

// Every pattern here is anchored at the start and has no two quantifiers that can take the same
// characters one after the other, so that a match costs time linear in the line: a hostile line of
// 100 000 spaces once cost 20 s here (issue 12). Tails are taken with `[^]*`, never `.*$`, which
// backtracks over a line terminator (`\u2028`) in the middle of a line.
const HEADER_CURRENT = /^# selftests: (\S+): ([^]+)/
const HEADER_BARE = /^selftests: (\S+): ([^]+)/
// LAVA's parser of the time removed every colon: `# selftests lkdtm PANIC.sh`
const HEADER_LAVA = /^# selftests (\S+) (\S+)$/

const RESULT_RUNNER = /^(not ok|ok) (\d+)(?:\.\.(\d+))? selftests: (\S+): ([^]*)/
const RESULT_LAVA = /^\[(PASS|FAIL|SKIP)\] (\d+) selftests (\S+) ([^]*)/

const TAP_VERSION = /^K?TAP version \d/

export function matchHeader (line: string): TestHeader | null {
  const m = HEADER_CURRENT.exec(line) ?? HEADER_BARE.exec(line) ?? HEADER_LAVA.exec(line)
  if (!m) return null
  return { collection: m[1]!, name: m[2]!.trim() }
}

/** `1..N`, `1..N # directive`: taken apart by hand (`\s*(?:#\s*(.*))?$` backtracked over long padding). */
export function matchPlan (line: string): { planned: number, directive: string | null } | null {
  if (!line.startsWith('1..')) return null
  const digits = skipDigits(line, 3)
  if (digits === 3) return null
  const planned = Number(line.slice(3, digits))
  const at = skipSpace(line, digits)
  if (at === line.length) return { planned, directive: null }
  if (line.charCodeAt(at) !== 35 /* # */) return null
  return { planned, directive: line.slice(skipSpace(line, at + 1)) }
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

/**
 * A plain TAP result line: `ok 3 name # SKIP reason`, as printed by kselftest.h and the harness.
 * Read by hand as `(not )?ok( N)?( -)?( name)?` was, without its backtracking: `ok` and `not ok`
 * must be followed by white space or the end; a number counts when white space or the end follows it.
 */
export function matchBareResult (line: string): ResultLine | null {
  const ok = line.startsWith('ok')
  if (!ok && !line.startsWith('not ok')) return null
  let at = ok ? 2 : 6
  if (at < line.length && !isSpace(line.charCodeAt(at))) return null
  let number: number | null = null
  let next = skipSpace(line, at)
  const digitsEnd = skipDigits(line, next)
  if (digitsEnd > next && (digitsEnd === line.length || isSpace(line.charCodeAt(digitsEnd)))) {
    number = Number(line.slice(next, digitsEnd))
    at = digitsEnd
    next = skipSpace(line, at)
  }
  // `ok 1 - name`: the dash is TAP's separator when white space or the end follows it
  if (next > at && line.charCodeAt(next) === 45 /* - */ && (next + 1 === line.length || isSpace(line.charCodeAt(next + 1)))) {
    at = next + 1
  }
  return describeResult(ok, null, line.slice(skipSpace(line, at)), number)
}

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
  const legacy = legacyVerdict(result.name)
  if (legacy) {
    result.name = legacy.name
    result.status = legacy.status
    return result
  }
  const hash = tail.indexOf(' # ')
  const directive = hash >= 0 ? tail.slice(hash + 3).trim() : tail.startsWith('# ') ? tail.slice(2).trim() : null
  if (hash >= 0) result.name = tail.slice(0, hash).trim()
  else if (tail.startsWith('# ')) result.name = ''
  if (directive !== null) applyDirective(result, ok, directive)
  else {
    // qa-reports removed every `# `, leaving `irqfd_test exit=254`
    const at = result.name.lastIndexOf('exit=')
    const end = skipDigits(result.name, at + 5)
    if (at > 0 && end > at + 5 && end === result.name.length && isSpace(result.name.charCodeAt(at - 1))) {
      result.exitCode = Number(result.name.slice(at + 5))
      result.name = result.name.slice(0, at).trimEnd()
    }
  }
  return result
}

function applyDirective (result: ResultLine, ok: boolean, directive: string): void {
  let rest: string | null
  if ((rest = afterKeyword(directive, 'SKIP')) !== null) {
    // pre-5.8 runners printed `not ok N ... # SKIP`: still a skip, not a failure
    result.status = 'skip'
    result.reason = rest || null
  } else if (startsWithWord(directive, 'TIMEOUT')) {
    // `# TIMEOUT 45 seconds`; old runners printed `# TIMEOUT` alone
    result.status = 'timeout'
    const from = skipSpace(directive, 7)
    const end = skipDigits(directive, from)
    result.timeoutSeconds = end > from ? Number(directive.slice(from, end)) : null
  } else if ((rest = exitCodeOf(directive)) !== null) {
    result.exitCode = Number(rest)
  } else if ((rest = afterKeyword(directive, 'XFAIL')) !== null) {
    result.status = 'xfail'
    result.reason = rest || null
  } else if ((rest = afterKeyword(directive, 'XPASS')) !== null) {
    result.status = 'xpass'
    result.reason = rest || null
  } else if ((rest = afterKeyword(directive, 'TODO')) !== null) {
    result.status = ok ? 'xpass' : 'xfail'
    result.reason = rest || null
  } else if (result.name === '') {
    // `ok 5 # something`: no name, the whole tail was a comment
    result.name = directive
  } else {
    // not a directive we know: it was part of the name
    result.name = `${result.name} # ${directive}`
  }
}

/** `SKIP: reason`, `skip - reason`: the text after a directive word (any case) and its separators. */
function afterKeyword (text: string, word: string): string | null {
  if (!startsWithWord(text, word)) return null
  let at = word.length
  while (at < text.length && (isSpace(text.charCodeAt(at)) || text.charCodeAt(at) === 58 /* : */ || text.charCodeAt(at) === 45 /* - */)) at++
  return text.slice(at)
}

/** `exit=-1`: the code as printed, or null. */
function exitCodeOf (directive: string): string | null {
  if (!directive.startsWith('exit=')) return null
  const from = directive.charCodeAt(5) === 45 /* - */ ? 6 : 5
  const end = skipDigits(directive, from)
  return end > from ? directive.slice(5, end) : null
}

/** `word` (any case) at the start of `text`, followed by a word boundary as `\b` means it. */
function startsWithWord (text: string, word: string): boolean {
  if (text.length < word.length) return false
  for (let i = 0; i < word.length; i++) {
    // ASCII case folding, as a regex's `i` flag does for these letters
    if ((text.charCodeAt(i) & ~0x20) !== word.charCodeAt(i)) return false
  }
  return text.length === word.length || !isWordChar(text.charCodeAt(word.length))
}

const LEGACY_VERDICTS = { '[PASS]': 'pass', '[FAIL]': 'fail', '[SKIP]': 'skip' } as const

/** The pre-5.2 runner's `name [PASS]`: a verdict after white space at the very end. */
function legacyVerdict (name: string): { name: string, status: 'pass' | 'fail' | 'skip' } | null {
  if (name.charCodeAt(name.length - 1) !== 93 /* ] */) return null
  const tail = name.slice(-6)
  if (!Object.hasOwn(LEGACY_VERDICTS, tail) || name.length < 7 || !isSpace(name.charCodeAt(name.length - 7))) return null
  return { name: name.slice(0, -6).trimEnd(), status: LEGACY_VERDICTS[tail as keyof typeof LEGACY_VERDICTS] }
}

/** `\s` of a regex, one character: what trim() removes too. */
export function isSpace (code: number): boolean {
  if (code === 32 || (code >= 9 && code <= 13)) return true
  if (code < 128) return false
  return /\s/.test(String.fromCharCode(code))
}

export function isWordChar (code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95
}

export function skipSpace (text: string, from: number): number {
  let at = from
  while (at < text.length && isSpace(text.charCodeAt(at))) at++
  return at
}

function skipDigits (text: string, from: number): number {
  let at = from
  while (at < text.length) {
    const code = text.charCodeAt(at)
    if (code < 48 || code > 57) break
    at++
  }
  return at
}
