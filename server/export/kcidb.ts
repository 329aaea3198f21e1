import type { Status, TestRecord } from '../../ingest/index.ts'
import { namesKey } from '../domain/known-issues.ts'
import type { MatchedIssue, RunExport, RunIssueMatches, RunView } from '../storage/rows.ts'
import {
  KCIDB_VERSION, LOG_EXCERPT_MAX, type KcidbBuild, type KcidbCheckout, type KcidbDocument, type KcidbIncident, type KcidbIssue, type KcidbStatus, type KcidbTest,
} from './kcidb-schema.ts'
import { LineWindow, tailExcerpt } from './log-excerpt.ts'
import { pathedResults } from './test-paths.ts'

/**
 * A KCIDB v5.3 I/O document from stored runs: a checkout per series version, a build per run, a
 * test per test and subtest. Pure: the runs, their results and a reader of their raw log lines
 * are handed in (server/export/run-source.ts reads them from the store).
 */

export type ExportedRun = RunExport

export interface KcidbOptions {
  origin: string
  /** The raw log's plain-text URL for a run, when the exporter knows where the server is. */
  logUrl?: (runId: number) => string
}

/**
 * KCIDB has no expected-failure or timeout words. The mapping keeps KCIDB's meaning of each status
 * ("the tested code is faulty" for FAIL, "the test could not tell" for ERROR), and `misc.ksft_status`
 * keeps kselftest's own word for anyone who needs it.
 */
export const KCIDB_STATUS_OF: Record<Status, KcidbStatus> = {
  pass: 'PASS',
  fail: 'FAIL',
  skip: 'SKIP',
  // the failure was expected and happened: the code is as correct as the test knows how to say
  xfail: 'PASS',
  // an expected failure went away: the code no longer behaves as its test was told it does, which
  // the project already counts as failing (ingest/vocabulary.ts FAILING_STATUSES), so a gate on
  // KCIDB data and `ksft gate` agree; an intended fix shows up here until the test is updated
  xpass: 'FAIL',
  // a timeout or a missing result line (the kernel died, the runner was killed) leaves the code's
  // state unknown, which is what ERROR says; MISS is for tests a harness never started
  timeout: 'ERROR',
  error: 'ERROR',
}

// ajv-formats' "email" in full mode, the strictest of the validators KCIDB users run
const EMAIL = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i
const FULL_SHA1 = /^[0-9a-f]{40}$/

export async function buildKcidbDocument (runs: Iterable<ExportedRun> | AsyncIterable<ExportedRun>, options: KcidbOptions): Promise<KcidbDocument> {
  const { origin } = options
  const checkouts = new Map<number, KcidbCheckout>()
  const builds: KcidbBuild[] = []
  const tests: KcidbTest[] = []
  const issues = new Map<number, KcidbIssue>()
  const incidents: KcidbIncident[] = []
  for await (const exported of runs) {
    const { run } = exported
    if (!checkouts.has(run.version.id)) checkouts.set(run.version.id, checkoutOf(run, origin))
    const build = buildOf(run, origin)
    builds.push(build)
    const triage = new IncidentCollector(exported.knownIssues, origin)
    for (const test of kcidbTestsOf(exported, build, options, triage)) tests.push(test)
    for (const issue of triage.issues()) issues.set(issue.misc.ksft_issue_id, issue)
    incidents.push(...triage.incidents)
  }
  return {
    version: { major: KCIDB_VERSION.major, minor: KCIDB_VERSION.minor },
    checkouts: [...checkouts.values()],
    builds,
    tests,
    ...(issues.size === 0 ? {} : { issues: [...issues.values()].sort((a, b) => a.misc.ksft_issue_id - b.misc.ksft_issue_id), incidents }),
  }
}

/**
 * KCIDB issues and incidents from a run's known-issue matches: an issue per known issue that
 * matched some test, an incident (present) per test it matched.
 */
class IncidentCollector {
  readonly incidents: KcidbIncident[] = []
  private readonly used = new Map<number, KcidbIssue>()
  private readonly byId: Map<number, MatchedIssue>

