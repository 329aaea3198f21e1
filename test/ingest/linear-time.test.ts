// Parse time grows linearly with the input, whatever the input (issue 12): synthetic hostile lines
// (long runs of spaces, `[`, digits, `\r`, `rcu_`, `: Assertion`, `TEST:` padding, result and plan
// prefixes...) built at two lengths, ten times apart; the longer must cost at most 12 times more.
// KSFT_FUZZ_RUNS (npm run fuzz) raises the number of cases, KSFT_LINEAR_BASE sets the shorter
// length, KSFT_LINEAR_SEED replays fast-check's seed of a failure.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import fc from 'fast-check'
import { parseKselftestLog } from '../../ingest/index.ts'

const RUNS = process.env.KSFT_FUZZ_RUNS ? Math.max(50, Math.round(Number(process.env.KSFT_FUZZ_RUNS) / 100)) : 15
// both lengths stay under the parser's 16 KiB line clip (MAX_LINE_CHARS), so a pattern quadratic within a line shows
const BASE = Number(process.env.KSFT_LINEAR_BASE ?? 1_500)

const fragment = fc.constantFrom(
  ' ', '   ', '\t', '[', '[ ', '[1.', '[  12.', '1', '123456', '.', ']', '\r', '\u2028', 'rcu_', 'rcu: INFO: ',
  ': Assertion', 'TEST: ', 'ok ', 'not ok ', '#', '# ', '1..', 'selftests: ', ': ', 'exit=', ' # SKIP', ' # ',
  'x', 'TAP version ', 'Aborted', 'stall', 'failed', '[PASS]', '==== Test Assertion Failure ====',
)
const lead = fc.constantFrom(
  '', 'ok 1 selftests: c: a', 'not ok 1 selftests: c: a', 'ok', 'ok 1 a # SKIP', '1..1', '1..1 #',
  '# selftests: c: t', 'selftests: c: t', '# TEST: skipped', '# ', '[    1.000000] ', '# ok 1', '# not ok 1 a',
  '[PASS] 1 selftests c ', 'x: Assertion',
)
const tail = fc.constantFrom('', 'b', 'x\ry', ' [', '[ OK ]', ' exit=1', '\r', '[SKIP]', ' failed')
const where = fc.constantFrom('alone', 'passed', 'skipped', 'failed', 'cut short')
// one long line finds a pattern quadratic in a line; many lines, work quadratic across lines
const layout = fc.oneof(
  { weight: 2, arbitrary: fc.constant('one line') },
  { weight: 1, arbitrary: fc.constantFrom('lines of 1000', 'lines of 4000') },
)

interface Shape { lead: string, unit: string, tail: string, where: string, layout: string }

const shape: fc.Arbitrary<Shape> = fc.record({
  lead,
  // a short unit repeated is what hurts a backtracking pattern most
  unit: fc.oneof(fragment, fc.array(fragment, { minLength: 2, maxLength: 6 }).map(parts => parts.join(''))),
  tail,
  where,
  layout,
})

function hostileLine (s: Shape, length: number): string {
  const fill = Math.max(0, length - s.lead.length - s.tail.length)
  return s.lead + s.unit.repeat(Math.ceil(fill / s.unit.length)).slice(0, fill) + s.tail
}

/** The hostile text at about `length` characters, inside a test or alone. */
function build (s: Shape, length: number): string {
  let body: string
  if (s.layout === 'one line') body = hostileLine(s, length)
  else {
    const lineLength = s.layout === 'lines of 1000' ? 1000 : 4000
    body = Array.from({ length: Math.max(1, Math.round(length / lineLength)) }, () => hostileLine(s, lineLength)).join('\n')
  }
  switch (s.where) {
    case 'alone': return `${body}\n`
    case 'passed': return `# selftests: c: t\n${body}\nok 1 selftests: c: t\n`
    case 'skipped': return `# selftests: c: t\n${body}\nok 1 selftests: c: t # SKIP\n`
    case 'failed': return `# selftests: c: t\n${body}\nnot ok 1 selftests: c: t # exit=1\n`
    default: return `# selftests: c: t\n${body}\n`
  }
}

// a collection before every timed try, so that no try pays for the garbage of another
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** CPU time of this process: a shared machine's load stretches wall time, not this. */
function cpuMs (): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/** Each timed try lasts at least this long: shorter ones measure the timer and the scheduler. */
const TRY_MS = 25

