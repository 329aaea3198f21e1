import { isFailing, KERNEL_TROUBLE_FLAGS, type Flag, type Status, type Summary } from '../../ingest/vocabulary.ts'

/**
 * The verdict rules, decided once: what a comparison of two versions calls each test, which of
 * those calls fail a gate, and how a pass rate is counted. The compare API, `ksft gate` and
 * `ksft compare`, summary.txt and the dashboard all read them from here; nothing else decides.
 * Dependency-free, so that the web client bundles it as it is.
 */

/**
 * Trouble that is a result of its own, whatever the test's status says: what the kernel printed
 * while the test ran (WARNING, BUG, Oops, panic, RCU stall, a call trace such as a lockdep splat's
 * or a hung task's), and an `ok` after a crash or a failed assertion.
 */
export const TROUBLE_FLAGS: readonly Flag[] = [...KERNEL_TROUBLE_FLAGS, 'false_pass']

export function troubleIn (flags: Iterable<Flag>): Flag[] {
  const seen = new Set(flags)
  return TROUBLE_FLAGS.filter(flag => seen.has(flag))
}

/**
 * The compare buckets, in the order a reader wants them: what fails a gate by default first. Each
 * (test or subtest, machine) lands in exactly one, by the precedence of `bucketOf`.
 */
export const COMPARE_BUCKETS = [
  'regression', 'new_failure', 'not_run', 'new_kernel_trouble', 'infrastructure', 'known',
  'fixed', 'still_failing', 'still_kernel_trouble', 'flaky', 'new', 'missing',
] as const
export type CompareBucket = (typeof COMPARE_BUCKETS)[number]
export type BucketOrUnchanged = CompareBucket | 'unchanged'

export const BUCKET_DESCRIPTIONS: Record<BucketOrUnchanged, string> = {
  regression: 'did not fail in base (pass, xfail or skip), fails in head (fail, xpass, timeout or error) on the same machine',
  new_failure: 'absent in base, fails in head',
  not_run: "present in base, absent in head because the head's runs on that machine stopped early (a panic, a hang, a cut log): a failing outcome",
  new_kernel_trouble: 'the head shows kernel trouble (WARNING, BUG, Oops, panic, RCU stall, call trace) or a false pass that the base did not, whatever the statuses',
  infrastructure: 'would be a failing bucket, but every failing result in head says the harness or the lab failed, not the kernel (a command not found, a network namespace not created, a test not built): see infrastructureEvidence',
  known: 'would be a failing bucket, but every failing or troubled result in head matches an active known issue; the entry lists the issues and the bucket it would have had',
  fixed: 'failed in base, no longer fails in head',
  still_failing: 'fails on both sides',
  still_kernel_trouble: 'the same statuses on both sides, with kernel trouble or a false pass on both',
  flaky: 'runs of the same version on the same machine disagree (some pass, some fail) on one side',
  new: 'absent in base, does not fail in head',
  missing: 'present in base, absent in head although a head run on that machine finished: informational',
  unchanged: 'present on both sides with nothing to report',
}

/** What `ksft gate` fails on unless `--fail-on` says otherwise. */
export const DEFAULT_GATE_BUCKETS: readonly CompareBucket[] = ['regression', 'new_failure', 'not_run', 'new_kernel_trouble']

/**
 * A cell (a case on one machine in one version, over its runs) as compare sees it: did some result
 * pass, did some fail, did some show trouble. PASSED | FAILED is a cell whose runs disagree.
 */
export const PASSED = 1
export const FAILED = 2
export const TROUBLED = 4
export const MIXED = PASSED | FAILED
/** A case the side has no result for. */
export const ABSENT = -1

/**
 * The bucket of one case on one machine, from its base and head cells. `headFinished` says whether
 * some head run on that machine finished: only then is a case the head lacks merely `missing`.
 */
export function bucketOf (base: number, head: number, headFinished: boolean): BucketOrUnchanged {
  if (head === ABSENT) return headFinished ? 'missing' : 'not_run'
  const headFailed = (head & FAILED) !== 0
  const headTrouble = (head & TROUBLED) !== 0
  if (base === ABSENT) {
    if (headFailed) return 'new_failure'
    return headTrouble ? 'new_kernel_trouble' : 'new'
  }
  const baseFailed = (base & FAILED) !== 0
  const newTrouble = headTrouble && (base & TROUBLED) === 0
  if ((base & MIXED) === MIXED || (head & MIXED) === MIXED) return newTrouble ? 'new_kernel_trouble' : 'flaky'
  if (headFailed && !baseFailed) return 'regression'
  if (newTrouble) return 'new_kernel_trouble'
  if (headFailed) return 'still_failing'
  if (baseFailed) return 'fixed'
  if (headTrouble) return 'still_kernel_trouble'
  return 'unchanged'
}

