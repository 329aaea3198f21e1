import { parseNestedBlock, SubtestList } from './nested-tap.ts'
import { detectPrefixFamily, type PrefixFamily } from './line-prefixes.ts'
import { marksOf, noteMarkOf, noteMarks, outputOf, ownLinesIn, ownLinesOf, testLineResults, userspaceTroubleOf, type OpenTest } from './open-test.ts'
import { ownOutput, type OutputLine } from './output-lines.ts'
import { PlainLineScan } from './plain-lines.ts'
import { clip, explanation, findReason } from './reasons.ts'
import type { LineRange, ParseResult, PlanRecord, SubtestRecord, TestRecord, UnfinishedCause, UnfinishedTest } from './records.ts'
import {
  isTapVersion, matchBareResult, matchHeader, matchPlan, matchRunnerResult,
  type ResultLine, type TestHeader,
} from './runner-lines.ts'
import { findKernelStamp, kernelTroubleIn, userspaceTroubleIn } from './trouble.ts'
import { FLAGS, worseStatus, type Flag } from './vocabulary.ts'
import { WarningList, type WarningKind } from './warnings.ts'

export interface ParserOptions {
  /** Collection for results printed without a runner header (a harness binary run directly). */
  directCollection?: string
  /** Output lines kept per test for nested parsing and reasons; flags are found in all of them. */
  maxOutputLines?: number
}

export const DEFAULT_DIRECT_COLLECTION = 'unknown'
const DEFAULT_MAX_OUTPUT_LINES = 100_000
/**
 * Longer lines are parsed by their start only (the raw log keeps them whole): no line of a real
 * log comes near this (the longest in fixtures/real is 165 characters), no pattern then sees more
 * than 16 KiB of a hostile line, and a test named with 4 KB of text (test/hardening/bad-input.test.ts)
 * is still named whole by its header and by its result line, so the two meet.
 */
export const MAX_LINE_CHARS = 16_384

interface Stream {
  line: number
  planned: number | null
  collection: string | null
  seen: number
}

interface PendingAnonymous {
  result: ResultLine
  lines: LineRange
  output: OutputLine[]
}

/**
 * A test whose header was followed by something else before its result: another header, a new
 * stream, another test's result. In a sequential run it was cut short, and its record says so at
 * once; a parallel runner (`run_kselftest.sh -n`, per-test logs) prints its result later, which
 * then replaces that record.
 */
interface Waiting {
  open: OpenTest
  /** Where its `error` record is in `tests`, and its entry in `unfinished`. */
  index: number
  unfinished: UnfinishedTest
}

/**
 * Tests kept waiting for a late result (a parallel kvm run starts a hundred at once); the oldest
 * beyond this, or beyond as many output lines in all as one test may have, stay cut short.
 */
const MAX_WAITING = 256

/** A bare `TAP version` inside an open test: the test's nested block, or a new stream? */
interface HeldTap {
  line: number
  /** The open test's output entries before it. */
  rawLength: number
}

/** What a test's nested TAP lines start with. */
const NESTED_TAP_START = /^(?:(?:not )?ok\b|1\.\.\d|K?TAP version \d|Bail out!)/

const FALSE_PASS_SIGNS: readonly Flag[] = ['aborted', 'segfault', 'assertion_failure']

/**
 * A streaming parser for what `make run_tests` or `run_kselftest.sh` print: several TAP streams
 * one after the other, each test's output behind `# `, interleaved with make noise and the kernel
 * console. Push text in any chunks, then call `end()`. Pure: no I/O, no clock.
 */
export class KselftestLogParser {
  private readonly directCollection: string
  private readonly maxOutputLines: number
  private carry = ''
  private overlong = false
  private lineNo = 0
  private readonly tests: TestRecord[] = []
  private readonly byName = new TestsByName()
  private readonly plans: PlanRecord[] = []
  private readonly unfinished: UnfinishedTest[] = []
  private readonly warnings = new WarningList()
  private readonly looseTrouble = new Set<Flag>()
  private open: OpenTest | null = null
  private readonly waiting = new Map<string, Waiting>()
  /** Output lines the waiting tests hold, in all. */
  private waitingLines = 0
  private readonly resolved = new Set<UnfinishedTest>()
  /** Line of the first result that came for a waiting test: the run was parallel. */
  private parallelAt = 0
  private readonly collectionOrder: string[] = []
  private readonly collectionSeen = new Set<string>()
  private heldTap: HeldTap | null = null
  /** The start of a line that a kernel line was glued to, until the line after says if it goes on. */
  private cutHead: string | null = null
  /** The harness prefix every line carries, once the first non-empty line has said (undefined before). */
  private prefixFamily: PrefixFamily | null | undefined = undefined
  private prefixedLines = 0
  private firstPrefix = ''
  /** A bare `selftests: C: T` header just came: the next line says whether the `# ` were lost. */
  private bareHeaderAt = 0
  /** Line where the log showed it lost the runner's `# ` prefixes (0: it did not). */
  private lostPrefixesAt = 0
  private direct: OutputLine[] = []
  private anonymous: PendingAnonymous | null = null
  private stream: Stream | null = null
  private recognized = false
  /** The text the current line was cut from and where it starts there, when it is kept as it came. */
  private source = ''
  private sourceSeq = 0
  private lineStart = -1
  private currentLine = ''

