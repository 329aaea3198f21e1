// The hand-written reader of nested blocks (ingest/nested-tap-reader.ts) against tap-parser itself:
// on generated blocks of result, plan, comment and text lines, built from the pieces where the two
// could part (numbers glued to names, ` - `, `#` in names, directives of every case, tabs, odd
// plans, a plan before and after results, line breaks other than \n), whenever the reader reads a
// block at all it must report what tap-parser reports. KSFT_FUZZ_RUNS raises the number of cases.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { Parser } from 'tap-parser'
import { LINE_BREAKING_ALL, readPlainTap, type TapEvents } from '../../ingest/nested-tap-reader.ts'

const RUNS = Number(process.env.KSFT_FUZZ_RUNS ?? 2000)

/** tap-parser on the whole block, every line given, as a TAP consumer reads it. */
function tapParserEvents (texts: string[]): TapEvents {
  const events: TapEvents = { points: [], bailout: null, planEnd: null, skipAll: false, skipReason: '' }
  const parser = new Parser()
  parser.on('assert', (a: { ok: boolean, id: number, name: string, skip: string | boolean, todo: string | boolean }) => {
    events.points.push({ ok: a.ok, id: a.id, name: a.name, skip: a.skip, todo: a.todo })
  })
  parser.on('bailout', (reason: string) => { events.bailout = reason || 'no reason given' })
  parser.on('complete', (summary: { plan: { end: number | null, skipAll: boolean, skipReason: string } }) => {
    events.planEnd = summary.plan.end
    events.skipAll = summary.plan.skipAll
    events.skipReason = summary.plan.skipReason
  })
  for (const text of texts) parser.write(`${text.replace(LINE_BREAKING_ALL, ' ')}\n`)
  parser.end()
  return events
}

const start = fc.constantFrom('ok', 'not ok', 'ok ', 'not ok ', 'okay', 'ok\t', 'not  ok', 'ok{', 'ok -', 'ok - ', 'ok  ')
const number = fc.constantFrom('', '1', '2', '12', '0', '007', '3abc', '4-', '5\t', '99999999999999999999999')
const piece = fc.constantFrom(
  ' ', '  ', '\t', ' - ', '-', 'name', 'case_000001', 'a b', '#', ' #', '# ', ' # ', ' #x', 'x#y', '##',
  'SKIP', 'skip', 'Skip:', 'SKIPPED', 'skip_me', 'TODO', 'todo', 'XFAIL', 'TIMEOUT 45 seconds', 'exit=1',
  'time=12ms', 'time=1.5s', 'duration_ms 3', ': reason', ' - reason', 'reason text', '[PASS]', '[SKIP]',
  '\r', '\u2028', '\u00a0', '\u2003', '{', '}', '\\', '\\#', '1..3',
)
const pointLine = fc.tuple(start, number, fc.array(piece, { maxLength: 6 })).map(([s, n, rest]) =>
  `${s}${n === '' ? '' : (s.endsWith(' ') ? '' : ' ') + n}${rest.join('')}`)
const planLine = fc.tuple(
  fc.constantFrom('1', '0', '2', '3', '10'), fc.constantFrom('0', '1', '2', '3', '4', '10'),
  fc.constantFrom('', ' # SKIP no device', ' #SKIP', '  # skip: x', ' # ', ' #', ' x', ' ', '\t# todo', '#x'),
).map(([from, to, tail]) => `${from}..${to}${tail}`)
const otherLine = fc.constantFrom(
  '', '# comment', '# Totals: pass:1', '# Subtest: x', '#', 'TAP version 13', 'KTAP version 1', 'text', '  text',
  '    text', '    ok 1 child', '  ---', '  ...', '  message: x', '{', '}', 'Bail out! no', 'bail out!',
  'pragma +strict', 'pragmatic', '\tok 1 tab', '     ok 1 five', '    # comment', '    # Subtest: y', '1..',
  '\u00a0# nbsp', 'ok\r1 x', 'not ok 2 y\u2028z',
)
const block = fc.array(fc.oneof(
  { weight: 5, arbitrary: pointLine },
  { weight: 2, arbitrary: planLine },
  { weight: 3, arbitrary: otherLine },
), { maxLength: 12 })

test('whenever the nested reader reads a block, it reports what tap-parser reports', () => {
  let read = 0
  fc.assert(fc.property(block, (texts) => {
    const ours = readPlainTap(texts)
    if (ours === null) return
    read++
    assert.deepEqual(ours, tapParserEvents(texts))
  }), { numRuns: RUNS })
  // the property says nothing if the reader leaves every block to tap-parser
  assert.ok(read > RUNS / 4, `the reader read only ${read} of ${RUNS} blocks`)
})

test('the nested reader reads the blocks kselftest.h and the harness print', () => {
  const blocks = [
    ['TAP version 13', '1..4', 'ok 1 case_000001', 'not ok 2 case_000002', 'ok 3 case_000003 # SKIP no device', '# Totals: pass:2 fail:1'],
    ['KTAP version 1', '1..2', '# Starting 2 tests from 1 test cases.', '#  RUN           global.a ...', '#            OK  global.a', 'ok 1 global.a', 'ok 2 global.b # XFAIL later'],
    ['1..0 # SKIP Requirement not met'],
    ['ok 5 # SKIP unsupported', 'ok 5 vmx_pmu_caps_test'],
    ['ok 1 a', 'ok 2 b', '1..2'],
  ]
  for (const texts of blocks) {
    const ours = readPlainTap(texts)
    assert.ok(ours !== null, texts.join('\n'))
    assert.deepEqual(ours, tapParserEvents(texts))
  }
})