/**
 * The least time of a few tries at parsing `short` 10k times and `long` k times (k so that a try
 * lasts TRY_MS), tried in turns so that a burst of load on a shared machine hits both alike;
 * stops trying once past the budget. Times are per parse.
 */
function leastTimes (short: string, long: string, budgetMs = 4000): { short: number, long: number } {
  // warm up both, so that neither pays for the JIT, and see how long a parse of the long one takes
  let t = performance.now()
  for (let i = 0; i < 10; i++) parseKselftestLog(short)
  t = performance.now()
  parseKselftestLog(long)
  const k = Math.min(100, Math.max(1, Math.ceil(TRY_MS / Math.max(performance.now() - t, 0.01))))
  for (let i = 0; i < Math.min(k, 5); i++) parseKselftestLog(long)
  let shortBest = Infinity
  let longBest = Infinity
  const started = performance.now()
  for (let trial = 0; trial < 5; trial++) {
    gc()
    let t0 = cpuMs()
    for (let i = 0; i < 10 * k; i++) parseKselftestLog(short)
    shortBest = Math.min(shortBest, (cpuMs() - t0) / (10 * k))
    gc()
    t0 = cpuMs()
    for (let i = 0; i < k; i++) parseKselftestLog(long)
    longBest = Math.min(longBest, (cpuMs() - t0) / k)
    if (performance.now() - started > budgetMs) break
  }
  return { short: shortBest, long: longBest }
}

/** The shapes issue 12 found quadratic (and one this property found), tried first on every run. */
const ISSUE_SHAPES: Shape[] = [
  { lead: 'ok 1 selftests: c: a', unit: ' ', tail: 'b', where: 'alone', layout: 'one line' },
  { lead: 'not ok 1 selftests: c: a', unit: ' ', tail: 'exit=x', where: 'alone', layout: 'one line' },
  { lead: 'ok', unit: ' ', tail: 'x\ry', where: 'alone', layout: 'one line' },
  { lead: '1..1 #', unit: ' ', tail: 'x\ry', where: 'alone', layout: 'one line' },
  { lead: '# TEST: skipped', unit: ' ', tail: 'x', where: 'skipped', layout: 'one line' },
  { lead: '', unit: '[1.', tail: '', where: 'passed', layout: 'one line' },
  { lead: '[    1.000000] ', unit: 'rcu_', tail: '', where: 'passed', layout: 'one line' },
  { lead: '[    1.000000] ', unit: 'rcu: INFO: ', tail: '', where: 'passed', layout: 'one line' },
  { lead: '# ', unit: ': Assertion', tail: 'x', where: 'passed', layout: 'one line' },
  { lead: 'ok', unit: '\u2028: TEST: failed\u2028', tail: ' exit=1', where: 'skipped', layout: 'lines of 1000' },
]

test('10 times the input costs at most 12 times the parse, for generated hostile lines', () => {
  fc.assert(fc.property(shape, (s) => {
    const short = build(s, BASE)
    const long = build(s, BASE * 10)
    // noise only ever adds time, and unevenly: a growth within the bound in any of five rounds
    // is the parser's; a quadratic parse fails them all by far (x100 and more before the fix)
    let times = leastTimes(short, long)
    let ratio = times.long / times.short
    // (past x50 it is not noise: no more rounds, which take minutes on a quadratic parser)
    for (let round = 1; round < 5 && ratio > 12 && ratio < 50; round++) {
      times = leastTimes(short, long)
      ratio = Math.min(ratio, times.long / times.short)
    }
    assert.ok(ratio <= 12, `${JSON.stringify(s)}: ${long.length} chars took ${times.long.toFixed(2)} ms, ${short.length} chars ${times.short.toFixed(3)} ms (x${ratio.toFixed(1)})`)
  }), { numRuns: RUNS, endOnFailure: true, examples: ISSUE_SHAPES.map(s => [s] as [Shape]), ...(process.env.KSFT_LINEAR_SEED ? { seed: Number(process.env.KSFT_LINEAR_SEED) } : {}) })
})

test('the reported line of issue 12 (a result, 100 000 spaces, one letter) parses at once', () => {
  // 20 s before the fix
  const text = `ok 1 selftests: c: a${' '.repeat(100_000)}b\n`
  const t0 = performance.now()
  const result = parseKselftestLog(text)
  const elapsed = performance.now() - t0
  assert.ok(elapsed < 1000, `${elapsed.toFixed(0)} ms`)
  assert.equal(result.tests.length, 1)
  assert.equal(result.tests[0]!.status, 'pass')
})