  constructor (options: ParserOptions = {}) {
    this.directCollection = options.directCollection ?? DEFAULT_DIRECT_COLLECTION
    this.maxOutputLines = options.maxOutputLines ?? DEFAULT_MAX_OUTPUT_LINES
  }

  push (chunk: string): void {
    let start = 0
    if (this.overlong) {
      // the rest of a runaway line: skip to its end
      const end = chunk.indexOf('\n')
      if (end === -1) return
      this.overlong = false
      this.lineStart = -1
      this.line(this.carry)
      this.carry = ''
      start = end + 1
    }
    const text = this.carry === '' ? chunk : this.carry + chunk.slice(start)
    this.source = text
    this.sourceSeq++
    const scan = new PlainLineScan(text)
    let newline = text.indexOf('\n', start)
    while (newline !== -1) {
      if (!this.plainOutputLine(text, start, newline, scan)) {
        this.lineStart = start
        this.line(text.slice(start, newline))
      }
      start = newline + 1
      newline = text.indexOf('\n', start)
    }
    this.lineStart = -1
    this.source = ''
    this.carry = start === 0 ? text : text.slice(start)
    if (this.carry.length > MAX_LINE_CHARS) {
      // a 50 MB line (or a gzip bomb of zeros) must not be held whole: its start is enough to parse
      // (one character more than the limit, so that line() sees it is too long)
      this.carry = this.carry.slice(0, MAX_LINE_CHARS + 1)
      this.overlong = true
    }
  }

  /** Lines ended so far: the newlines pushed, as every newline ends a line. */
  get linesEnded (): number {
    return this.lineNo
  }

  end (): ParseResult {
    if (this.carry !== '' || this.overlong) this.line(this.carry)
    this.carry = ''
    this.overlong = false
    if (this.cutHead !== null) {
      const head = this.cutHead
      this.cutHead = null
      this.runnerLine(head)
    }
    if (this.heldTap) this.releaseHeldTap()
    if (this.open) this.closeWithoutResult('the log ends before its result line', this.lineNo, 'end_of_log')
    this.flushAnonymous()
    // a collection's stream that began and printed nothing before the log ended: the run stopped there
    const emptyStreamAtEnd = this.stream !== null && this.stream.planned === null && this.stream.seen === 0 ? this.stream.line : null
    this.closeStream()
    if (this.parallelAt > 0) this.endParallel()
    const family = this.prefixFamily
    if (family && this.prefixedLines > 0) {
      const { prefixedLines, firstPrefix } = this
      this.warn('format', () => `${prefixedLines} line${prefixedLines === 1 ? '' : 's'} start with ${family.description}, put there by what captured or pasted the log (the first: \`${firstPrefix}\`): stripped for parsing; the raw log keeps ${prefixedLines === 1 ? 'it' : 'them'}${family.reconstructed ? '; this parse is reconstructed' : ''}`)
    }
    if (this.lostPrefixesAt > 0) {
      const at = this.lostPrefixesAt
      this.warn('format', () => `line ${at}: the tests' output has lost the runner's \`# \` prefixes (a paste, or a viewer that removes them): output and nested results read without them, best-effort; this parse is reconstructed`)
    }
    for (const flag of this.looseTrouble) {
      this.warn('loose_trouble', () => `kernel trouble outside any test: ${flag}`)
    }
    for (const plan of this.plans) {
      if (plan.seen === plan.planned) continue
      const where = plan.collection ? ` (${plan.collection})` : ''
      this.warn('plan', () => `line ${plan.line}: plan 1..${plan.planned}${where} but ${plan.seen} test${plan.seen === 1 ? '' : 's'} arrived`)
    }
    return {
      tests: this.tests,
      plans: this.plans,
      unfinished: this.resolved.size === 0 ? this.unfinished : this.unfinished.filter(u => !this.resolved.has(u)),
      emptyStreamAtEnd,
      warnings: this.warnings.list(),
      reconstructed: this.lostPrefixesAt > 0 || (this.prefixedLines > 0 && this.prefixFamily?.reconstructed === true),
      lineCount: this.lineNo,
      recognized: this.recognized,
    }
  }

