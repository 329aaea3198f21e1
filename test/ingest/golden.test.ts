import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { KselftestLogParser, parseKselftestLog } from '../../ingest/index.ts'
import { capturedFixtureNames, capturedFixturePath, realFixtureNames, realFixturePath, realFixturesSkip } from '../helpers/fixtures.ts'

/*
 * What these goldens are: reviewed snapshots of the parser's output (tests and plans), including
 * its own wording of reasons, as it was when they were last reviewed. They change with the
 * parser: `UPDATE_GOLDEN=1 node --import tsx --test test/ingest/golden.test.ts`
 * (or `UPDATE_GOLDEN=1 npm test`) rewrites them from the parser instead of comparing, and the
 * diff is reviewed like code, one changed record at a time.
 *
 * A snapshot cannot say whether the parser is right, only that it changed. What a person reading
 * the log sees (each test's and subtest's status, exit code and flags) is in the hand-written
 * fact files of test/ingest/facts/, checked by facts.test.ts: regenerating a golden never
 * changes a fact.
 */
const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), 'golden')
const UPDATE = process.env.UPDATE_GOLDEN === '1'

interface Fixture { label: string, path: string, golden: string }

// published real logs in ../shared/fixtures/real, then the project's own captures
const fixtures: Fixture[] = [
  ...realFixtureNames().map(name => ({ label: `real log ${name}`, path: realFixturePath(name), golden: join(GOLDEN_DIR, name.replace(/\.txt$/, '.json')) })),
  ...capturedFixtureNames().map(name => ({ label: `captured log ${name}`, path: capturedFixturePath(name), golden: join(GOLDEN_DIR, 'captured', name.replace(/\.txt$/, '.json')) })),
]

/** JSON with two-space indents and arrays of plain values on one line (`"lines": [4, 10]`). */
export function goldenJson (value: unknown): string {
  const text = JSON.stringify(value, null, 2)
  return `${text.replace(/\[\n\s*((?:"[^"\n]*"|-?\d+|null|true|false)(?:,\n\s*(?:"[^"\n]*"|-?\d+|null|true|false))*)\n\s*\]/g,
    (_all, items: string) => `[${items.split(/,\n\s*/).join(', ')}]`)}\n`
}

test('every real fixture has a golden file', { skip: realFixturesSkip }, () => {
  const missing = realFixtureNames().filter(name => !existsSync(join(GOLDEN_DIR, name.replace(/\.txt$/, '.json'))))
  assert.deepEqual(missing, [])
})

test('every captured fixture has a golden file', () => {
  const missing = capturedFixtureNames().filter(name => !existsSync(join(GOLDEN_DIR, 'captured', name.replace(/\.txt$/, '.json'))))
  assert.deepEqual(missing, UPDATE ? missing : [])
})

for (const fixture of fixtures) {
  const absent = !UPDATE && !existsSync(fixture.golden)
  test(`${fixture.label} parses as its golden file says`, { skip: absent ? 'no golden file' : false }, () => {
    const result = parseKselftestLog(readFileSync(fixture.path, 'utf8'))
    if (UPDATE) {
      mkdirSync(dirname(fixture.golden), { recursive: true })
      writeFileSync(fixture.golden, goldenJson({ tests: result.tests, plans: result.plans }))
      return
    }
    const expected = JSON.parse(readFileSync(fixture.golden, 'utf8')) as { tests: unknown, plans: unknown }
    assert.deepEqual(result.tests, expected.tests)
    assert.deepEqual(result.plans, expected.plans)
  })

  test(`${fixture.label} parses the same in 7-byte chunks`, () => {
    const text = readFileSync(fixture.path, 'utf8')
    const whole = parseKselftestLog(text)
    const parser = new KselftestLogParser()
    for (let i = 0; i < text.length; i += 7) parser.push(text.slice(i, i + 7))
    assert.deepEqual(parser.end(), whole)
  })
}

test('golden JSON keeps arrays of plain values on one line and parses back to the same value', () => {
  const value = { tests: [{ name: 'a', lines: [4, 10], flags: ['aborted', 'false_pass'], subtests: [], reason: null }], plans: [] }
  const text = goldenJson(value)
  assert.match(text, /"lines": \[4, 10\]/)
  assert.match(text, /"flags": \["aborted", "false_pass"\]/)
  assert.deepEqual(JSON.parse(text), value)
})
