import { splitTestLine, type OutputLine, type OwnLines } from './output-lines.ts'
import type { SubtestRecord } from './records.ts'
import type { TestHeader } from './runner-lines.ts'
import { userspaceTroubleIn } from './trouble.ts'
import type { Flag } from './vocabulary.ts'

/**
 * A test between its header and its end, as the parser keeps it while it runs, and its output
 * read back when the test ends.
 */
export interface OpenTest {
  header: TestHeader
  headerLine: number
  /**
   * Every line after the header as printed (kernel-only lines as ''), so line numbers follow from
   * positions; turned into OutputLines only for the tests that need a closer look. A line kept as
   * it came is its offset in one of `sources` rather than a string of its own: a test's output is
   * held for as long as the test runs, and retained line strings cost the garbage collector more
   * than all the rest of the parsing (a first pass over a 50 MB log: 120 MB/s with them, 335 without).
   */
  raw: Array<string | number>
  /** The texts that offsets in `raw` point into, and the index in `raw` from which each one counts. */
  sources: string[]
  sourceFrom: number[]
  /** Which push() text the last of `sources` is. */
  sourceSeq: number
  flags: Set<Flag>
  capped: boolean
  /** The line the last entry of `raw` was pushed for by output(). */
  rawLine: number
  /** Whether any output line may be nested TAP or a `TEST:` line: most tests have neither. */
  marks: OutputMarks
}

export interface OutputMarks {
  nested: boolean
  testLines: boolean
}

const TEST_VERDICTS = new Set(['OK', 'FAIL', 'SKIP', 'XFAIL', 'XPASS'])

/** Cheap first-character tests while streaming; the parsers that follow decide for real. */
export function noteMarks (text: string, from: number, marks: OutputMarks): void {
  const first = text.charCodeAt(from)
  noteMarkOf(first, marks)
  if (first === 84 /* T */ || first === 32) {
    if (text.indexOf('TEST: ', from) !== -1) marks.testLines = true
  }
}

/** The nested mark a line's first character (after its `# `) gives. */
export function noteMarkOf (first: number, marks: OutputMarks): void {
  // ok, not ok, 1..N, Bail out!, TAP version, KTAP version, deeper `# ` levels
  if (first === 111 || first === 110 || first === 49 || first === 66 || first === 84 || first === 75 || first === 35) marks.nested = true
}

export function marksOf (output: OutputLine[]): OutputMarks {
  const marks = { nested: false, testLines: false }
  for (const line of output) if (line.prefixed) noteMarks(line.text, 0, marks)
  return marks
}

/**
 * Each of the open test's lines as line() had it, with its number: text[start, end) (a line kept as
 * an offset is read in place, up to its newline and without the \r before it; lines cut for length,
 * cut by a \r or otherwise changed were kept as strings). Blank and kernel-only lines are left out.
 */
function eachLine (open: OpenTest, visit: (no: number, text: string, start: number, end: number) => void): void {
  const first = open.headerLine + 1
  let source = -1
  for (let i = 0; i < open.raw.length; i++) {
    const entry = open.raw[i]!
    if (typeof entry === 'number') {
      while (source + 1 < open.sourceFrom.length && open.sourceFrom[source + 1]! <= i) source++
      const text = open.sources[source]!
      let end = text.indexOf('\n', entry)
      if (end === -1) end = text.length
      while (end > entry && text.charCodeAt(end - 1) === 13) end--
      if (end > entry) visit(first + i, text, entry, end)
    } else if (entry !== '') visit(first + i, entry, 0, entry.length)
  }
}

/** The open test's lines as OutputLines: `# ` stripped once, blank and kernel-only lines left out. */
export function outputOf (open: OpenTest): OutputLine[] {
  const output: OutputLine[] = []
  eachLine(open, (no, text, start, end) => {
    const line = start === 0 && end === text.length ? text : text.slice(start, end)
    if (line.indexOf('\r') === -1) output.push(outputLine(no, line))
    else for (const part of line.split('\r')) output.push(outputLine(no, part))
  })
  return output
}

/**
 * What `outputOf(open)` keeps of the test's own `# ` lines, without the lines around them: for a
 * test that passed, its nested results are all that is read of its output.
 */
export function ownLinesOf (open: OpenTest): OwnLines {
  const own: OwnLines = { texts: [], nos: [] }
  eachLine(open, (no, text, start, end) => {
    // only a line kept as a string can hold a \r (the parts of a line cut by one are never the line as it came)
    const whole = start === 0 && end === text.length
    if (whole && text.indexOf('\r') !== -1) for (const part of text.split('\r')) addOwn(own, no, part, 0, part.length)
    else addOwn(own, no, text, start, end)
  })
  return own
}

/** text[start, end) as outputLine() has it, kept when it is the test's own (`#`, `# ...`). */
function addOwn (own: OwnLines, no: number, text: string, start: number, end: number): void {
  if (text.charCodeAt(start) !== 35 /* # */ || start === end) return
  if (end === start + 1) own.texts.push('')
  else if (text.charCodeAt(start + 1) === 32) own.texts.push(text.slice(start + 2, end))
  else return
  own.nos.push(no)
}

/** The own lines among OutputLines. */
export function ownLinesIn (output: OutputLine[]): OwnLines {
  const own: OwnLines = { texts: [], nos: [] }
  for (const line of output) {
    if (!line.prefixed) continue
    own.texts.push(line.text)
    own.nos.push(line.no)
  }
  return own
}

export function outputLine (no: number, line: string): OutputLine {
  if (line === '#') return { no, text: '', prefixed: true }
  if (line.charCodeAt(0) === 35 && line.charCodeAt(1) === 32) return { no, text: line.slice(2), prefixed: true }
  return { no, text: line, prefixed: false }
}

export function userspaceTroubleOf (output: OutputLine[]): Set<Flag> {
  const flags = new Set<Flag>()
  for (const line of output) userspaceTroubleIn(line.text, flags)
  return flags
}

export function matchTestLine (text: string): { name: string, verdict: string } | null {
  const m = splitTestLine(text)
  if (!m || !TEST_VERDICTS.has(m.verdict)) return null
  const name = m.name.trim()
  return name === '' ? null : { name, verdict: m.verdict }
}

/** net/forwarding style `TEST: description   [ OK ]` lines: sub-results that are not TAP. */
export function testLineResults (own: OutputLine[]): SubtestRecord[] {
  const found: SubtestRecord[] = []
  for (let i = 0; i < own.length; i++) {
    const line = own[i]!
    const m = matchTestLine(line.text)
    if (!m) continue
    const verdict = m.verdict
    const status = verdict === 'OK' ? 'pass' : verdict === 'FAIL' ? 'fail' : verdict === 'SKIP' ? 'skip' : verdict === 'XFAIL' ? 'xfail' : 'xpass'
    // the lines after a verdict, indented with a tab, explain it
    let end = i
    while (own[end + 1] && /^\t/.test(own[end + 1]!.text)) end++
    const detail = status === 'pass' || end === i ? null : own[i + 1]!.text.trim()
    found.push({ name: m.name, status, reason: detail, lines: [line.no, own[end]!.no], subtests: [] })
  }
  return found
}