  /**
   * The line text[start, newline) when it is a running test's plain `# ` output, read in place: it
   * is kept as an offset and marked as output() would, without the string, the kernel-stamp
   * search and the trouble patterns, which it cannot match (scan says it holds no `[`, no `\r`
   * before its line end and no sign of trouble). Most lines of a log are such lines. False, and
   * nothing done, for any other line: line() reads it.
   */
  private plainOutputLine (text: string, start: number, newline: number, scan: PlainLineScan): boolean {
    const open = this.open
    if (open === null || text.charCodeAt(start) !== 35 /* # */ || text.charCodeAt(start + 1) !== 32) return false
    // what line(), segment() and runnerLine() look at before output(): a prefix to strip, a held
    // `TAP version`, a cut line, a bare header waiting for the line after it
    if (this.prefixFamily !== null || this.heldTap !== null || this.cutHead !== null || this.bareHeaderAt !== 0) return false
    if (newline - start > MAX_LINE_CHARS || open.raw.length >= this.maxOutputLines) return false
    let end = newline
    while (end > start && text.charCodeAt(end - 1) === 13) end--
    const third = text.charCodeAt(start + 2)
    // `# selftests: C: T` is a header; `# ok`, `# not ok` may be a waiting test's result
    if (third === 115 /* s */ || ((third === 111 /* o */ || third === 110 /* n */) && this.waiting.size > 0)) return false
    if (!scan.isPlain(start, end)) return false
    this.lineNo++
    noteMarkOf(third, open.marks)
    if ((third === 84 /* T */ || third === 32) && scan.hasTestLine(start + 2, end)) open.marks.testLines = true
    this.lineStart = start
    open.raw.push(this.sourceOffset(open))
    open.rawLine = this.lineNo
    return true
  }

  private line (whole: string): void {
    this.lineNo++
    let raw = whole
    if (raw.length > MAX_LINE_CHARS) {
      const lineNo = this.lineNo
      this.warn('long_line', () => `line ${lineNo} is longer than ${MAX_LINE_CHARS} characters; only its start was parsed (the raw log keeps it whole)`)
      raw = raw.slice(0, MAX_LINE_CHARS)
      this.lineStart = -1
    }
    // a serial console ends its lines with \r\n, or \r\r\n when a tty adds its own \r to the
    // program's: every \r before the newline belongs to the line end
    let end = raw.length
    while (end > 0 && raw.charCodeAt(end - 1) === 13) end--
    let line = end === raw.length ? raw : raw.slice(0, end)
    this.currentLine = line
    if (this.prefixFamily === undefined && line.trim() !== '') this.prefixFamily = detectPrefixFamily(line)
    if (this.prefixFamily) {
      const length = this.prefixFamily.length(line)
      if (length > 0) {
        if (this.prefixedLines++ === 0) this.firstPrefix = line.slice(0, length)
        line = line.slice(length)
      }
    }
    if (this.heldTap) this.decideHeldTap(line)
    const open = this.open
    const kept = open ? open.raw.length : 0
    if (line.indexOf('\r') === -1) this.segment(line)
    else {
      // a \r inside a line: the console went back to column 0, mostly because another writer (the
      // kernel) cut a program's \r\n in two. What came before and after it are read as lines of
      // their own, under the same line number, so that neither a result nor a kernel line is lost.
      for (const part of line.split('\r')) if (part !== '') this.segment(part)
    }
    // keep one entry per line while the test is open, whatever the line was
    if (open && this.open === open && open.raw.length === kept && !open.capped) open.raw.push('')
  }

  /** A line, or the part of one between carriage returns. */
  private segment (line: string): void {
    let stamp = findKernelStamp(line)
    if (this.cutHead !== null && (stamp === null || stamp.start > 0)) {
      // the first line after a cut one that is not a whole kernel line
      const head = this.cutHead
      this.cutHead = null
      const rest = stamp === null ? line : line.slice(0, stamp.start)
      if (PREFIX_ONLY.test(head) ? isPrefixedRest(rest) : isCutRest(rest)) {
        // `#` alone (a console that lost the space) keeps the TAP shape: `# TAP version 13`
        line = `${head === '#' && rest !== '' && !rest.startsWith(' ') ? '# ' : head}${line}`
        stamp = findKernelStamp(line)
      } else this.runnerLine(head)
    }
    if (stamp === null) this.runnerLine(line)
    else {
      kernelTroubleIn(line.slice(stamp.end), this.open ? this.open.flags : this.looseTrouble)
      const runner = line.slice(0, stamp.start)
      // a kernel line glued to the middle of a program's line (a serial console writes the kernel's
      // lines between two of the program's writes): the rest of that line comes after the kernel's
      // (test/fixtures/captured/run_kselftest-serial-console*.txt); the runner's own lines (one
      // write each) are read at once, as before
      if (runner.trim() === '') return
      if (isRunnerLine(runner)) this.runnerLine(runner)
      else this.cutHead = runner
    }
  }