  constructor (private readonly known: RunIssueMatches | undefined, private readonly origin: string) {
    this.byId = new Map((known?.issues ?? []).map(issue => [issue.id, issue]))
  }

  /** Records the incidents of one exported test. */
  add (names: readonly string[], test: KcidbTest): void {
    for (const id of this.known?.byNames.get(namesKey(names)) ?? []) {
      const issue = this.byId.get(id)
      if (issue === undefined) continue
      const kcidb = this.used.get(id) ?? issueOf(issue, this.origin)
      this.used.set(id, kcidb)
      this.incidents.push({
        id: `${this.origin}:incident-${id}-${test.id.slice(this.origin.length + 1)}`,
        origin: this.origin,
        issue_id: kcidb.id,
        issue_version: kcidb.version,
        test_id: test.id,
        present: true,
      })
    }
  }

  issues (): KcidbIssue[] {
    return [...this.used.values()].sort((a, b) => a.misc.ksft_issue_id - b.misc.ksft_issue_id)
  }
}

function issueOf (issue: MatchedIssue, origin: string): KcidbIssue {
  const culprit = issue.culprit === 'unknown' ? undefined : { code: issue.culprit === 'kernel', tool: issue.culprit === 'test', harness: issue.culprit === 'infrastructure' }
  return {
    id: `${origin}:issue-${issue.id}`,
    version: issue.version,
    origin,
    ...(issue.url === null ? {} : { report_url: issue.url }),
    report_subject: clean(issue.title),
    ...(culprit === undefined ? {} : { culprit }),
    comment: clean(issue.title),
    misc: { ksft_issue_id: issue.id, test_glob: issue.testGlob, intermittent: issue.intermittent, active: issue.active },
  }
}

/**
 * One run's KCIDB document as JSON text, a test at a time: the same text as
 * `JSON.stringify(buildKcidbDocument([run]))`, without ever holding the whole document, so that a
 * run of a million results is sent as it is written (server/services/export-worker.ts).
 */
export function * kcidbRunPieces (exported: ExportedRun, options: KcidbOptions): Generator<string> {
  const { run } = exported
  const build = buildOf(run, options.origin)
  const head = JSON.stringify({
    version: { major: KCIDB_VERSION.major, minor: KCIDB_VERSION.minor },
    checkouts: [checkoutOf(run, options.origin)],
    builds: [build],
  })
  yield `${head.slice(0, -1)},"tests":[`
  let first = true
  const triage = new IncidentCollector(exported.knownIssues, options.origin)
  for (const test of kcidbTestsOf(exported, build, options, triage)) {
    yield `${first ? '' : ','}${JSON.stringify(test)}`
    first = false
  }
  const issues = triage.issues()
  yield issues.length === 0 ? ']}' : `],"issues":${JSON.stringify(issues)},"incidents":${JSON.stringify(triage.incidents)}}`
}

/** A KCIDB test per test and subtest of one run, in the run's order. */
function * kcidbTestsOf ({ run, tests: records, lines }: ExportedRun, build: KcidbBuild, options: KcidbOptions, triage: IncidentCollector): Generator<KcidbTest> {
  const { origin } = options
  const window = new LineWindow(lines)
  const environment = environmentOf(run)
  const logUrl = options.logUrl?.(run.id)
  for (const result of pathedResults(records)) {
    const record = result.subtest ?? result.test
    const test = result.subtest === null ? result.test : null
    const kcidb: KcidbTest = {
      id: `${build.id}:${result.path}`,
      origin,
      build_id: build.id,
      path: result.path,
      comment: clean(result.names.join(': ')),
      status: KCIDB_STATUS_OF[record.status],
      ...(logUrl === undefined ? {} : { log_url: logUrl }),
      log_excerpt: tailExcerpt(window, record.lines, LOG_EXCERPT_MAX),
      environment,
      misc: present({
        ksft_status: record.status,
        names: result.names.map(clean),
        reason: cleanOrNull(record.reason),
        exit_code: test?.exitCode,
        timeout_seconds: test?.timeoutSeconds,
        tap_number: test?.number,
        flags: test && test.flags.length > 0 ? test.flags : null,
        log_lines: [record.lines[0], record.lines[1]] as [number, number],
      }),
    }
    triage.add(result.names, kcidb)
    yield kcidb
  }
}

