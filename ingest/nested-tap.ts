import { Parser } from 'tap-parser'
import type { OutputLine } from './output-lines.ts'
import { findReason } from './reasons.ts'
import type { SubtestRecord } from './records.ts'
import { interpretTapResult, type ResultLine } from './runner-lines.ts'
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

const RESULT = /^(?:not )?ok\b(?:\s+(\d+))?/
const TAP_MARK = /^(?:(?:not )?ok\b|1\.\.\d|Bail out!|K?TAP version)/

/**
 * Parses the results a test printed behind one level of `# ` (kselftest.h and kselftest_harness.h
 * output) with tap-parser, then the levels below them, recursively. The runner's own stream is
 * never given to tap-parser: it stops after a trailing plan and fails on restarted numbering.
 */
export function parseNestedBlock (lines: OutputLine[], depth = 1): NestedBlock | null {
  if (!lines.some(line => TAP_MARK.test(line.text))) return null
  const block: NestedBlock = { subtests: [], bailout: null, skipAll: null, planned: null, warnings: [] }
  const collected = new SubtestList()

  const asserts: Array<{ result: ResultLine, lineIndex: number }> = []
  // index of each result line and the number it prints
  const resultLines: Array<[index: number, number: number | null]> = []
  // a test's output is mostly progress text: tap-parser only gets the lines that can change what it reports
  const forTap: string[] = []
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!.text
    const m = RESULT.exec(text)
    if (m) resultLines.push([i, m[1] === undefined ? null : Number(m[1])])
    if (mattersToTap(text)) forTap.push(text)
  }
  let cursor = 0
  // where each printed number occurs among the result lines, and how far each list has been used:
  // a scan from the cursor for a number that never comes (tap-parser numbers `ok` lines it reads
  // without one) made a block of such lines quadratic
  const byNumber = new Map<number | null, { at: number[], next: number }>()
  resultLines.forEach(([, printed], i) => {
    let entry = byNumber.get(printed)
    if (!entry) byNumber.set(printed, (entry = { at: [], next: 0 }))
    entry.at.push(i)
  })

  const parser = new Parser()
  parser.on('assert', (a: { ok: boolean, id?: number, name: string, skip: string | boolean, todo: string | boolean }) => {
    const number = a.id ?? null
    // find the line this assert came from: the next result line carrying its number
    let lineIndex = -1
    let found = -1
    if (number === null) found = cursor < resultLines.length ? cursor : -1
    else {
      const entry = byNumber.get(number)
      if (entry) {
        while (entry.next < entry.at.length && entry.at[entry.next]! < cursor) entry.next++
        if (entry.next < entry.at.length) found = entry.at[entry.next]!
      }
    }
    if (found !== -1) {
      lineIndex = resultLines[found]![0]
      cursor = found + 1
    }
    asserts.push({ result: interpretTapResult(a.ok, number, a.name, a.skip, a.todo), lineIndex })
  })
  parser.on('bailout', (reason: string) => { block.bailout = reason || 'no reason given' })
  parser.on('complete', (summary: { plan: { end: number, skipAll: boolean, skipReason: string } | null }) => {
    const plan = summary.plan
    if (!plan || plan.end === undefined) return
    block.planned = plan.end
    if (plan.skipAll) block.skipAll = plan.skipReason.replace(/^SKIP\b[\s:-]*/i, '') || 'skipped'
  })
  // tap-parser's line splitter (`.` in /^.*\r?\n/) stops at \r, U+2028 and U+2029 and scans its
  // buffer again for every line after one: a block of such lines made it quadratic (issue 12);
  // to the results they are white space
  for (const text of forTap) parser.write(`${LINE_BREAKING.test(text) ? text.replace(LINE_BREAKING_ALL, ' ') : text}\n`)
  parser.end()

  let previousEnd = 0
  for (const { result, lineIndex } of asserts) {
    const end = lineIndex >= 0 ? lineIndex : lines.length - 1
    const own = lines.slice(previousEnd, end)
    previousEnd = end + 1
    const inner = depth < MAX_NESTING ? parseNestedBlock(stripOneLevel(own), depth + 1) : null
    if (inner) block.warnings.push(...inner.warnings)
    const subtests = inner?.subtests ?? []
    const status = result.status
    const subtest: SubtestRecord = {
      name: result.name,
      status,
      reason: findReason({
        status,
        output: own,
        directive: result.reason,
        bailout: inner?.bailout ?? null,
        nestedSkip: inner?.skipAll ?? null,
        subtests,
      }),
      lines: [own[0]?.no ?? lines[end]!.no, lines[end]!.no],
      subtests,
    }
    collected.add(subtest, result.number)
  }
  block.subtests = collected.items
  const ran = block.subtests.length
  if (block.planned !== null && block.planned > ran && !block.skipAll) {
    const first = lines[0]!.no
    block.warnings.push(`line ${first}: nested plan 1..${block.planned} but ${ran} result${ran === 1 ? '' : 's'}${block.bailout ? ' (bailed out)' : ''}`)
  }
  return block
}

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

// what `.` in tap-parser's /^.*\r?\n/ does not match
const LINE_BREAKING = /[\r\u2028\u2029]/
const LINE_BREAKING_ALL = /[\r\u2028\u2029]/g

/** The lines of one nesting level further down: `# ok 1 x` becomes `ok 1 x`. */
function stripOneLevel (lines: OutputLine[]): OutputLine[] {
  const inner: OutputLine[] = []
  for (const line of lines) {
    if (line.text.startsWith('# ')) inner.push({ no: line.no, text: line.text.slice(2), prefixed: true })
    else if (line.text === '#') inner.push({ no: line.no, text: '', prefixed: true })
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
