/**
 * This parser against its peers on the project's real logs, scored against the hand-written fact
 * files (test/ingest/facts/): how many tests and subtests each one reads with the status a person
 * reading the log sees, and what it gets wrong.
 *
 *   node --import tsx bench/parse-peers.ts [--lkft PATH] [--python PYTHON] [--markdown]
 *
 * Peers:
 * - npm tap-parser given the whole log, as a generic TAP consumer reads the runner's output;
 * - LKFT's automated/linux/kselftest/parse-output.py (Linaro/test-definitions), when its path is
 *   given (--lkft or LKFT_PARSE_OUTPUT). It is not part of this repository: fetch it into a scratch
 *   directory yourself. It needs python3 with tap.py (Debian: python3-tap; --python or PYTHON picks
 *   the interpreter). Without it, that column is left out.
 *
 * Peers know fewer statuses than the facts: for them a fact's timeout and error count as fail (both
 * are a not-ok outcome), xfail as fail and xpass as pass. A test with no result line (error) that a
 * peer does not report at all counts as missing.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Parser } from 'tap-parser'
import { parseKselftestLog, type SubtestRecord } from '../ingest/index.ts'
import { capturedFixturePath, realFixturePath, realFixturesSkip } from '../test/helpers/fixtures.ts'
import { factFiles, readFactFile, type FactFile, type SubtestFact } from '../test/ingest/facts/read-facts.ts'

type Reading = Map<string, string> // a test's key, or a subtest's key path joined by '\u0000', to a status

interface Score { testsRight: number, subtestsRight: number, wrong: Map<string, number> }

interface Row {
  fixture: string
  kind: 'real' | 'captured'
  tests: number
  subtests: number
  scores: Record<string, Score>
  /** tests this parser reads with every field of their fact right: status, exit code, timeout, flags */
  oursAllFields: number
}

const SEP = '\u0000'

const { values: flags } = parseArgs({
  options: {
    lkft: { type: 'string', default: process.env.LKFT_PARSE_OUTPUT },
    python: { type: 'string', default: process.env.PYTHON ?? 'python3' },
    markdown: { type: 'boolean', default: false },
  },
})

/** A fact's status as a peer that knows only pass, fail and skip can say it. */
function peerStatus (status: string): string {
  if (status === 'timeout' || status === 'error' || status === 'xfail') return 'fail'
  if (status === 'xpass') return 'pass'
  return status
}

// ---- this parser

function ours (text: string): { tests: Reading, subtests: Reading } {
  const result = parseKselftestLog(text)
  const tests: Reading = new Map()
  const subtests: Reading = new Map()
  const walk = (prefix: string, list: SubtestRecord[]): void => {
    for (const s of list) {
      subtests.set(`${prefix}${SEP}${s.name}`, s.status)
      walk(`${prefix}${SEP}${s.name}`, s.subtests)
    }
  }
  for (const t of result.tests) {
    const key = `${t.collection}: ${t.name}`
    tests.set(key, t.status)
    walk(key, t.subtests)
  }
  return { tests, subtests }
}

function oursAllFields (facts: FactFile, text: string): number {
  const records = parseKselftestLog(text).tests
  return facts.tests.filter(fact => {
    const r = records.find(x => x.collection === fact.collection && x.name === fact.name)
    const sorted = (list: readonly string[]): string => [...list].sort().join(',')
    return r !== undefined && r.status === fact.status && r.exitCode === fact.exitCode &&
      r.timeoutSeconds === fact.timeoutSeconds && (fact.flags === null || sorted(r.flags) === sorted(fact.flags))
  }).length
}

// ---- tap-parser on the whole log

interface TapAssert { ok: boolean, name: string, skip: string | boolean, todo: string | boolean }