  private runnerLine (line: string): void {
    if (this.bareHeaderAt > 0 && line.trim() !== '') this.decideBareHeader(line)
    const first = line.charCodeAt(0)
    if (first === 35 /* # */) {
      if (line.startsWith('# selftests')) {
        const header = matchHeader(line)
        if (header) return this.startTest(header)
      }
      // in a parallel run, a neighbour's prefixer can put its `# ` before the runner's result of a
      // test still waiting (fixtures/captured/run_kselftest-netns.txt, line 20)
      if (this.waiting.size > 0 && (line.startsWith('# ok ') || line.startsWith('# not ok '))) {
        const result = matchRunnerResult(line.slice(2))
        const waiting = result && this.waiting.get(`${result.collection!}\u0000${result.name}`)
        if (waiting) return this.finishWaiting(waiting, result.collection!, result)
      }
      return this.output(line)
    }
    if (first === 111 /* o */ || first === 110 /* n */ || first === 91 /* [ */) {
      const result = matchRunnerResult(line)
      if (result) return this.finishTest(result)
      const bare = matchBareResult(line)
      if (bare) {
        // inside a test whose `# ` prefixes were lost (qa-reports logs), it is the test's own result
        if (this.open) return this.output(`# ${line}`)
        return this.directResult(bare)
      }
    }
    if (first === 84 /* T */ || first === 75 /* K */) {
      if (isTapVersion(line)) {
        // with the `# ` lost, a test's nested stream is as bare as the runner's
        if (this.open && this.lostPrefixesAt > 0) return this.output(`# ${line}`)
        if (this.open && this.heldTap === null) return this.holdTap(line)
        return this.startStream()
      }
    }
    if (first === 49 /* 1 */) {
      const plan = matchPlan(line)
      if (plan) {
        if (this.open && this.lostPrefixesAt > 0) return this.output(`# ${line}`)
        return this.setPlan(plan.planned)
      }
    }
    if (first === 115 /* s */ && line.startsWith('selftests: ')) {
      const header = matchHeader(line)
      if (header) {
        this.startTest(header)
        if (this.lostPrefixesAt === 0) this.bareHeaderAt = this.lineNo
        return
      }
    }
    if (line === '') return
    if (first === 32 || first === 9) {
      // a paste that indented the results: the runner's result for a test that is running or waiting
      const result = /^[ \t]+(?:not )?ok /.test(line) ? matchRunnerResult(line.trimStart()) : null
      if (result && this.isRunningOrWaiting(result)) return this.finishTest(result)
    }
    if (this.open && this.lostPrefixesAt > 0 && first !== 35 /* # */) {
      // the test's own line without its `# `: a console line among them still counts as one
      kernelTroubleIn(line, this.open.flags)
      // nested TAP indented in the paste is read at its level; other indentation is the test's own
      const trimmed = first === 32 || first === 9 ? line.trimStart() : line
      return this.output(`# ${NESTED_TAP_START.test(trimmed) ? trimmed : line}`)
    }
    this.output(line)
  }

  private isRunningOrWaiting (result: ResultLine): boolean {
    const open = this.open
    if (open && open.header.collection === result.collection && open.header.name === result.name) return true
    return this.waiting.has(`${result.collection!}\u0000${result.name}`)
  }

