import { createRequire } from 'node:module'
import type { Parser as TapParser } from 'tap-parser'
import { ownOutput, type OwnLines } from './output-lines.ts'
import { findReason } from './reasons.ts'
import type { SubtestRecord } from './records.ts'
import { LINE_BREAKING, LINE_BREAKING_ALL, readPlainTap, type TapEvents, type TapPoint } from './nested-tap-reader.ts'
import { interpretTapResult, isWordChar, skipSpace } from './runner-lines.ts'
import { worseStatus } from './vocabulary.ts'

/** Deeper `# # # #` levels are kept as output, not parsed: no real log nests past three. */
export const MAX_NESTING = 8

export interface NestedBlock {
  subtests: SubtestRecord[]
  bailout: string | null
  /** `1..0 # SKIP reason`: the block skipped everything. */
  skipAll: string | null
  planned: number | null
  warnings: string[]
}

const TAP_MARK = /^(?:(?:not )?ok\b|1\.\.\d|Bail out!|K?TAP version)/
/** A TAP mark one nesting level further down, read in place: `# ok 1 x`. */
const DEEPER_TAP_MARK = /^# (?:(?:not )?ok\b|1\.\.\d|Bail out!|K?TAP version)/

/**
 * Parses the results a test printed behind one level of `# ` (kselftest.h and kselftest_harness.h
 * output), then the levels below them, recursively. A block of plain lines is read by
 * nested-tap-reader.ts, one that needs more (YAML, children, escapes, a bail-out) by tap-parser;
 * both report the same events. The runner's own stream is never given to tap-parser: it stops
 * after a trailing plan and fails on restarted numbering.
 */
export function parseNestedBlock (own: OwnLines, depth = 1): NestedBlock | null {
  const { texts, nos } = own
  // index of each result line and the number it prints
  const resultAt: number[] = []
  const resultNumber: Array<number | null> = []
  let marked = false
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i]!
    const first = text.charCodeAt(0)
    // only lines that start with o, n, 1, B, K or T can be TAP marks
    if (first === 111 || first === 110) {
      const printed = printedNumber(text)
      if (printed !== undefined) {
        resultAt.push(i)
        resultNumber.push(printed)
        marked = true
      }
    } else if (!marked && (first === 49 || first === 66 || first === 75 || first === 84) && TAP_MARK.test(text)) marked = true
  }
  if (!marked) return null
  const events = readPlainTap(texts) ?? readWithTapParser(texts)
  const block: NestedBlock = { subtests: [], bailout: events.bailout, skipAll: null, planned: events.planEnd, warnings: [] }
  if (events.skipAll) block.skipAll = events.skipReason.replace(/^SKIP\b[\s:-]*/i, '') || 'skipped'
  const collected = new SubtestList()

  // find the line each point came from: the next result line carrying its number
  let cursor = 0
  // where each printed number occurs among the result lines, and how far each list has been used,
  // made at the first point that is not on the next result line: a scan from the cursor for a
  // number that never comes (tap-parser gives an `ok` line without a number the number 0) made a
  // block of such lines quadratic
  let byNumber: Map<number | null, { at: number[], next: number }> | null = null
  let previousEnd = 0
  for (const point of events.points) {
    const number = point.id
    let found = -1
    if (cursor < resultAt.length && resultNumber[cursor] === number) found = cursor
    else {
      byNumber ??= indexByNumber(resultNumber)
      const entry = byNumber.get(number)
      if (entry) {
        while (entry.next < entry.at.length && entry.at[entry.next]! < cursor) entry.next++
        if (entry.next < entry.at.length) found = entry.at[entry.next]!
      }
    }
    let lineIndex = -1
    if (found !== -1) {
      lineIndex = resultAt[found]!
      cursor = found + 1
    }
    const result = interpretTapResult(point.ok, number, point.name, point.skip, point.todo)
    const end = lineIndex >= 0 ? lineIndex : texts.length - 1
    const from = previousEnd
    previousEnd = end + 1
    // the subtest's own lines (from the previous result line to its own) are looked at only when
    // they hold a deeper level or can explain the result: most subtests are a plain pass
    const deeper = depth < MAX_NESTING && hasDeeperTap(texts, from, end)
    const inner = deeper ? parseNestedBlock(stripOneLevel(own, from, end), depth + 1) : null
    if (inner) block.warnings.push(...inner.warnings)
    const subtests = inner?.subtests ?? []
    const status = result.status
    const subtest: SubtestRecord = {
      name: result.name,
      status,
      reason: status === 'pass' && result.reason === null
        ? null
        : findReason({
          status,
          output: ownOutput(own, from, end),
          directive: result.reason,
          bailout: inner?.bailout ?? null,
          nestedSkip: inner?.skipAll ?? null,
          subtests,
        }),
      lines: [from < end ? nos[from]! : nos[end]!, nos[end]!],
      subtests,
    }
    collected.add(subtest, result.number)
  }
  block.subtests = collected.items
  const ran = block.subtests.length
  if (block.planned !== null && block.planned > ran && !block.skipAll) {
    const first = nos[0]!
    block.warnings.push(`line ${first}: nested plan 1..${block.planned} but ${ran} result${ran === 1 ? '' : 's'}${block.bailout ? ' (bailed out)' : ''}`)
  }
  return block
}