function tapParser (text: string): { tests: Reading, subtests: Reading } {
  const tests: Reading = new Map()
  const subtests: Reading = new Map()
  const status = (a: TapAssert): string => a.skip ? 'skip' : a.todo ? (a.ok ? 'pass' : 'fail') : a.ok ? 'pass' : 'fail'
  // the runner's "C: T" after "selftests: "; a harness test run directly is "unknown: name"
  const key = (name: string): string => {
    const bare = name.replace(/\s+#.*$/, '').trim()
    return bare.startsWith('selftests:') ? bare.slice('selftests:'.length).trim() : `unknown: ${bare}`
  }
  const parser = new Parser()
  parser.on('assert', (a: TapAssert) => { if (!tests.has(key(a.name))) tests.set(key(a.name), status(a)) })
  // tap-parser's own subtests (indented TAP): kselftest nests with "# " instead, so few come here
  parser.on('child', (child: Parser) => {
    child.on('assert', (a: TapAssert) => { subtests.set(`?${SEP}${a.name.trim()}`, status(a)) })
  })
  try {
    parser.end(text)
  } catch {}
  return { tests, subtests }
}

// ---- LKFT's parse-output.py

/** test-definitions' slugify(): what it names a result by. */
function slugify (line: string): string {
  return line.replace(/\[\d{1,5}\]/g, '').replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^_|_$/g, '').replace(/_-/g, '__')
}

function lkftKey (collection: string, name: string): string {
  return slugify(collection === 'unknown' ? name : `${collection}: ${name}`)
}