/**
 * Buckets that triage can take an entry out of: a known issue or infrastructure evidence explains
 * what the head shows. `not_run` stays: nothing ran, so nothing was matched.
 */
export const TRIAGED_BUCKETS: readonly BucketOrUnchanged[] = [
  'regression', 'new_failure', 'new_kernel_trouble', 'still_failing', 'still_kernel_trouble', 'flaky',
]

/**
 * What triage knows of a head cell (a test on one machine in one version, over its runs): its
 * failing and troubled results, how many of each an active known issue matched, and how many
 * failing ones show infrastructure evidence.
 */
export interface CellTriage {
  failing: number
  trouble: number
  infrastructure: number
  /** Results an active known issue matched (failing or troubled). */
  known: number
  knownFailing: number
  /** Troubled results matched by an issue that claims kernel trouble (IssueMatcher.kernelTrouble). */
  knownTroubled: number
}

/**
 * The bucket an entry gets once triage is applied. Known first (a person decided): every failing and
 * every troubled result matched. Then infrastructure: every failing result shows the evidence and
 * the kernel showed no trouble (trouble is the kernel's, whatever the harness did).
 */
export function triagedBucket (bucket: BucketOrUnchanged, triage: CellTriage | undefined): BucketOrUnchanged {
  if (triage === undefined || triage.failing + triage.trouble === 0 || !TRIAGED_BUCKETS.includes(bucket)) return bucket
  if (triage.knownFailing === triage.failing && triage.knownTroubled === triage.trouble) return 'known'
  if (triage.failing > 0 && triage.infrastructure === triage.failing && triage.trouble === 0) return 'infrastructure'
  return bucket
}

/**
 * Evidence that a failure is the harness's or the lab's, not the kernel's: the shell could not find
 * or run a command, the runner could not make a network namespace, the test was never built. Read
 * from what every stored result has (status, exit code, reason), so that old runs read the same.
 * Null when the evidence is not there: a failure is the kernel's until shown otherwise.
 */
export function infrastructureEvidence (result: { status: Status, exitCode: number | null, reason: string | null }): string | null {
  if (!isFailing(result.status)) return null
  if (result.exitCode === 127) return 'exit code 127: the shell did not find a command'
  if (result.exitCode === 126) return 'exit code 126: the shell found a command it could not run'
  const reason = result.reason?.split('\n', 1)[0]?.trim() ?? ''
  if (reason === '') return null
  for (const [pattern, evidence] of INFRASTRUCTURE_REASONS) if (pattern.test(reason)) return evidence
  return null
}

const INFRASTRUCTURE_REASONS: ReadonlyArray<readonly [RegExp, string]> = [
  // `./run.sh: line 3: ./ion_test.sh: not found` (dash), `foo: command not found` (bash)
  [/:\s(?:command )?not found$/, 'the shell did not find a command'],
  // the shell's own words when it cannot run a file: `/bin/sh: 1: ./t: Permission denied`
  [/^\S+:(?: line)? \d+: \S+: (?:Permission denied|No such file or directory|Exec format error)$/, 'the shell could not run a file'],
  // net selftests' `Create NS failed`, the runner's `-n` mode: `setting the network namespace "x" failed`
  [/Create NS failed|setting the network namespace .* failed|Cannot (?:create|open) (?:a )?network namespace/i, 'the harness could not set up a network namespace'],
  // run_kselftest.sh for a test that was not built: `Warning: file memfd_test is missing!`
  [/^Warning: file \S+ is missing!$/, 'the test was not built (the runner found no file to run)'],
]

/** A bucket's rank for headline counts: a test on several machines counts once, in its first bucket. */
export function bucketRank (bucket: BucketOrUnchanged): number {
  return bucket === 'unchanged' ? COMPARE_BUCKETS.length : COMPARE_BUCKETS.indexOf(bucket)
}

/**
 * The pass rate of a version (or run): what passed among what should have run. Skips are left out;
 * tests a plan promised and that never ran count as not passed, so that a run that stopped early
 * can never rate better than one that finished. Rounded to 4 decimals; null when nothing ran.
 */
export function passRate (summary: Summary, notRun: number): number | null {
  const ran = summary.total - summary.skip + notRun
  return ran === 0 ? null : Math.round((summary.pass + summary.xfail) / ran * 10_000) / 10_000
}