  /** A line the test (or something beside it) printed: `# ` lines are the test's own. */
  private output (line: string): void {
    const prefixed = line.charCodeAt(0) === 35 && (line.length === 1 || line.charCodeAt(1) === 32)
    const open = this.open
    if (open) {
      userspaceTroubleIn(line, open.flags)
      if (prefixed) noteMarks(line, 2, open.marks)
      // consoles without printk timestamps still print `Kernel panic - not syncing`
      else kernelTroubleIn(line, open.flags)
      if (open.headerLine === this.lineNo) {
        // text after a \r on the header's own line: its flags count, its place in the output cannot
      } else if (open.rawLine === this.lineNo) {
        // the second part of a line cut by a \r: kept in the same entry, split again by outputOf
        open.raw[open.raw.length - 1] = `${open.raw[open.raw.length - 1] as string}\r${line}`
      } else if (open.raw.length < this.maxOutputLines) {
        open.raw.push(line === this.currentLine && this.lineStart >= 0 ? this.sourceOffset(open) : line)
        open.rawLine = this.lineNo
      } else if (!open.capped) {
        open.capped = true
        const { lineNo } = this
        this.warn('output_capped', () => `line ${lineNo}: output of ${open.header.collection}: ${open.header.name} is longer than ${this.maxOutputLines} lines; results nested after this line are not parsed`)
      }
    } else if (prefixed && this.direct.length < this.maxOutputLines) {
      // output of a harness binary run directly, before its result line
      this.direct.push({ no: this.lineNo, text: line.length === 1 ? '' : line.slice(2), prefixed })
    }
  }

  private startTest (header: TestHeader): void {
    this.recognized = true
    if (this.open) this.closeWithoutResult(`the next test started at line ${this.lineNo}`, this.lineNo - 1, 'next_test')
    this.flushAnonymous()
    this.direct = []
    this.open = {
      header, headerLine: this.lineNo, raw: [], sources: [], sourceFrom: [], sourceSeq: 0, flags: new Set(), capped: false, rawLine: -1, marks: { nested: false, testLines: false },
    }
  }

  /** The current line as an offset into the current push() text, which the test then holds on to. */
  private sourceOffset (open: OpenTest): number {
    if (open.sourceSeq !== this.sourceSeq) {
      open.sourceSeq = this.sourceSeq
      open.sources.push(this.source)
      open.sourceFrom.push(open.raw.length)
    }
    return this.lineStart
  }

  private finishTest (result: ResultLine): void {
    this.recognized = true
    this.flushAnonymous()
    const open = this.open
    const collection = result.collection ?? this.directCollection
    if (open && open.header.collection === collection && open.header.name === result.name) {
      this.open = null
      this.direct = []
      this.addTest(this.buildTest(collection, result, [open.headerLine, this.lineNo], open, open.flags))
      return
    }
    const waiting = this.waiting.get(`${collection}\u0000${result.name}`)
    if (waiting) return this.finishWaiting(waiting, collection, result)
    if (open) this.closeWithoutResult(`a result for another test came at line ${this.lineNo}`, this.lineNo - 1, 'other_result')
    // no header: the log was cut or elided above the result (fixtures/real/kvm-2024-arm64-set_id_regs-...)
    // and the `# ` lines just before it are what is left of the test's output
    const output = this.direct
    this.direct = []
    this.addTest(this.buildTest(collection, result, [output[0]?.no ?? this.lineNo, this.lineNo], output, userspaceTroubleOf(output)))
  }

  private directResult (result: ResultLine): void {
    this.recognized = true
    const output = this.direct
    this.direct = []
    const lines: LineRange = [output[0]?.no ?? this.lineNo, this.lineNo]
    const pending = this.anonymous
    if (pending && pending.result.number === result.number && result.number !== null) {
      // `ok 5 # SKIP reason` then `ok 5 name`: one test
      this.anonymous = null
      const merged: ResultLine = {
        ...result,
        status: worseStatus(result.status, pending.result.status),
        reason: pending.result.reason ?? result.reason,
        name: result.name || pending.result.name,
      }
      this.addDirect(merged, [pending.lines[0], this.lineNo], [...pending.output, ...output])
      return
    }
    this.flushAnonymous()
    if (result.name === '') {
      this.anonymous = { result, lines, output }
      return
    }
    this.addDirect(result, lines, output)
  }

  private flushAnonymous (): void {
    const pending = this.anonymous
    if (!pending) return
    this.anonymous = null
    const name = pending.result.number === null ? 'unnamed' : `test ${pending.result.number}`
    this.addDirect({ ...pending.result, name }, pending.lines, pending.output)
  }

  private addDirect (result: ResultLine, lines: LineRange, output: OutputLine[]): void {
    this.addTest(this.buildTest(this.directCollection, result, lines, output, userspaceTroubleOf(output)))
  }

  private closeWithoutResult (why: string, lastLine: number, unfinishedCause: UnfinishedCause): void {
    const open = this.open!
    this.open = null
    const unfinished: UnfinishedTest = { collection: detached(open.header.collection), name: detached(open.header.name), line: open.headerLine, cause: unfinishedCause }
    this.unfinished.push(unfinished)
    const added = this.addTest(this.unfinishedRecord(open, why, lastLine))
    if (added && unfinishedCause !== 'end_of_log') {
      // its result may still come, later, from a parallel runner
      this.waiting.set(`${open.header.collection}\u0000${open.header.name}`, { open, index: this.tests.length - 1, unfinished })
      this.waitingLines += open.raw.length
      while (this.waiting.size > MAX_WAITING || (this.waiting.size > 1 && this.waitingLines > this.maxOutputLines)) {
        const [oldest, left] = this.waiting.entries().next().value!
        this.waiting.delete(oldest)
        this.waitingLines -= left.open.raw.length
      }
    }
  }

