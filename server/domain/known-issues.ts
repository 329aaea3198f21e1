import { FAILING_STATUSES, type Status } from '../../ingest/vocabulary.ts'

/**
 * Known issues: a failure a lab has triaged once (a host's firmware, a missing helper binary, a
 * bug already reported upstream), recorded with a matcher and a scope so that every stored and
 * future result it explains is tied to it. A matched result keeps its real status; the verdict
 * (queries/verdict.ts) moves it out of the buckets that blame the series. The rules of what
 * matches are here, once, and dependency-free: the server, the CLI and the web client import them.
 * Modelled on SQUAD's KnownIssue (a test-name glob scoped to environments, `intermittent`) and
 * KCIDB's issues (a culprit: code, tool or harness).
 */

/** Whose fault the failure is, in KCIDB's terms (code = kernel, tool = test, harness = infrastructure). */
export const CULPRITS = ['kernel', 'test', 'infrastructure', 'unknown'] as const
export type Culprit = (typeof CULPRITS)[number]

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
  /** Failing statuses the issue is about; empty for any failing status or kernel trouble. */
  statuses: Status[]
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

/** A result worth matching: it failed, or the kernel showed trouble while it ran. */
export function needsTriage (status: Status, troubled: boolean): boolean {
  return troubled || FAILING_STATUSES.includes(status)
}

export const LIMITS = { title: 300, url: 2048, glob: 500, regex: 300, listItems: 64, name: 128 } as const

/**
 * A user's regular expression runs on every failing result the server stores: one that can take
 * exponential time (a quantified group that itself ends in a quantifier, `(a+)+`, `(\w*)*`) or a
 * back-reference is refused, and so is one longer than LIMITS.regex.
 */
export function regexProblem (source: string): string | null {
  if (source.length > LIMITS.regex) return `is longer than ${LIMITS.regex} characters`
  try {
    // eslint-disable-next-line no-new
    new RegExp(source, 'u')
  } catch (err) {
    return `is not a valid regular expression (${(err as Error).message})`
  }
  if (/\\[1-9]|\\k</.test(source)) return 'has a back-reference, which can take exponential time'
  if (/[*+}?]\)[*+{?]/.test(source.replace(/\\./g, ''))) return 'repeats a group that ends in a repetition, which can take exponential time'
  return null
}

export function globProblem (glob: string): string | null {
  if (glob.trim() === '') return 'is empty'
  if (glob.length > LIMITS.glob) return `is longer than ${LIMITS.glob} characters`
  return null
}

/** A glob as an anchored regular expression: `*` any run of characters, `?` one, the rest literal. */
export function globToRegExp (glob: string): RegExp {
  let source = ''
  for (const ch of glob) {
    if (ch === '*') source += '.*'
    else if (ch === '?') source += '.'
    else source += ch.replace(/[.+^${}()|[\]\\/-]/g, '\\$&')
  }
  return new RegExp(`^${source}$`, 's')
}

/** The part of a glob before its first wildcard: what an index can look it up by. */
export function literalPrefix (glob: string): string {
  const at = glob.search(/[*?]/)
  return at === -1 ? glob : glob.slice(0, at)
}

/**
 * An issue ready to match. Its regular expressions are compiled on first use: with ten thousand
 * issues, a result meets only the few the index picks, and compiling all of them at every change of
 * an issue would cost more than matching a whole upload.
 */
export class CompiledIssue {
  readonly glob: string
  /** The glob without wildcards, when it has none: a test path compared with ===. */
  readonly exactPath: string | null
  readonly exitCode: number | null
  readonly statuses: ReadonlySet<Status>
  readonly series: ReadonlySet<number>
  readonly machines: ReadonlySet<string>
  readonly arch: string | null
  readonly cpuFlags: readonly string[]
  readonly from: number
  readonly to: number
  private compiled: { path: RegExp, reason: RegExp | null, log: RegExp | null, kernel: RegExp | null } | null = null

  constructor (readonly id: number, private readonly definition: IssueDefinition, sortKeyOf: (label: string) => number) {
    const { matcher, scope } = definition
    this.glob = matcher.testGlob
    this.exactPath = /[*?]/.test(matcher.testGlob) ? null : matcher.testGlob
    this.exitCode = matcher.exitCode
    this.statuses = new Set(matcher.statuses)
    this.series = new Set(scope.series)
    this.machines = new Set(scope.machines)
    this.arch = scope.arch
    this.cpuFlags = scope.cpuFlags
    this.from = scope.versionsFrom === null ? -Infinity : sortKeyOf(scope.versionsFrom)
    this.to = scope.versionsTo === null ? Infinity : sortKeyOf(scope.versionsTo)
  }

  get regex () {
    if (this.compiled === null) {
      const { matcher, scope } = this.definition
      this.compiled = {
        path: globToRegExp(matcher.testGlob),
        reason: matcher.reasonRegex === null ? null : new RegExp(matcher.reasonRegex, 'u'),
        log: matcher.logRegex === null ? null : new RegExp(matcher.logRegex, 'u'),
        kernel: scope.kernelGlob === null ? null : globToRegExp(scope.kernelGlob),
      }
    }
    return this.compiled
  }
}

