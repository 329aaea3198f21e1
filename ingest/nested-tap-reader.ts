import { isSpace } from './runner-lines.ts'

/**
 * What a nested block says, as tap-parser (18.x) reports it: its test points in order, a bail-out,
 * and the plan its `complete` event gives. nested-tap.ts reads results from this alone, whichever
 * reader made it.
 */
export interface TapEvents {
  points: TapPoint[]
  /** `Bail out!` and its reason ('' when none was given); null when the block did not bail out. */
  bailout: string | null
  /** The plan's end, null when the block has none (a block without results gets `1..0`). */
  planEnd: number | null
  /** The plan is a skip of everything (`1..0`), with its comment ('' when none). */
  skipAll: boolean
  skipReason: string
}

/** A test point as tap-parser's `assert` event has it: `id` is 0 when the line prints no number. */
export interface TapPoint {
  ok: boolean
  id: number
  name: string
  skip: string | boolean
  todo: string | boolean
}

/**
 * Reads a nested block the way tap-parser does, line by line, when every line is one whose meaning
 * is plain: results, plans, comments and text. Returns null when some line needs tap-parser's own
 * machinery (YAML diagnostics, indented or `# Subtest` children, `{ }` buffered subtests, pragmas,
 * `Bail out!`, backslash escapes): the caller gives such a block to tap-parser, as before. A block
 * costs one pass and an object per result here; through tap-parser it cost an event emitter, a
 * regex per line type tried on every line and a Result object built with regex replaces, about
 * half of the parser's time on logs with a result every few hundred bytes.
 *
 * Every rule below restates what tap-parser 18.3 does with the line at the top level of a stream
 * that has neither a child, a YAML block nor a pending `# Subtest` (none can start here without
 * the block going to tap-parser): the parse of `lineType`, `Result`, `plan()`, `end()`.
 * test/ingest/nested-tap-reader.test.ts compares the two on generated blocks.
 */
export function readPlainTap (texts: readonly string[]): TapEvents | null {
  const points: TapPoint[] = []
  let planStart = -1
  let planEnd = -1
  let planComment = ''
  // nothing but comments can come after a plan that follows results (or a `1..0`)
  let postPlan = false
  for (let i = 0; i < texts.length; i++) {
    const raw = texts[i]!
    if (raw === '' || !mayMatter(raw.charCodeAt(0))) continue
    // tap-parser's line splitter breaks at these, and nested-tap.ts has always handed them over as
    // spaces; they can change what a line is only in a line that could be TAP to begin with
    const line = LINE_BREAKING.test(raw) ? raw.replace(LINE_BREAKING_ALL, ' ') : raw
    const first = line.charCodeAt(0)
    if (first === 32 || first === 9) {
      if (needsTapParserIndented(line)) return null
      continue
    }
    switch (first) {
      case 123: case 125: // `{` `}`: buffered subtests
        return null
      case 111: case 110: { // o n
        if (!line.startsWith('ok') && !line.startsWith('not ok')) continue
        if (line.indexOf('{') !== -1 || line.indexOf('\\') !== -1) return null
        const point = readPoint(line)
        if (point !== null && !postPlan) points.push(point)
        continue
      }
      case 112: // p
        if (line.startsWith('pragma')) return null
        continue
      case 98: case 66: // b B
        if (BAIL_OUT.test(line)) return null
        continue
      case 35: // #
        if (line.startsWith('# Subtest')) return null
        continue
    }
    if (first < 48 || first > 57) continue
    const plan = PLAN.exec(line)
    if (plan === null || postPlan) continue
    if (line.indexOf('\\') !== -1) return null
    // plan(): a second plan, or one whose end is below its start (but 1..0 and N..0), is text
    if (planStart !== -1) continue
    const start = +plan[1]!
    const end = +plan[2]!
    if (end < start && end !== 0 && start !== 1) continue
    planStart = start
    planEnd = end
    const comment = (plan[3] ?? '').trim()
    if (comment) planComment = comment
    if (points.length !== 0 || end === 0) postPlan = true
  }
  // end(): a block with neither a plan nor a result gets the plan 1..0 "no tests found"
  let skipAll = planEnd === 0 && planStart === 1
  if (planStart === -1 && points.length === 0) {
    planStart = 1
    planEnd = 0
    planComment = 'no tests found'
    skipAll = true
  }
  return { points, bailout: null, planEnd: planEnd >= 0 ? planEnd : null, skipAll, skipReason: skipAll ? planComment : '' }
}

/**
 * Whether a line starting with this character can be anything but a comment or text to tap-parser,
 * once its line-breaking characters are spaces: white space (YAML, children), braces, `ok`, `not ok`,
 * `pragma`, `Bail out!`, `# Subtest`, a plan.
 */