  /** The `error` record of a test that has no result line. */
  private unfinishedRecord (open: OpenTest, why: string, lastLine: number): TestRecord {
    const cause = open.flags.has('kernel_panic') ? ', after a kernel panic'
      : open.flags.has('rcu_stall') ? ', after an RCU stall'
        : open.flags.has('kernel_oops') ? ', after a kernel oops'
          : open.flags.has('kernel_bug') ? ', after a kernel BUG' : ''
    const result: ResultLine = {
      collection: open.header.collection,
      name: open.header.name,
      number: null,
      status: 'error',
      exitCode: null,
      timeoutSeconds: null,
      reason: null,
    }
    const lines: LineRange = [open.headerLine, Math.max(open.headerLine, lastLine)]
    return this.buildTest(open.header.collection, result, lines, open, new Set(open.flags), `no result line: ${why}${cause}`)
  }

  /**
   * The result of a test that was waiting: the run was parallel (fixtures/captured/run_kselftest-netns.txt:
   * every header first, results in the order the tests ended). The test is read from its header to
   * this result, with the output that came while it was the last test started, and replaces the
   * record that said it was cut short; the test started last stays open.
   */
  private finishWaiting (waiting: Waiting, collection: string, result: ResultLine): void {
    const key = `${collection}\u0000${result.name}`
    this.waiting.delete(key)
    this.waitingLines -= waiting.open.raw.length
    this.resolved.add(waiting.unfinished)
    if (this.parallelAt === 0) this.parallelAt = this.lineNo
    this.direct = []
    const test = this.buildTest(collection, result, [waiting.open.headerLine, this.lineNo], waiting.open, waiting.open.flags)
    detachRecord(test)
    this.tests[waiting.index] = test
    this.byName.set(test)
  }

  /** At the end of a parallel run, tests still waiting for their result were cut short by its end. */
  private endParallel (): void {
    const lineNo = this.parallelAt
    this.warn('format', () => `line ${lineNo}: results came after other tests had started: the tests ran in parallel (run_kselftest.sh -n, per-test logs); each test is read from its header to its result, and output printed while several ran is given to the test started last`)
    for (const waiting of this.waiting.values()) {
      const before = this.tests[waiting.index]!
      const test = this.unfinishedRecord(waiting.open, 'the log ends before its result line', before.lines[1])
      detachRecord(test)
      this.tests[waiting.index] = test
      this.byName.set(test)
      waiting.unfinished.cause = 'end_of_log'
    }
    this.waiting.clear()
    // the streams of collections run side by side cannot be told apart line by line: the runner
    // starts collections in order, so the n-th plan is the n-th collection's
    const counts = new Map<string, number>()
    for (const test of this.tests) counts.set(test.collection, (counts.get(test.collection) ?? 0) + 1)
    const order = this.collectionOrder.filter(c => c !== this.directCollection || this.collectionOrder.length === 1)
    this.plans.forEach((plan, i) => {
      plan.collection = order[i] ?? null
      plan.seen = plan.collection === null ? 0 : counts.get(plan.collection) ?? 0
    })
  }

  /**
   * The line after a bare `selftests: C: T` header: the pre-5.2 runner printed a `====` rule there
   * (fixtures/real/legacy-v5.2-era-...); anything else is a log whose `# ` prefixes were removed
   * (fixtures/real/lkft-next-20250929-arm64-kvm-irqfd_test-qa-reports-log.txt).
   */
  private decideBareHeader (line: string): void {
    const at = this.bareHeaderAt
    this.bareHeaderAt = 0
    if (at !== this.lineNo && !/^=+\s*$/.test(line) && !matchRunnerResult(line) && !matchHeader(line)) this.lostPrefixesAt = at
  }

  /**
   * A bare `TAP version 13` inside an open test: a console that interleaves a kernel line can glue
   * the runner's `# ` to the front of that line and leave `TAP version 13` bare. Held until the
   * next line says: `# 1..N` or `# ok` there is the test's nested block resuming, anything else a
   * new stream.
   */
  private holdTap (line: string): void {
    const open = this.open!
    this.heldTap = { line: this.lineNo, rawLength: open.raw.length }
    this.output(`# ${line}`)
  }