function indexByNumber (numbers: Array<number | null>): Map<number | null, { at: number[], next: number }> {
  const byNumber = new Map<number | null, { at: number[], next: number }>()
  numbers.forEach((printed, i) => {
    let entry = byNumber.get(printed)
    if (!entry) byNumber.set(printed, (entry = { at: [], next: 0 }))
    entry.at.push(i)
  })
  return byNumber
}

/**
 * For a result line (`ok`, `not ok`, then the end or a character that is not a word's), the number
 * it prints after white space, or null; undefined for any other line. By hand, as the pattern
 * `^(?:not )?ok\b(?:\s+(\d+))?` it replaces read it.
 */
function printedNumber (text: string): number | null | undefined {
  const at = text.startsWith('ok') ? 2 : text.startsWith('not ok') ? 6 : -1
  if (at === -1 || isWordChar(text.charCodeAt(at))) return undefined
  const digits = skipSpace(text, at)
  if (digits === at) return null
  let end = digits
  while (end < text.length && text.charCodeAt(end) >= 48 && text.charCodeAt(end) <= 57) end++
  return end === digits ? null : Number(text.slice(digits, end))
}

/** Whether lines `from` to `to` (exclusive) hold TAP one level down: what stripOneLevel would pass on. */
function hasDeeperTap (texts: string[], from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const text = texts[i]!
    if (text.charCodeAt(0) === 35 && DEEPER_TAP_MARK.test(text)) return true
  }
  return false
}

/**
 * The block's events from tap-parser, for blocks readPlainTap leaves to it. tap-parser only gets
 * the lines that can change what it reports: a test's output is mostly progress text.
 */
function readWithTapParser (texts: string[]): TapEvents {
  const events: TapEvents = { points: [], bailout: null, planEnd: null, skipAll: false, skipReason: '' }
  const parser = new (tapParser())()
  parser.on('assert', (a: TapPoint) => { events.points.push(a) })
  parser.on('bailout', (reason: string) => { events.bailout = reason || 'no reason given' })
  parser.on('complete', (summary: { plan: { end: number | null, skipAll: boolean, skipReason: string } }) => {
    events.planEnd = summary.plan.end
    events.skipAll = summary.plan.skipAll
    events.skipReason = summary.plan.skipReason
  })
  // tap-parser's line splitter (`.` in /^.*\r?\n/) stops at \r, U+2028 and U+2029 and scans its
  // buffer again for every line after one: a block of such lines made it quadratic (issue 12);
  // to the results they are white space
  for (const text of texts) {
    if (mattersToTap(text)) parser.write(`${LINE_BREAKING.test(text) ? text.replace(LINE_BREAKING_ALL, ' ') : text}\n`)
  }
  parser.end()
  return events
}

