import type { ExportedRun } from './kcidb.ts'
import { LineWindow, tailExcerpt } from './log-excerpt.ts'
import { joinPath, pathedResults, type PathedResult } from './test-paths.ts'

/**
 * A run as JUnit XML, the shape GitLab, Jenkins and most CI report viewers read: one <testsuite>
 * per collection, a <testcase> per test with its subtests as further test cases whose classname is
 * the path of their parent, <failure>/<error>/<skipped> with the reason, <system-out> with the
 * result's own lines of the raw log. Elements and attributes follow the order and names of the
 * Jenkins junit-10.xsd. Written by hand: the only XML library here (fast-xml-parser) is a
 * development dependency, and what the format needs besides escaping is a few lines.
 */

export interface JunitOptions {
  /** The raw log's URL, named in cut outputs. */
  logUrl?: string
}

/** Characters of a result's own lines per <system-out>; the rest stays a link away in the raw log. */
export const SYSTEM_OUT_MAX = 65536

type Outcome =
  | { element: 'failure' | 'error', type: string, message: string, detail: string }
  | { element: 'skipped', message: string }
  | null

export function buildJunitXml (exported: ExportedRun, options: JunitOptions = {}): string {
  let xml = ''
  for (const piece of junitXmlPieces(exported, options)) xml += piece
  return xml
}

/**
 * The JUnit XML of a run a line at a time, so that a run of a million results is sent as it is
 * written rather than held whole (server/services/export-worker.ts). The counts that the root and
 * each suite carry are taken in a first pass over the results, which makes no text.
 */
export function * junitXmlPieces ({ run, tests, lines }: ExportedRun, options: JunitOptions = {}): Generator<string> {
  const window = new LineWindow(lines)
  const results = pathedResults(tests)
  const suites = new Map<string, { members: PathedResult[], counts: { tests: number, failures: number, errors: number, skipped: number } }>()
  const totals = { tests: 0, failures: 0, errors: 0 }
  for (const result of results) {
    let suite = suites.get(result.test.collection)
    if (suite === undefined) {
      suite = { members: [], counts: { tests: 0, failures: 0, errors: 0, skipped: 0 } }
      suites.set(result.test.collection, suite)
    }
    suite.members.push(result)
    const element = outcomeOf(result)?.element
    suite.counts.tests++
    totals.tests++
    if (element === 'failure') { suite.counts.failures++; totals.failures++ }
    if (element === 'error') { suite.counts.errors++; totals.errors++ }
    if (element === 'skipped') suite.counts.skipped++
  }

  const logName = options.logUrl === undefined ? undefined : `the raw log at ${options.logUrl}`
  const timestamp = run.startedAt === null ? null : run.startedAt.slice(0, 19)
  const properties: Array<[string, string | null]> = [
    ['ksft.run', String(run.id)],
    ['ksft.series', run.series.name],
    ['ksft.version', run.version.label],
    ['ksft.machine', run.machine.name],
    ['ksft.arch', run.arch ?? run.machine.arch],
    ['ksft.cpu', run.cpu ?? run.machine.cpu],
    ['ksft.flags', (run.flags.length > 0 ? run.flags : run.machine.flags).join(',') || null],
    ['ksft.kernel', run.kernel],
    ['ksft.commit', run.commit],
    ['ksft.job_url', run.jobUrl],
  ]

  yield '<?xml version="1.0" encoding="UTF-8"?>\n'
  const title = `kselftest run ${run.id}: ${run.series.name} ${run.version.label} on ${run.machine.name}`
  // junit-10.xsd has no skipped count on the root; each <testsuite> carries its own
  yield `<testsuites${attrs({ name: title, tests: totals.tests, failures: totals.failures, errors: totals.errors })}>\n`
  let suiteId = 0
  for (const [collection, { members, counts }] of suites) {
    yield [
      `  <testsuite${attrs({ name: collection, tests: counts.tests, failures: counts.failures, errors: counts.errors, skipped: counts.skipped, timestamp, hostname: run.machine.name, id: suiteId++, package: joinPath([members[0]!.components[0]!]) })}>`,
      '    <properties>',
      ...properties.filter(([, value]) => value !== null).map(([name, value]) => `      <property${attrs({ name, value })}/>`),
      '    </properties>',
    ].join('\n') + '\n'
    for (const result of members) {
      const record = result.subtest ?? result.test
      const outcome = outcomeOf(result)
      const classname = joinPath(result.components.slice(0, -1))
      const name = result.names[result.names.length - 1]!
      const body: string[] = []
      if (outcome?.element === 'skipped') body.push(`      <skipped${attrs({ message: outcome.message })}/>`)
      else if (outcome) body.push(`      <${outcome.element}${attrs({ message: outcome.message, type: outcome.type })}>${text(outcome.detail)}</${outcome.element}>`)
      const output = tailExcerpt(window, record.lines, SYSTEM_OUT_MAX, logName)
      body.push(`      <system-out>${text(output)}</system-out>`)
      const flags = result.subtest === null ? result.test.flags : []
      if (flags.length > 0) body.push(`      <system-err>${text(`ksft flags: ${flags.join(', ')}`)}</system-err>`)
      yield `    <testcase${attrs({ name, classname })}>\n${body.join('\n')}\n    </testcase>\n`
    }
    yield '  </testsuite>\n'
  }
  yield '</testsuites>\n'
}