  private decideHeldTap (line: string): void {
    if (line === '') return
    const stamp = findKernelStamp(line)
    if (stamp !== null && line.slice(0, stamp.start).trim() === '') return
    if (/^# (?:1\.\.\d|(?:not )?ok\b)/.test(line)) {
      this.heldTap = null
      return
    }
    this.releaseHeldTap()
  }

  /** The held `TAP version` was a new stream after all: the open test ended before it. */
  private releaseHeldTap (): void {
    const held = this.heldTap!
    this.heldTap = null
    const open = this.open
    if (open) {
      if (open.raw.length > held.rawLength) open.raw.length = held.rawLength
      if (open.rawLine >= held.line) open.rawLine = -1
    }
    this.startStream(held.line)
  }

  /** `cutShort` says why a test has no result line; such a test is an `error`. */
  private buildTest (collection: string, result: ResultLine, lines: LineRange, from: OutputLine[] | OpenTest, flags: Set<Flag>, cutShort?: string): TestRecord {
    const open = Array.isArray(from) ? null : from
    // a plain pass needs no second look at its output, and one with nested results only its own
    // lines: most tests of a big log are one of the two
    const output = open === null ? from as OutputLine[] : result.status !== 'pass' || cutShort !== undefined ? outputOf(open) : null
    const marks = open?.marks ?? marksOf(output!)
    const own = !marks.nested && !marks.testLines ? null : output === null ? ownLinesOf(open!) : ownLinesIn(output)
    const nested = marks.nested ? parseNestedBlock(own!) : null
    // the nested block's subtests are one per name already: only `TEST:` lines can add a twin
    let subtests = nested?.subtests ?? []
    if (marks.testLines) {
      const merged = new SubtestList()
      for (const subtest of subtests) merged.add(subtest, null)
      for (const subtest of testLineResults(ownOutput(own!))) merged.add(subtest, null)
      subtests = merged.items
    }
    for (const warning of nested?.warnings ?? []) this.warn('nested', () => `${collection}: ${result.name}: ${warning}`)
    const status = result.status
    // a test cut short says why it has no result, then what its output had shown before
    const shown = cutShort ? explanation({ bailout: nested?.bailout ?? null, output: output!, subtests }) : null
    const reason = cutShort
      ? clip(shown ? `${cutShort}; before that: ${shown}` : cutShort)
      : findReason({
        status,
        // null only for a pass, whose reason is what its result line said or none
        output: output ?? [],
        directive: result.reason,
        bailout: nested?.bailout ?? null,
        nestedSkip: nested?.skipAll ?? null,
        subtests,
      })
    if (status === 'pass' && FALSE_PASS_SIGNS.some(flag => flags.has(flag))) flags.add('false_pass')
    return {
      collection,
      name: result.name,
      number: result.number,
      status,
      exitCode: result.exitCode,
      timeoutSeconds: result.timeoutSeconds,
      reason,
      flags: FLAGS.filter(flag => flags.has(flag)),
      lines,
      subtests,
    }
  }

  /** The text is made only when the warning is kept: most of a flood is only counted. */
  private warn (kind: WarningKind, text: () => string, subject?: string): void {
    this.warnings.add(kind, () => detached(text()), subject)
  }

  /** True when the test is new, false when it was merged into an earlier record of the same test. */
  private addTest (test: TestRecord): boolean {
    detachRecord(test)
    // a stream is one collection's; excerpts glued together in one mail are not its tests
    const stream = this.stream
    if (stream && (stream.collection === null || stream.collection === test.collection)) {
      stream.seen++
      stream.collection = test.collection
    }
    const twin = this.byName.get(test.collection, test.name)
    if (!twin) {
      this.byName.set(test)
      this.tests.push(test)
      if (!this.collectionSeen.has(test.collection)) {
        this.collectionSeen.add(test.collection)
        this.collectionOrder.push(test.collection)
      }
      return true
    }
    this.warn('reported_again', () => `line ${test.lines[0]}: ${test.collection}: ${test.name} reported again (first at line ${twin.lines[0]}); kept the worse result`, `${test.collection}\u0000${test.name}`)
    if (worseStatus(twin.status, test.status) !== twin.status) {
      const flags = new Set([...twin.flags, ...test.flags])
      Object.assign(twin, test, { flags: FLAGS.filter(flag => flags.has(flag)) })
    } else {
      const flags = new Set([...twin.flags, ...test.flags])
      twin.flags = FLAGS.filter(flag => flags.has(flag))
    }
    return false
  }