function lkft (text: string, script: string): { tests: Reading, subtests: Reading, error?: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ksft-peers-'))
  try {
    mkdirSync(join(dir, 'output')) // it writes output/<name>.log for each failure
    const run = spawnSync(flags.python!, [script], { input: text, cwd: dir, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
    const all: Reading = new Map()
    if (run.status !== 0) return { tests: all, subtests: all, error: (run.stderr || run.error?.message || '').trim().split('\n').pop() }
    for (const line of run.stdout.split('\n')) {
      const m = /^(\S+) (pass|fail|skip)$/.exec(line)
      if (m && !all.has(m[1]!)) all.set(m[1]!, m[2]!)
    }
    // flat names: a subtest is "<test>_<subtest>"; tests and subtests are told apart by the facts
    return { tests: all, subtests: all }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

// ---- scoring

function flattenFacts (facts: FactFile): Array<{ ours: string, lkft: string, status: string }> {
  const out: Array<{ ours: string, lkft: string, status: string }> = []
  const walk = (oursPrefix: string, lkftPrefix: string, list: SubtestFact[]): void => {
    for (const s of list) {
      out.push({ ours: `${oursPrefix}${SEP}${s.name}`, lkft: `${lkftPrefix}_${slugify(s.name)}`, status: s.status })
      walk(`${oursPrefix}${SEP}${s.name}`, `${lkftPrefix}_${slugify(s.name)}`, s.subtests)
    }
  }
  for (const t of facts.tests) walk(`${t.collection}: ${t.name}`, lkftKey(t.collection, t.name), t.subtests)
  return out
}

function score (facts: FactFile, reading: { tests: Reading, subtests: Reading }, peer: 'ours' | 'tap' | 'lkft'): Score {
  const result: Score = { testsRight: 0, subtestsRight: 0, wrong: new Map() }
  const note = (what: string): void => { result.wrong.set(what, (result.wrong.get(what) ?? 0) + 1) }
  const judge = (got: string | undefined, want: string, kind: string): boolean => {
    const expected = peer === 'ours' ? want : peerStatus(want)
    if (got === expected) return true
    note(got === undefined ? `${kind} missing (${want})` : `${kind} ${want} read as ${got}`)
    return false
  }
  for (const t of facts.tests) {
    const key = peer === 'lkft' ? lkftKey(t.collection, t.name) : `${t.collection}: ${t.name}`
    const got = reading.tests.get(key)
    // a result whose name took in more of the line (`irqfd_test exit=254`) is a different test to
    // anything that tracks results by name: wrong, but said so
    const longer = got === undefined ? [...reading.tests.keys()].find(k => k.startsWith(`${key} `) || (peer === 'lkft' && k.startsWith(`${key}_`))) : undefined
    if (longer !== undefined) note(`test named "${longer}"`)
    else if (judge(got, t.status, 'test')) result.testsRight++
  }
  for (const s of flattenFacts(facts)) {
    if (judge(reading.subtests.get(peer === 'lkft' ? s.lkft : s.ours), s.status, 'subtest')) result.subtestsRight++
  }
  return result
}

function rows (): Row[] {
  const out: Row[] = []
  const lkftScript = flags.lkft && existsSync(flags.lkft) ? flags.lkft : null
  const kinds: Array<['real' | 'captured', (name: string) => string]> = [['captured', capturedFixturePath]]
  if (!realFixturesSkip) kinds.unshift(['real', realFixturePath])
  for (const [kind, pathOf] of kinds) {
    for (const path of factFiles(kind)) {
      const facts = readFactFile(path)
      if (!facts.recognized) continue
      const text = readFileSync(pathOf(facts.fixture), 'utf8')
      const scores: Record<string, Score> = {
        ours: score(facts, ours(text), 'ours'),
        'tap-parser': score(facts, tapParser(text), 'tap'),
      }
      if (lkftScript) {
        const reading = lkft(text, lkftScript)
        if (reading.error) throw new Error(`parse-output.py failed on ${facts.fixture}: ${reading.error}`)
        scores.lkft = score(facts, reading, 'lkft')
      }
      out.push({ fixture: facts.fixture, kind, tests: facts.tests.length, subtests: flattenFacts(facts).length, scores, oursAllFields: oursAllFields(facts, text) })
    }
  }
  return out
}

function wrongText (score: Score): string {
  return [...score.wrong].sort((a, b) => b[1] - a[1]).map(([what, n]) => `${n} ${what}`).join('; ')
}

const table = rows()
const peers = Object.keys(table[0]?.scores ?? {})
if (flags.markdown) {
  console.log(`| log | tests | subtests | ${peers.map(p => `${p}: tests / subtests right`).join(' | ')} | ours: tests with every field right |`)
  console.log(`|---|---|---|${peers.map(() => '---').join('|')}|---|`)
  for (const row of table) {
    const cells = peers.map(p => `${row.scores[p]!.testsRight} / ${row.scores[p]!.subtestsRight}`)
    console.log(`| ${row.kind === 'captured' ? 'captured/' : ''}${row.fixture.replace(/\.txt$/, '')} | ${row.tests} | ${row.subtests} | ${cells.join(' | ')} | ${row.oursAllFields} |`)
  }
  const total = (f: (r: Row) => number): number => table.reduce((sum, r) => sum + f(r), 0)
  const totals = peers.map(p => `**${total(r => r.scores[p]!.testsRight)} / ${total(r => r.scores[p]!.subtestsRight)}**`)
  console.log(`| **all ${table.length} logs** | **${total(r => r.tests)}** | **${total(r => r.subtests)}** | ${totals.join(' | ')} | **${total(r => r.oursAllFields)}** |`)
} else {
  for (const row of table) {
    console.log(`${row.kind}/${row.fixture}: ${row.tests} tests, ${row.subtests} subtests in the facts; this parser has every field of ${row.oursAllFields} tests right`)
    for (const p of peers) {
      const s = row.scores[p]!
      const wrong = wrongText(s)
      console.log(`  ${p.padEnd(10)} tests ${s.testsRight}/${row.tests}, subtests ${s.subtestsRight}/${row.subtests}${wrong ? `  wrong: ${wrong}` : ''}`)
    }
  }
  if (!peers.includes('lkft')) console.log('(LKFT parse-output.py column left out: give its path with --lkft or LKFT_PARSE_OUTPUT)')
}