function mayMatter (first: number): boolean {
  switch (first) {
    case 32: case 9: case 13: case 0x2028: case 0x2029:
    case 123: case 125: case 111: case 110: case 112: case 98: case 66: case 35:
      return true
    default:
      return first >= 48 && first <= 57
  }
}

/**
 * An indented line: YAML (`  ---`), or a child stream (four spaces, then TAP) is tap-parser's to
 * read; any other indented line is a comment or text to it. Errs towards tap-parser: it looks at
 * what follows the indentation, whatever its width.
 */
function needsTapParserIndented (line: string): boolean {
  let at = 0
  while (at < line.length && (line.charCodeAt(at) === 32 || line.charCodeAt(at) === 9)) at++
  const rest = line.slice(at)
  if (rest === '---') return true
  if (!line.startsWith('    ')) return false
  return INDENTED_TAP.test(rest)
}

/**
 * `(not )?ok( N)?( -)?( name)?` as tap-parser's testPoint pattern reads it, then its Result: the
 * name ends at the first `#` after white space; what follows is a directive when tap-parser's
 * parseDirective says so (skip, todo, time) and part of the name otherwise. Null when the line is
 * no test point to tap-parser (`okay`, `ok\t1`). The caller has left out lines with `{` or `\`.
 */
function readPoint (line: string): TapPoint | null {
  const ok = line.charCodeAt(0) === 111
  let at = ok ? 2 : 6
  let id = 0
  let rest = ''
  if (at < line.length) {
    if (line.charCodeAt(at) !== 32) return null
    // the number counts when white space or the end follows it; `ok 12abc` is named "12abc"
    let end = at + 1
    while (end < line.length && line.charCodeAt(end) >= 48 && line.charCodeAt(end) <= 57) end++
    if (end > at + 1 && (end === line.length || line.charCodeAt(end) === 32)) {
      id = +line.slice(at + 1, end)
      at = end
    }
    if (at < line.length) {
      // ` - name`: the dash goes when a space follows it
      rest = line.startsWith(' - ', at) ? line.slice(at + 2) : line.slice(at)
    }
  }
  let name = rest
  let skip: string | boolean = false
  let todo: string | boolean = false
  const hash = directiveStart(rest)
  if (hash !== -1) {
    name = rest.slice(0, hash)
    const tail = rest.slice(hash + 1)
    const directive = tapDirective(tail.trim())
    if (directive === null) name += tail ? `#${tail}` : ''
    else if (directive.kind === 'skip') skip = directive.text
    else if (directive.kind === 'todo') todo = directive.text
  }
  return { ok, id, name: name.trim(), skip, todo }
}

/**
 * tap-parser's parseDirective (18.3), for a directive without a `{` (such lines go to tap-parser):
 * a duration (`time=12ms`, `duration_ms 12`), or `todo`/`skip` in any case with what follows the
 * word, true when nothing does; null for anything else, which stays part of the name. Written out
 * here so that a log of plain results does not load tap-parser and the YAML library under it.
 */
function tapDirective (text: string): { kind: 'time' } | { kind: 'todo' | 'skip', text: string | true } | null {
  if (text === '') return null
  const line = text.replace(/^duration_ms ([0-9.]+)$/, 'time=$1ms')
  if (/^time=(?:[1-9][0-9]*|0)(?:\.[0-9]+)?(?:ms|s)$/i.test(line)) return { kind: 'time' }
  const m = /^(todo|skip)(?:\S*)\b(.*)$/i.exec(line)
  if (m === null) return null
  return { kind: m[1]!.toLowerCase() as 'todo' | 'skip', text: m[2]!.trim() || true }
}

/** The first `#` after white space: where tap-parser splits a description from its directive. */
function directiveStart (text: string): number {
  for (let at = text.indexOf('#', 1); at !== -1; at = text.indexOf('#', at + 1)) {
    if (isSpace(text.charCodeAt(at - 1))) return at
  }
  return -1
}

// tap-parser's own patterns, without the newline it reads them with
const PLAN = /^([0-9]+)\.\.([0-9]+)(?:\s+(?:#\s*(.*)))?$/
const BAIL_OUT = /^bail out!/i
/** What could start a child stream behind four spaces: a test point, a plan, a pragma, a bail-out, a version, a `# Subtest`. */
const INDENTED_TAP = /^(?:ok|not ok|pragma|bail out!|tap version|\d|# Subtest)/i

// what `.` in tap-parser's /^.*\r?\n/ does not match
export const LINE_BREAKING = /[\r\u2028\u2029]/
export const LINE_BREAKING_ALL = /[\r\u2028\u2029]/g