function outcomeOf (result: PathedResult): Outcome {
  const record = result.subtest ?? result.test
  const reason = record.reason
  switch (record.status) {
    case 'pass':
      return null
    case 'fail': {
      const exit = result.subtest === null && result.test.exitCode !== null ? `exit code ${result.test.exitCode}` : null
      const message = reason ?? exit ?? 'failed'
      return { element: 'failure', type: 'fail', message: firstLine(message), detail: [reason, exit].filter(Boolean).join('\n') || 'failed' }
    }
    case 'xpass':
      return { element: 'failure', type: 'xpass', message: 'passed, but was expected to fail', detail: reason ?? 'passed, but was expected to fail' }
    case 'timeout': {
      const seconds = result.subtest === null ? result.test.timeoutSeconds : null
      const message = seconds === null ? 'timed out' : `timed out after ${seconds} seconds`
      return { element: 'error', type: 'timeout', message, detail: reason ?? message }
    }
    case 'error':
      return { element: 'error', type: 'error', message: firstLine(reason ?? 'no result'), detail: reason ?? 'no result' }
    case 'skip':
    case 'xfail':
      // JUnit has no expected failure; pytest's JUnit writer reports one as skipped, and report
      // viewers show it as such, so the same is done here with the word kept in the message
      return { element: 'skipped', message: record.status === 'xfail' ? `expected failure${reason ? `: ${reason}` : ''}` : (reason ?? 'skipped') }
  }
}

function firstLine (text: string): string {
  return text.split('\n', 1)[0]!
}

/** Characters XML 1.0 cannot carry at all, even escaped. */
// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/**
 * Test names and output are untrusted. Control characters become caret notation (`^[` for the
 * ESC of a colour code, as `cat -v` prints them) so a reader still sees that something was there;
 * non-characters and lone surrogates become U+FFFD.
 */
function xmlSafe (value: string): string {
  return value.replace(NOT_XML, (ch) => {
    const code = ch.charCodeAt(0)
    return code < 0x20 ? `^${String.fromCharCode(code + 0x40)}` : '\ufffd'
  })
}

/** Text content; a carriage return is kept as a reference, which parsers would otherwise turn into a newline. */
function text (value: string): string {
  return xmlSafe(value).replace(/[&<>\r]/g, ch => ATTRIBUTE_ESCAPES[ch]!)
}

/** Attribute values keep their newlines and tabs as character references, which parsers would otherwise fold into spaces. */
function escapeAttribute (value: string): string {
  return xmlSafe(value).replace(/[&<>"'\n\r\t]/g, ch => ATTRIBUTE_ESCAPES[ch]!)
}

const ATTRIBUTE_ESCAPES: Record<string, string> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\n': '&#10;', '\r': '&#13;', '\t': '&#9;',
}

function attrs (values: Record<string, string | number | null>): string {
  let out = ''
  for (const [key, value] of Object.entries(values)) {
    if (value === null) continue
    out += ` ${key}="${escapeAttribute(String(value))}"`
  }
  return out
}