export const PASS_RATE_RULE = '(pass + xfail) / (total - skip + notRun), rounded to 4 decimals; null when nothing ran. notRun counts the tests a plan promised that never arrived, so a run that stopped early never rates better than a whole one'

/**
 * The first line of a reason, for a line of plain text: cut at a word boundary with an ellipsis
 * when longer than `max` characters, never in the middle of a word.
 */
export function reasonLine (reason: string | null, max = 120): string | null {
  if (reason === null) return null
  const first = reason.split('\n', 1)[0]!.trim()
  if (first.length <= max) return first
  const cut = first.lastIndexOf(' ', max - 1)
  return `${(cut > max / 2 ? first.slice(0, cut) : first.slice(0, max - 1)).trimEnd()}…`
}

/**
 * Untrusted text (test names, reasons, machine names) for a terminal or a mail: control characters
 * and terminal escapes are shown as `^[`-style text instead of acting on the reader's terminal.
 */
export function plainText (text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ch => {
    const code = ch.charCodeAt(0)
    return code < 0x20 ? `^${String.fromCharCode(code + 0x40)}` : code === 0x7f ? '^?' : `\\x${code.toString(16)}`
  })
}

/** Why nothing was compared, naming the machines that did run each version. */
export function notComparable (page: { baseMachines: string[], headMachines: string[] }, baseLabel: string, headLabel: string, machine: string | null): string {
  const ranOn = (label: string, machines: string[]) => machines.length === 0 ? `no machine ran ${label}` : `${label} ran on ${machines.map(plainText).join(', ')}`
  if (machine !== null) {
    const lacking = page.headMachines.includes(machine) ? baseLabel : headLabel
    return `no ${lacking} run on ${plainText(machine)} (${ranOn(lacking, lacking === baseLabel ? page.baseMachines : page.headMachines)})`
  }
  return `no machine ran both ${baseLabel} and ${headLabel} (${ranOn(baseLabel, page.baseMachines)}; ${ranOn(headLabel, page.headMachines)})`
}

/** What an entry's "why" line is made from: each side's status, reason, exit code and timeout. */
export interface WhySide {
  status: Status | null
  reason: string | null
  exitCode: number | null
  timeoutSeconds: number | null
}

/** A side's own explanation: its reason, else what its status and exit code say. */
function sideWhy (side: WhySide): string | null {
  if (side.reason !== null) return side.reason
  if (side.status === 'timeout') return side.timeoutSeconds === null ? 'timed out' : `timed out after ${side.timeoutSeconds} s`
  if (side.exitCode !== null && side.status !== null && isFailing(side.status)) return `exit code ${side.exitCode}`
  return null
}

/**
 * The first line of why an entry is what it is, as every output prints it: the head's reason;
 * else, when the base failed or the head never ran, the base's. A skip's requirement in base never
 * explains a failure in head.
 */
export function entryWhy (entry: { bucket: CompareBucket, base: WhySide, head: WhySide }): string | null {
  const head = sideWhy(entry.head)
  if (head !== null) return reasonLine(head)
  const baseFailed = entry.base.status !== null && isFailing(entry.base.status)
  return baseFailed || entry.bucket === 'not_run' ? reasonLine(sideWhy(entry.base)) : null
}

/** What triage says of an entry, as the compare API gives it. */
export interface TriageFacts {
  bucket: CompareBucket
  triagedFrom: CompareBucket | null
  knownIssues: ReadonlyArray<{ id: number, title: string, url: string | null }>
  infrastructure: string | null
  perhapsFixed: boolean
}

/**
 * One line on triage for every output (gate, compare, summary.txt, the dashboard): which known
 * issues explain the entry and what it would have been without them, the infrastructure evidence,
 * or a fix that a known issue may share. Null when triage has nothing to say.
 */
export function triageNote (entry: TriageFacts): string | null {
  const issues = entry.knownIssues.map(issue => `known issue #${issue.id} "${issue.title}"${issue.url === null ? '' : ` ${issue.url}`}`).join('; ')
  const wouldBe = entry.triagedFrom === null ? '' : ` (would be ${entry.triagedFrom.replace(/_/g, ' ')})`
  if (entry.bucket === 'known') return `${issues}${wouldBe}`
  if (entry.bucket === 'infrastructure') return `infrastructure: ${entry.infrastructure ?? 'the harness or the lab failed'}${wouldBe}`
  if (entry.perhapsFixed) return `perhaps fixed: ${issues} matched the base`
  if (issues !== '') return `partly explained by ${issues}`
  return null
}
