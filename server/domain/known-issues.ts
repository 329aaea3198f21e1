import { FAILING_STATUSES, type Status } from '../../ingest/vocabulary.ts'

/**
 * Known issues: a failure a lab has triaged once (a host's firmware, a missing helper binary, a
 * bug already reported upstream), recorded with a matcher and a scope so that every stored and
 * future result it explains is tied to it. A matched result keeps its real status; the verdict
 * (queries/verdict.ts) moves it out of the buckets that blame the series. The rules of what
 * matches are in domain/known-issue-matching.ts (server only); this module is the vocabulary, once
 * and dependency-free: the server, the CLI and the web client import it.
 * Modelled on SQUAD's KnownIssue (a test-name glob scoped to environments, `intermittent`) and
 * KCIDB's issues (a culprit: code, tool or harness).
 */

/** Whose fault the failure is, in KCIDB's terms (code = kernel, tool = test, harness = infrastructure). */
export const CULPRITS = ['kernel', 'test', 'infrastructure', 'unknown'] as const
export type Culprit = (typeof CULPRITS)[number]

/** What an audited change of an issue did. */
export const AUDIT_ACTIONS = ['create', 'edit', 'resolve', 'reopen'] as const
export type AuditAction = (typeof AUDIT_ACTIONS)[number]

/**
 * How a test or subtest is written in a known issue's glob and on the issues page: the collection,
 * the test and each subtest joined by `/` (`kvm/cpuid_test`, `memfd/memfd_test/sub`). Collections and
 * test names may hold `/` themselves (`net/forwarding`, `x86_64/cpuid_test`); a glob's `*` crosses
 * them, so that ambiguity never changes what a glob matches.
 */
export function testPathOf (collection: string, test: string, subtests: readonly string[] = []): string {
  return [collection, test, ...subtests].join('/')
}

/** A result's names (collection, test, subtests) as one key, where matches are looked up by name. */
export function namesKey (names: readonly string[]): string {
  return JSON.stringify(names)
}

export interface IssueMatcher {
  /** Glob on the test path: `*` any run of characters, `?` one. Matches a test and its subtests. */
  testGlob: string
  /** A regular expression the result's reason must contain a match of. */
  reasonRegex: string | null
  /** A regular expression one of the result's log lines must contain a match of. */
  logRegex: string | null
  exitCode: number | null
  /** Statuses the issue is about; empty for any failing status. */
  statuses: Status[]
  /**
   * Whether the issue also explains kernel trouble (a WARNING, BUG, Oops... or a false pass) in the
   * results it matches. Off by default: an issue filed for a test's failure must not hide a new
   * WARNING in the same test, which is the series' to answer for.
   */
  kernelTrouble: boolean
}

export interface IssueScope {
  /** Series ids; empty for every series. */
  series: number[]
  /** Machine names; empty for every machine. */
  machines: string[]
  arch: string | null
  /** CPU flags the machine must all have (`sev_snp`, `tdx`). */
  cpuFlags: string[]
  /** Glob on the kernel release the run reported (`6.12.*`). */
  kernelGlob: string | null
  /** Version labels bounding the versions matched, both included (`v3`, `v7`); null for no bound. */
  versionsFrom: string | null
  versionsTo: string | null
}

export interface IssueDefinition {
  title: string
  url: string | null
  culprit: Culprit
  intermittent: boolean
  matcher: IssueMatcher
  scope: IssueScope
}

/** One result as a matcher sees it, with where it ran. */
export interface MatchCandidate {
  path: string
  /** The path, then its test's and each parent subtest's (testPathsOf): an issue on a test covers its subtests. */
  ancestors: readonly string[]
  status: Status
  /** Kernel trouble or a false pass on the result (see verdict.ts TROUBLE_FLAGS). */
  troubled: boolean
  reason: string | null
  exitCode: number | null
  seriesId: number
  /** versionSortKey of the version's label, comparable with the scope's bounds. */
  versionSortKey: number
  machine: string
  arch: string | null
  cpuFlags: readonly string[]
  kernel: string | null
  /** The result's log lines, read only when the issue has a log regex. */
  logLines: () => readonly string[]
}

/**
 * A result's path and its ancestors' (`kvm/t/a/b`, `kvm/t/a`, `kvm/t`), built from the names, so
 * that a subtest named `dev/zero` is one level, not two.
 */
export function testPathsOf (collection: string, test: string, subtests: readonly string[]): string[] {
  return Array.from({ length: subtests.length + 1 }, (_, i) => testPathOf(collection, test, subtests.slice(0, subtests.length - i)))
}

/** A result worth matching: it failed, or the kernel showed trouble while it ran. */
export function needsTriage (status: Status, troubled: boolean): boolean {
  return troubled || FAILING_STATUSES.includes(status)
}

export const LIMITS = { title: 300, url: 2048, glob: 500, regex: 300, listItems: 64, name: 128 } as const

