import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { KselftestLogParser, parseKselftestLog } from '../../ingest/index.ts'
import { realFixtureNames, realFixturePath, realFixturesSkip } from '../helpers/fixtures.ts'

// Each expected file was written by reading its log, not from the parser's output.
const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), 'golden')

test('every real fixture has a golden file', { skip: realFixturesSkip }, () => {
  const missing = realFixtureNames().filter(name => !existsSync(join(GOLDEN_DIR, name.replace(/\.txt$/, '.json'))))
  assert.deepEqual(missing, [])
})

for (const name of realFixtureNames()) {
  const goldenPath = join(GOLDEN_DIR, name.replace(/\.txt$/, '.json'))
  test(`real log ${name} parses as its golden file says`, { skip: existsSync(goldenPath) ? false : 'no golden file' }, () => {
    const expected = JSON.parse(readFileSync(goldenPath, 'utf8')) as { tests: unknown, plans: unknown }
    const result = parseKselftestLog(readFileSync(realFixturePath(name), 'utf8'))
    assert.deepEqual(result.tests, expected.tests)
    assert.deepEqual(result.plans, expected.plans)
  })

  test(`real log ${name} parses the same in 7-byte chunks`, { skip: realFixturesSkip }, () => {
    const text = readFileSync(realFixturePath(name), 'utf8')
    const whole = parseKselftestLog(text)
    const parser = new KselftestLogParser()
    for (let i = 0; i < text.length; i += 7) parser.push(text.slice(i, i + 7))
    assert.deepEqual(parser.end(), whole)
  })
}