  private startStream (at = this.lineNo): void {
    if (this.open) this.closeWithoutResult(`a new TAP stream started at line ${at}`, at - 1, 'new_stream')
    this.flushAnonymous()
    this.direct = []
    this.closeStream()
    this.stream = { line: at, planned: null, collection: null, seen: 0 }
  }

  private setPlan (planned: number): void {
    // the v5.6 runner printed the plan after the first header
    // (fixtures/real/run_kselftest-v5.6.15-...-truncated.txt), so a plan does not end the test
    if (!this.stream || this.stream.planned !== null) {
      this.closeStream()
      this.stream = { line: this.lineNo, planned: null, collection: null, seen: 0 }
    }
    this.stream.planned = planned
    this.stream.line = this.lineNo
  }

  private closeStream (): void {
    const stream = this.stream
    this.stream = null
    if (!stream || stream.planned === null) return
    // warned about at the end, when every test has come
    this.plans.push({ line: stream.line, collection: stream.collection, planned: stream.planned, seen: stream.seen })
  }
}

/** The tests read so far by collection and name: no key string is built per test. */
class TestsByName {
  private readonly byCollection = new Map<string, Map<string, TestRecord>>()

  get (collection: string, name: string): TestRecord | undefined {
    return this.byCollection.get(collection)?.get(name)
  }

  set (test: TestRecord): void {
    let tests = this.byCollection.get(test.collection)
    if (tests === undefined) this.byCollection.set(test.collection, (tests = new Map()))
    tests.set(test.name, test)
  }
}

/**
 * A copy of `text` that keeps nothing else alive. V8 cuts a substring as a view into the string it
 * came from, here the whole text of a push(), so a test name kept in a record would keep its
 * chunk of the log in memory for as long as the record lives; the concatenation is flattened into
 * a new string by the slice.
 */
function detached (text: string): string {
  return text.length === 0 ? text : (` ${text}`).slice(1)
}

/** Records outlive the text they were read from: over a 1 GB log, kept views of it were the whole log. */
function detachRecord (test: TestRecord): void {
  test.collection = detached(test.collection)
  test.name = detached(test.name)
  if (test.reason !== null) test.reason = detached(test.reason)
  detachSubtests(test.subtests)
}

function detachSubtests (subtests: SubtestRecord[]): void {
  for (const subtest of subtests) {
    subtest.name = detached(subtest.name)
    if (subtest.reason !== null) subtest.reason = detached(subtest.reason)
    detachSubtests(subtest.subtests)
  }
}

/** A runner line, a TAP line or a plan: none is a program's line cut short. */
function isRunnerLine (line: string): boolean {
  return matchRunnerResult(line) !== null || (line.startsWith('# selftests') && matchHeader(line) !== null) ||
    isTapVersion(line) || matchPlan(line) !== null
}

/** A cut line's start that is only the prefixer's `# ` (or a test's own `#` after it). */
const PREFIX_ONLY = /^#[# \t]*$/

/**
 * The rest of a line cut right after its `# `: prefix.pl writes a line's `# ` only when the line's
 * first character has come, and that character right after, so the rest is bare: `TAP version 13`,
 * `1..18`, `ok 3 name` are the test's nested lines (test/fixtures/captured/
 * run_kselftest-serial-console-split-*.txt). A line that starts with `#` has a `# ` of its own: the
 * start was a whole line (a test that prints the kernel's lines), and the runner's lines are the
 * runner's.
 */
function isPrefixedRest (line: string): boolean {
  if (line === '') return true
  if (line.charCodeAt(0) === 35 /* # */) return false
  return !(line.startsWith('selftests: ') || matchRunnerResult(line) !== null)
}

/**
 * Whether the first line after a cut one (and the kernel lines after it) is that line's rest, when
 * the start has more than `#`s: any line but one that starts a line of its own, a `#` line (a test's
 * output) or a runner or TAP line (test/fixtures/captured/run_kselftest-serial-console-[12].txt).
 */
function isCutRest (line: string): boolean {
  if (line === '') return true
  const first = line.charCodeAt(0)
  if (first === 35 /* # */) return false
  // ` ok 2 name` after `# not`: the same line; an indented runner result is a paste's own
  if (first === 32 || first === 9) return matchRunnerResult(line.trimStart()) === null
  return !(NESTED_TAP_START.test(line) || line.startsWith('selftests: ') || matchRunnerResult(line) !== null || matchBareResult(line) !== null || isTapVersion(line) || matchPlan(line) !== null)
}

/** Parses a whole log held in memory. */
export function parseKselftestLog (text: string, options?: ParserOptions): ParseResult {
  const parser = new KselftestLogParser(options)
  parser.push(text)
  return parser.end()
}
