// Property tests on generated (synthetic) logs: arbitrary interleavings of headers, results,
// nested output, kernel noise and truncation. KSFT_FUZZ_RUNS raises the number of cases.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { KselftestLogParser, parseKselftestLog, type SubtestRecord, type TestRecord } from '../../ingest/index.ts'

const RUNS = Number(process.env.KSFT_FUZZ_RUNS ?? 300)

const word = fc.stringMatching(/^[a-z_][a-z0-9_.-]{0,11}$/)
const anyText = fc.string({ maxLength: 40, unit: 'binary' })

type Piece =
  | { kind: 'test', collection: string, name: string, body: string[], result: string | null }
  | { kind: 'line', text: string }

const outputLine = fc.oneof(
  anyText.map(text => `# ${text}`),
  fc.constantFrom('# TAP version 13', '# 1..3', '# ok 1 vm0', '# not ok 2 vm1', '# # ok 1 deep', '# Bail out! no',
    '# ok 5 # SKIP - Requirement not met: x', '# ==== Test Assertion Failure ====', '# Aborted (core dumped)',
    '# TEST: something [ OK ]', '# TEST: other [FAIL]', '#', '# # Totals: pass:1'),
  fc.constantFrom('[   12.345678] WARNING: CPU: 1 PID: 2 at foo', '<4>[  107.4] Call trace:', '[ 1932.1] Kernel panic - not syncing: x',
    'make[3]: Leaving directory', 'wrapped continuation', ''),
)

const resultLine = (collection: string, name: string) => fc.constantFrom(
  `ok 1 selftests: ${collection}: ${name}`,
  `not ok 1 selftests: ${collection}: ${name} # exit=1`,
  `ok 1 selftests: ${collection}: ${name} # SKIP`,
  `not ok 1 selftests: ${collection}: ${name} # TIMEOUT 45 seconds`,
  `ok 1 selftests: ${collection}: ${name}[   13.000001] glued kernel text`,
)

const piece: fc.Arbitrary<Piece> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(word, word, fc.array(outputLine, { maxLength: 8 }), fc.boolean()).chain(([collection, name, body, finished]) =>
    (finished ? resultLine(collection, name) : fc.constant(null)).map(result => ({ kind: 'test' as const, collection, name, body, result }))) },
  { weight: 1, arbitrary: fc.oneof(fc.constantFrom('TAP version 13', '1..4', 'ok 3 bare', 'not ok', '# timeout set to 45', 'selftests: a: b'), anyText).map(text => ({ kind: 'line' as const, text })) },
)

interface Generated { text: string, headerLines: Array<[line: number, text: string]> }

function render (pieces: Piece[], crlf: boolean): Generated {
  const lines: string[] = []
  const headerLines: Generated['headerLines'] = []
  pieces.forEach((p, i) => {
    if (p.kind === 'line') {
      // a generated free line must not pose as a header, or the header count below is off
      lines.push(/selftests/.test(p.text) ? p.text.replace(/selftests/g, 'x') : p.text)
      return
    }
    // unique names: the same test twice is merged on purpose, which this property does not test
    const name = `${p.name}${i}`
    lines.push(`# selftests: ${p.collection}: ${name}`)
    headerLines.push([lines.length, lines[lines.length - 1]!])
    lines.push(...p.body)
    if (p.result) lines.push(p.result.replace(`: ${p.name}`, `: ${name}`))
  })
  return { text: lines.join(crlf ? '\r\n' : '\n'), headerLines }
}

function walk (subtests: SubtestRecord[], within: [number, number], check: (s: SubtestRecord, within: [number, number]) => void): void {
  for (const s of subtests) {
    check(s, within)
    walk(s.subtests, s.lines, check)
  }
}

test('the parser never throws, gives each header exactly one record, and keeps line ranges inside the input', () => {
  fc.assert(fc.property(fc.array(piece, { maxLength: 25 }), fc.boolean(), fc.nat(), (pieces, crlf, cutAt) => {
    const full = render(pieces, crlf)
    // truncate anywhere: a panic or a cut log
    const cut = full.text.slice(0, full.text.length === 0 ? 0 : cutAt % (full.text.length + 1))
    const result = parseKselftestLog(cut)
    const lineCount = result.lineCount
    const cutLines = cut.split('\n')
    // a header the cut went through is no header any more
    const headersInCut = full.headerLines
      .filter(([line, text]) => line <= lineCount && cutLines[line - 1]!.replace(/\r$/, '') === text)
      .map(([line]) => line)
    for (const header of headersInCut) {
      const records = result.tests.filter((t: TestRecord) => t.lines[0] === header)
      assert.equal(records.length, 1, `header at line ${header}`)
    }
    for (const t of result.tests) {
      assert.ok(t.lines[0] >= 1 && t.lines[0] <= t.lines[1] && t.lines[1] <= lineCount, `test lines ${t.lines} of ${lineCount}`)
      walk(t.subtests, t.lines, (s, within) => {
        assert.ok(s.lines[0] >= within[0] && s.lines[1] <= within[1] && s.lines[0] <= s.lines[1], `subtest lines ${s.lines} within ${within}`)
      })
    }
  }), { numRuns: RUNS })
})

test('chunk boundaries never change the result', () => {
  fc.assert(fc.property(fc.array(piece, { maxLength: 15 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }), (pieces, sizes) => {
    const { text } = render(pieces, false)
    const parser = new KselftestLogParser()
    let at = 0
    for (let i = 0; at < text.length; i++) {
      const size = sizes[i % sizes.length]!
      parser.push(text.slice(at, at + size))
      at += size
    }
    assert.deepEqual(parser.end(), parseKselftestLog(text))
  }), { numRuns: RUNS })
})

test('a harness time stamp before every line and any serial line ending (\\n, \\r\\n, \\r\\r\\n) never change the records', () => {
  const ending = fc.constantFrom('\n', '\r\n', '\r\r\n')
  fc.assert(fc.property(fc.array(piece, { maxLength: 15 }), fc.array(ending, { minLength: 1, maxLength: 8 }), fc.boolean(), (pieces, endings, stamped) => {
    const { text } = render(pieces, false)
    const plain = parseKselftestLog(text)
    const lines = text.split('\n')
    const captured = lines.map((line, i) => {
      // a stamp on an empty last line would make a line of it
      const last = i === lines.length - 1
      const stamp = stamped && !(last && line === '') ? `2024-05-01T10:22:${String(i % 60).padStart(2, '0')}.1234567Z ` : ''
      return stamp + line + (last ? '' : endings[i % endings.length])
    }).join('')
    const result = parseKselftestLog(captured)
    assert.deepEqual(result.tests, plain.tests)
    assert.deepEqual(result.plans, plain.plans)
    assert.deepEqual(result.unfinished, plain.unfinished)
    assert.equal(result.lineCount, plain.lineCount)
  }), { numRuns: RUNS })
})
