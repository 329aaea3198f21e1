import { readdirSync, readFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/*
 * Fact files: what a person reading a real log sees, written by hand, one file per log.
 *
 *   # a comment (why a fact is what it is, which line shows it)
 *   tests: all                 every test of the log is listed (or `sample`: the listed ones exist)
 *   subtests: all              every listed test's subtests are listed (or `sample`)
 *   recognized: no             the file is not a kselftest log at all (no tests follow)
 *   fail kvm: guest_memfd_test exit=254 flags=assertion_failure
 *     pass vm0                 a subtest: status, then its name (spaces allowed), indented 2 per level
 *       skip nested name       a subtest of the subtest above
 *   skip kvm: vmx_msrs_test  # todo: why the parser disagrees today
 *
 * A test line is `<status> <collection>: <name>` and then, in any order: `exit=N` (absent: no exit
 * code in the log), `timeout=N` (the seconds of `# TIMEOUT N seconds`), `flags=a,b` (absent: none;
 * `flags=?` leaves them unchecked), `subtests=all|sample` (this test only). ` # todo: reason` at
 * the end of a test or subtest line marks a fact the parser does not meet yet: the fact stays as the
 * log shows it, and the check is reported as a todo instead of failing the suite.
 */

export interface SubtestFact {
  status: string
  name: string
  line: number
  todo: string | null
  subtests: SubtestFact[]
}

export interface TestFact {
  status: string
  collection: string
  name: string
  exitCode: number | null
  timeoutSeconds: number | null
  /** null: not checked */
  flags: string[] | null
  subtests: SubtestFact[]
  allSubtests: boolean
  line: number
  todo: string | null
}

export interface FactFile {
  path: string
  /** the log's file name, e.g. `kvm-2022-....txt` */
  fixture: string
  recognized: boolean
  allTests: boolean
  /** a known disagreement about which tests the log holds (` # todo:` on the `tests:` line) */
  allTestsTodo: string | null
  tests: TestFact[]
}

export const FACTS_DIR = dirname(fileURLToPath(import.meta.url))

const STATUS = /^(pass|fail|skip|xfail|xpass|timeout|error)$/

export function readFactFile (path: string): FactFile {
  const file: FactFile = { path, fixture: basename(path).replace(/\.facts$/, '.txt'), recognized: true, allTests: true, allTestsTodo: null, tests: [] }
  let allSubtests = true
  /** the open subtest at each depth: stack[0] is the test */
  let stack: Array<{ subtests: SubtestFact[] }> = []
  const lines = readFileSync(path, 'utf8').split('\n')
  lines.forEach((raw, index) => {
    const lineNo = index + 1
    const where = `${path}:${lineNo}`
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) return
    const todoAt = raw.indexOf(' # todo:')
    const todo = todoAt >= 0 ? raw.slice(todoAt + ' # todo:'.length).trim() : null
    const text = (todoAt >= 0 ? raw.slice(0, todoAt) : raw).trimEnd()
    const directive = /^(tests|subtests|recognized):\s*(\S+)$/.exec(text)
    if (directive) {
      const [, key, value] = directive
      if (key === 'recognized') file.recognized = value !== 'no'
      else if (value !== 'all' && value !== 'sample') throw new Error(`${where}: ${key}: all or sample, not ${value}`)
      else if (key === 'tests') { file.allTests = value === 'all'; file.allTestsTodo = todo }
      else allSubtests = value === 'all'
      return
    }
    const indent = raw.length - raw.trimStart().length
    if (indent === 0) {
      const match = /^(\S+)\s+(\S+):\s+(\S+)((?:\s+\S+)*)$/.exec(text)
      if (!match || !STATUS.test(match[1]!)) throw new Error(`${where}: not a test fact: ${raw}`)
      const test: TestFact = {
        status: match[1]!, collection: match[2]!, name: match[3]!, exitCode: null, timeoutSeconds: null, flags: [],
        subtests: [], allSubtests, line: lineNo, todo,
      }
      for (const field of match[4]!.trim().split(/\s+/).filter(Boolean)) {
        const [key, value] = field.split('=') as [string, string | undefined]
        if (key === 'exit' && value !== undefined) test.exitCode = Number(value)
        else if (key === 'timeout' && value !== undefined) test.timeoutSeconds = Number(value)
        else if (key === 'flags' && value !== undefined) test.flags = value === '?' ? null : value.split(',')
        else if (key === 'subtests' && (value === 'all' || value === 'sample')) test.allSubtests = value === 'all'
        else throw new Error(`${where}: unknown field ${field}`)
      }
      file.tests.push(test)
      stack = [test]
      return
    }
    if (indent % 2 !== 0 || indent / 2 > stack.length) throw new Error(`${where}: indent by two spaces per level`)
    const match = /^(\S+)\s+(.+)$/.exec(text.trimStart())
    if (!match || !STATUS.test(match[1]!)) throw new Error(`${where}: not a subtest fact: ${raw}`)
    const subtest: SubtestFact = { status: match[1]!, name: match[2]!, line: lineNo, todo, subtests: [] }
    const depth = indent / 2
    stack[depth - 1]!.subtests.push(subtest)
    stack = [...stack.slice(0, depth), subtest]
  })
  return file
}

/** The fact files of one kind (`real` or `captured`), sorted by name. */
export function factFiles (kind: 'real' | 'captured'): string[] {
  const dir = join(FACTS_DIR, kind)
  return readdirSync(dir).filter(name => name.endsWith('.facts')).sort().map(name => join(dir, name))
}
