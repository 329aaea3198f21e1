import { splitTestLine, type OutputLine } from './output-lines.ts'
import type { SubtestRecord } from './records.ts'
import { isGlibcAssertion } from './trouble.ts'
import { isFailing, type Status } from './vocabulary.ts'

/**
 * Why a test failed or skipped, in the test's own words, when its output says so. Reasons are
 * capped: a 4 KB assertion message is kept whole, a runaway line is not.
 */
const MAX_REASON = 4096

const KVM_ASSERT_HEADER = '==== Test Assertion Failure ===='
const BACKTRACE_FRAME = /^\s*\d+\s+(?:0x[0-9a-f]+|\(inlined by\))/
// kselftest_harness.h: `tls.c:323:sendfile:Expected ret (-1) == 0 (0)`
const HARNESS_EXPECTATION = /^\s*[\w./-]+\.[ch]:\d+:[^\s:]*:/
const SKIP_EXPLANATION = /Requirement not met|^\s*\[?SKIP\]?\b|Skipping|\bskip(?:ping|ped)?\b/i
// Lines the runner and the harness print around every test; they never explain a result.
// a leading verdict adds nothing to a skip reason: `SKIP: arping not installed`
const SKIP_MARK = /^\s*\[?SKIP\]?[\s:-]*/
// LKFT's LAVA parser echoed every line as `word: word_word ...`
// (fixtures/real/squad-fixture-lava-v4.14.156-rc1-kvm-memfd-transformed-excerpt.txt)
const LAVA_ECHO = /^[^\s:]+: [^\s_]+_\S*(?:\s|$)/
const CHATTER = /^\s*$|\s#$|^timeout set to \d+|^Random seed:|^#?\s*Totals:|Planned tests != run tests|^#?\s*(?:PASSED|FAILED): \d+ \/ \d+|^make\[\d+\]|^=+$|^K?TAP version|^1\.\.\d+|^(?:not )?ok\b|^#?\s+(?:RUN|OK|FAIL|SKIP)\s{2}|^Starting \d+ tests|^#\s*$/

export function clip (text: string): string {
  const trimmed = text.trim()
  return trimmed.length > MAX_REASON ? `${trimmed.slice(0, MAX_REASON - 1)}…` : trimmed
}

export interface ReasonSources {
  status: Status
  output: OutputLine[]
  /** What the result line said (`# SKIP reason`). */
  directive: string | null
  /** `Bail out! ...` of a nested block. */
  bailout: string | null
  /** `1..0 # SKIP reason` of a nested block, or a merged `ok N # SKIP reason`. */
  nestedSkip: string | null
  subtests: SubtestRecord[]
}

export function findReason (src: ReasonSources): string | null {
  if (src.directive) return clip(src.directive)
  switch (src.status) {
    case 'pass':
      return null
    case 'skip': {
      if (src.nestedSkip) return clip(src.nestedSkip)
      const skipped = src.subtests.find(subtest => subtest.status === 'skip')
      return skipped ? clip(skipped.reason ?? skipped.name) : skipExplanation(src.output)
    }
    case 'xfail':
      return src.nestedSkip ? clip(src.nestedSkip) : null
    default: {
      const explained = explanation(src)
      if (explained || src.status === 'timeout') return explained
      return lastMeaningful(src.output)
    }
  }
}

/** What the output says went wrong, when it says so plainly. */
export function explanation (src: Pick<ReasonSources, 'bailout' | 'output' | 'subtests'>): string | null {
  return src.bailout
    ? clip(`Bail out! ${src.bailout}`)
    : kvmAssertion(src.output) ?? firstMatch(src.output, isGlibcAssertion) ??
      firstMatch(src.output, HARNESS_EXPECTATION) ?? failingSubtest(src.subtests)
}

/** The location line and the message of a KVM selftest `TEST_ASSERT` report. */
function kvmAssertion (output: OutputLine[]): string | null {
  const start = output.findIndex(line => line.text.includes(KVM_ASSERT_HEADER))
  if (start < 0) return null
  let location: string | null = null
  let message: string | null = null
  for (let i = start + 1; i < output.length; i++) {
    const text = output[i]!.text
    if (!/^\s+\S/.test(text) || BACKTRACE_FRAME.test(text) || /^\s*pid=\d+/.test(text)) continue
    // frames are indented further than the location and the message
    if (/^\s{4,}/.test(text)) continue
    if (location === null) location = text.trim()
    else message = text.trim()
  }
  if (location === null) return null
  return clip(message ? `${location}: ${message}` : location)
}

function firstMatch (output: OutputLine[], pattern: RegExp | ((text: string) => boolean)): string | null {
  const test = typeof pattern === 'function' ? pattern : (text: string) => pattern.test(text)
  for (const line of output) if (test(line.text)) return clip(line.text)
  return null
}

function failingSubtest (subtests: SubtestRecord[]): string | null {
  const failed = subtests.filter(s => isFailing(s.status))
  if (failed.length === 0) return null
  const first = failed[0]!
  const more = failed.length > 1 ? ` (and ${failed.length - 1} more)` : ''
  return clip(`${first.name}: ${first.status}${first.reason ? ` (${first.reason})` : ''}${more}`)
}

function skipExplanation (output: OutputLine[]): string | null {
  for (let i = output.length - 1; i >= 0; i--) {
    const text = output[i]!.text
    if (SKIP_EXPLANATION.test(text) && !CHATTER.test(text)) return withoutSkipMark(text.replace(/^\s*#\s*/, ''))
  }
  const last = lastMeaningful(output)
  return last === null ? null : withoutSkipMark(last)
}

function withoutSkipMark (text: string): string {
  // a `# TEST: description   [SKIP]` line of net/forwarding style scripts says what was skipped
  const described = splitTestLine(text)?.name ?? text
  return clip(described.replace(SKIP_MARK, '') || described)
}

function lastMeaningful (output: OutputLine[]): string | null {
  // prefer what the test printed through the runner over unprefixed console or wrapped lines
  const prefixed = output.some(line => line.prefixed)
  for (let i = output.length - 1; i >= 0; i--) {
    const line = output[i]!
    if (prefixed && !line.prefixed) continue
    if (!line.prefixed && LAVA_ECHO.test(line.text)) continue
    // a note of a deeper level (`# # msg` before `# not ok`) explains without its `# `
    const text = line.text.replace(/^(?:#(?: |$))+/, '')
    if (!CHATTER.test(text)) return clip(text)
  }
  return null
}