function checkoutOf (run: RunView, origin: string): KcidbCheckout {
  const { version, series } = run
  const messageId = version.messageId === null ? null : clean(version.messageId)
  const baseCommit = version.baseCommit
  return present({
    id: `${origin}:version-${version.id}`,
    origin,
    tree_name: version.treeName === null ? null : clean(version.treeName),
    git_repository_url: version.gitUrl,
    patchset_hash: version.patchsetHash,
    git_commit_hash: baseCommit !== null && FULL_SHA1.test(baseCommit) ? baseCommit : null,
    message_id: messageId !== null && EMAIL.test(messageId) ? messageId : null,
    comment: clean(`${series.name} ${version.label}`),
    misc: present({
      series: clean(series.name),
      series_id: series.id,
      version: clean(version.label),
      version_id: version.id,
      lore_url: messageId === null ? null : `https://lore.kernel.org/r/${encodeURIComponent(messageId)}`,
      base_commit: baseCommit !== null && !FULL_SHA1.test(baseCommit) ? baseCommit : null,
      message_id: messageId !== null && !EMAIL.test(messageId) ? messageId : null,
    }),
  })
}

function buildOf (run: RunView, origin: string): KcidbBuild {
  const uploadedArch = run.arch ?? run.machine.arch
  const architecture = uploadedArch === null ? null : kcidbArchitecture(uploadedArch)
  const kernel = run.kernel === null ? '' : ` (${run.kernel})`
  return present({
    id: `${origin}:run-${run.id}`,
    origin,
    checkout_id: `${origin}:version-${run.version.id}`,
    comment: clean(`kselftest run ${run.id} on ${run.machine.name}${kernel}`),
    start_time: run.startedAt,
    architecture,
    misc: present({
      ksft_run_id: run.id,
      machine: clean(run.machine.name),
      arch: uploadedArch !== null && uploadedArch !== architecture ? uploadedArch : null,
      kernel: cleanOrNull(run.kernel),
      commit: run.commit,
      job_url: run.jobUrl,
      uploaded_at: run.createdAt,
      log_sha256: run.contentSha256,
      log_lines: run.logLines,
      summary: run.summary,
      warnings: run.warnings.length > 0 ? run.warnings.map(clean) : null,
    }),
  })
}

/**
 * A run keeps its own copy of what its upload said about the machine; the machine row holds what
 * the latest upload said, used only where this run said nothing.
 */
function environmentOf (run: RunView): KcidbTest['environment'] {
  return {
    comment: clean(run.machine.name),
    misc: present({
      machine: clean(run.machine.name),
      cpu: cleanOrNull(run.cpu ?? run.machine.cpu),
      flags: run.flags.length > 0 ? run.flags : run.machine.flags,
      arch: run.arch ?? run.machine.arch,
      kernel: cleanOrNull(run.kernel),
    }),
  }
}

/** KCIDB architectures are `[a-z0-9_]*`: `x86-64` becomes `x86_64`, `ARM64` becomes `arm64`. */
export function kcidbArchitecture (arch: string): string {
  return arch.toLowerCase().replace(/[^a-z0-9_]/g, '_')
}

function clean (text: string): string {
  return text.replaceAll('\u0000', '')
}

function cleanOrNull (text: string | null): string | null {
  return text === null ? null : clean(text)
}

type Present<T> = { [K in keyof T as null extends T[K] ? never : undefined extends T[K] ? never : K]: T[K] } &
{ [K in keyof T as null extends T[K] ? K : undefined extends T[K] ? K : never]?: Exclude<T[K], null | undefined> }

/** The object without its null and undefined properties: KCIDB allows no null anywhere. */
function present<T extends Record<string, unknown>> (object: T): Present<T> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(object)) {
    if (value !== null && value !== undefined) out[key] = value
  }
  return out as Present<T>
}