/**
 * tap-parser, loaded the first time a block needs it: it and the YAML library it loads took 80 ms
 * of the start of every `ksft ingest`, and most logs have no block that needs them.
 */
function tapParser (): typeof TapParser {
  tapParserClass ??= (createRequire(import.meta.url)('tap-parser') as { Parser: typeof TapParser }).Parser
  return tapParserClass
}
let tapParserClass: typeof TapParser | undefined

/**
 * False for a line tap-parser (18.x) would only report as a comment or as non-TAP text: such a line
 * changes none of its state (the current result, a YAML block, a child, the plan), so leaving it out
 * gives the same results. Kept: blank and indented lines (YAML, children), braces (buffered
 * children), `# Subtest`, anything that could be TAP, and lines holding a character that stops
 * tap-parser's line splitter (`\r`, U+2028, U+2029), which changes what follows them.
 */
function mattersToTap (text: string): boolean {
  if (text === '') return true
  const first = text.charCodeAt(0)
  switch (first) {
    case 32: case 9: case 123 /* { */: case 125 /* } */:
      return true
    case 35 /* # */:
      if (text.startsWith('# Subtest')) return true
      break
    case 111 /* o */:
      if (text.startsWith('ok')) return true
      break
    case 110 /* n */:
      if (text.startsWith('not ok')) return true
      break
    case 112 /* p */:
      if (text.startsWith('pragma ')) return true
      break
    case 98: case 66 /* b B */:
      if (/^bail out!/i.test(text)) return true
      break
    case 116: case 84 /* t T */:
      if (/^tap version/i.test(text)) return true
      break
    default:
      if (first >= 48 && first <= 57) return true
  }
  return LINE_BREAKING.test(text)
}

/** Lines `from` to `to` (exclusive) one nesting level further down: `# ok 1 x` becomes `ok 1 x`. */
function stripOneLevel (own: OwnLines, from: number, to: number): OwnLines {
  const inner: OwnLines = { texts: [], nos: [] }
  for (let i = from; i < to; i++) {
    const text = own.texts[i]!
    if (text.startsWith('# ')) inner.texts.push(text.slice(2))
    else if (text === '#') inner.texts.push('')
    else continue
    inner.nos.push(own.nos[i]!)
  }
  return inner
}

/**
 * Collects subtests so that one printed twice counts once. The harness prints `ok 5 # SKIP reason`
 * from TEST_REQUIRE and then `ok 5 name` for the same test
 * (fixtures/real/kvm-harness-vmx_pmu_caps_test-duplicate-ok5-skip.txt): one subtest, skipped.
 * A name seen twice is one subtest too, with the worse status.
 */
export class SubtestList {
  readonly items: SubtestRecord[] = []
  private readonly byName = new Map<string, SubtestRecord>()
  private lastNumber: number | null = null

  add (subtest: SubtestRecord, number: number | null): void {
    const last = this.items[this.items.length - 1]
    const anonymousTwin = last !== undefined && number !== null && this.lastNumber === number &&
      (last.name === '' || subtest.name === '')
    const twin = anonymousTwin ? last : this.byName.get(subtest.name)
    this.lastNumber = number
    if (!twin) {
      this.items.push(subtest)
      if (subtest.name !== '') this.byName.set(subtest.name, subtest)
      return
    }
    // the copy with the worse result tells the story: its reason, lines and subtests (the first on a tie)
    if (worseStatus(twin.status, subtest.status) !== twin.status) {
      twin.status = subtest.status
      twin.reason = subtest.reason
      twin.lines = subtest.lines
      twin.subtests = subtest.subtests
    }
    if (twin.name === '' && subtest.name !== '') {
      twin.name = subtest.name
      this.byName.set(twin.name, twin)
    }
  }
}