export function compileIssue (id: number, definition: IssueDefinition, sortKeyOf: (label: string) => number): CompiledIssue {
  return new CompiledIssue(id, definition, sortKeyOf)
}

/** The test path and each of its ancestors (`kvm/t/a/b`, `kvm/t/a`, `kvm/t`): an issue on a test covers its subtests. */
export function ancestorPaths (path: string, subtestDepth: number): string[] {
  if (subtestDepth === 0) return [path]
  const parts = path.split('/')
  return Array.from({ length: subtestDepth + 1 }, (_, i) => parts.slice(0, parts.length - i).join('/'))
}

/** Whether the issue's glob matches the path or one of its ancestors (ancestorPaths). */
export function pathMatches (issue: CompiledIssue, ancestors: readonly string[]): boolean {
  return ancestors.some(path => issue.exactPath === null ? issue.regex.path.test(path) : issue.exactPath === path)
}

export function issueMatches (issue: CompiledIssue, candidate: MatchCandidate, ancestors: readonly string[] = [candidate.path]): boolean {
  return inScope(issue, candidate) && pathMatches(issue, ancestors) && evidenceMatches(issue, candidate)
}

/** Everything but the path and the text: set lookups and comparisons, the cheap part of a match. */
function inScope (issue: CompiledIssue, candidate: MatchCandidate): boolean {
  if (!needsTriage(candidate.status, candidate.troubled)) return false
  if (issue.statuses.size > 0 && !issue.statuses.has(candidate.status)) return false
  if (issue.series.size > 0 && !issue.series.has(candidate.seriesId)) return false
  if (issue.machines.size > 0 && !issue.machines.has(candidate.machine)) return false
  if (issue.arch !== null && candidate.arch !== issue.arch) return false
  for (const flag of issue.cpuFlags) if (!candidate.cpuFlags.includes(flag)) return false
  if (candidate.versionSortKey < issue.from || candidate.versionSortKey > issue.to) return false
  if (issue.exitCode !== null && candidate.exitCode !== issue.exitCode) return false
  const { kernel } = issue.regex
  return kernel === null || (candidate.kernel !== null && kernel.test(candidate.kernel))
}

/** The reason and log regexes, last: the log is read from the store only when everything else matched. */
function evidenceMatches (issue: CompiledIssue, candidate: MatchCandidate): boolean {
  const { reason, log } = issue.regex
  if (reason !== null && (candidate.reason === null || !reason.test(candidate.reason))) return false
  return log === null || candidate.logLines().some(line => log.test(line))
}

/**
 * The active issues, indexed by their globs' literal start (the text before the first wildcard), so
 * that a result is tried only against issues whose glob could match its path: a glob can match a
 * path (or an ancestor, itself a prefix of the path) only if the path starts with that literal.
 * Ten thousand issues cost a few dozen map lookups per failing result.
 */
export class IssueIndex {
  private readonly exact = new Map<string, CompiledIssue[]>()
  private readonly byPrefix = new Map<string, CompiledIssue[]>()
  /** The lengths of the literal prefixes present, ascending: the only ones worth looking up. */
  private readonly prefixLengths: number[]
  readonly size: number

  constructor (issues: readonly CompiledIssue[]) {
    this.size = issues.length
    for (const issue of issues) {
      if (issue.exactPath !== null) push(this.exact, issue.exactPath, issue)
      else push(this.byPrefix, literalPrefix(issue.glob), issue)
    }
    this.prefixLengths = [...new Set([...this.byPrefix.keys()].map(prefix => prefix.length))].sort((a, b) => a - b)
  }

  /** The ids of the issues that match, in id order. `subtestDepth`: how many subtest names end the path. */
  match (candidate: MatchCandidate, subtestDepth: number): number[] {
    if (this.size === 0 || !needsTriage(candidate.status, candidate.troubled)) return []
    const ancestors = ancestorPaths(candidate.path, subtestDepth)
    const tried: CompiledIssue[] = []
    for (const path of ancestors) for (const issue of this.exact.get(path) ?? []) tried.push(issue)
    for (const length of this.prefixLengths) {
      if (length > candidate.path.length) break
      for (const issue of this.byPrefix.get(candidate.path.slice(0, length)) ?? []) tried.push(issue)
    }
    // many issues share a glob (one test's issues on several machines, a collection's prefix with
    // several reasons): its path is tried once per result
    const onPath = new Map<string, boolean>()
    const matched: number[] = []
    for (const issue of tried) {
      if (!inScope(issue, candidate)) continue
      let pathMatched = onPath.get(issue.glob)
      if (pathMatched === undefined) onPath.set(issue.glob, pathMatched = pathMatches(issue, ancestors))
      if (pathMatched && evidenceMatches(issue, candidate)) matched.push(issue.id)
    }
    return [...new Set(matched)].sort((a, b) => a - b)
  }
}

function push<K, V> (map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list) list.push(value)
  else map.set(key, [value])
}
