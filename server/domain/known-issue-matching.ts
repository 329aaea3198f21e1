import { setFlagsFromString } from 'node:v8'
import { FAILING_STATUSES, type Status } from '../../ingest/vocabulary.ts'
import { LIMITS, needsTriage, type IssueDefinition, type MatchCandidate } from './known-issues.ts'

/**
 * The matching rule of known issues (domain/known-issues.ts has the vocabulary): a user's globs and
 * regular expressions run on every failing result the server stores, inside ingest's transaction,
 * so none of them may take more than linear time. They run on V8's backtracking engine, which is
 * fast on the patterns people write (a plain `KVM_RUN failed` 37× faster than the alternative), and
 * V8 moves a match that backtracks too much to its linear-time engine: `(a|a)*b` over 5 000
 * characters costs milliseconds, not centuries. What the linear engine cannot run (back-references,
 * lookarounds) has no such way out and is refused when the issue is written. The flags must be on
 * before the first expression is compiled; they change nothing for the others.
 */
setFlagsFromString('--enable-experimental-regexp-engine')
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks')

/**
 * A reason regex as a test: most are plain text (`Requirement not met`, `KVM_RUN failed`), and a
 * substring search is the cheapest way to run one against every failing result of an upload.
 */
function textMatcher (source: string): { test: (text: string) => boolean } {
  if (/[\\^$.|?*+()[\]{}]/.test(source)) return userRegExp(source)
  return { test: text => text.includes(source) }
}

/** Compiles a user's pattern; throws when the linear-time engine could not take over from backtracking. */
function userRegExp (source: string, flags = ''): RegExp {
  new RegExp(source, `${flags}l`) // eslint-disable-line no-new
  return new RegExp(source, flags)
}

/** Why a user's regular expression is refused: too long, invalid, or not runnable in linear time. */
export function regexProblem (source: string): string | null {
  if (source.length > LIMITS.regex) return `is longer than ${LIMITS.regex} characters`
  try {
    new RegExp(source) // eslint-disable-line no-new
  } catch (err) {
    return `is not a valid regular expression (${(err as Error).message})`
  }
  try {
    userRegExp(source)
  } catch {
    return 'cannot be matched in linear time (back-references and lookarounds are refused)'
  }
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
  return userRegExp(`^${source}$`, 's')
}

/**
 * A glob as a test of a path. The globs people write are a path, a path then a star, or a star then
 * a name: string comparisons, with a regular expression only for the rest. A glob that starts with
 * a star is tried against every failing result of an upload.
 */
export function globMatcher (glob: string): (path: string) => boolean {
  const wild = (text: string) => /[*?]/.test(text)
  if (!wild(glob)) return path => path === glob
  const head = glob.slice(0, -1)
  const tail = glob.slice(1)
  const middle = glob.slice(1, -1)
  if (glob.endsWith('*') && !wild(head)) return path => path.startsWith(head)
  if (glob.startsWith('*') && !wild(tail)) return path => path.endsWith(tail)
  if (glob.length >= 2 && glob.startsWith('*') && glob.endsWith('*') && !wild(middle)) return path => path.includes(middle)
  const regex = globToRegExp(glob)
  return path => regex.test(path)
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
  readonly kernelTrouble: boolean
  readonly statuses: ReadonlySet<Status>
  readonly series: ReadonlySet<number>
  readonly machines: ReadonlySet<string>
  readonly arch: string | null
  readonly cpuFlags: readonly string[]
  readonly from: number
  readonly to: number
  readonly kernelGlob: string | null
  /** Whether a test path is one the glob names (globMatcher), made on first use. */
  private pathTest: ((path: string) => boolean) | null = null
  private compiled: { reason: { test: (text: string) => boolean } | null, log: RegExp | null, kernel: RegExp | null } | null = null

  constructor (readonly id: number, private readonly definition: IssueDefinition, sortKeyOf: (label: string) => number) {
    const { matcher, scope } = definition
    this.glob = matcher.testGlob
    this.exactPath = /[*?]/.test(matcher.testGlob) ? null : matcher.testGlob
    this.exitCode = matcher.exitCode
    this.kernelTrouble = matcher.kernelTrouble
    this.statuses = new Set(matcher.statuses)
    this.series = new Set(scope.series)
    this.machines = new Set(scope.machines)
    this.arch = scope.arch
    this.cpuFlags = scope.cpuFlags
    this.from = scope.versionsFrom === null ? -Infinity : sortKeyOf(scope.versionsFrom)
    this.to = scope.versionsTo === null ? Infinity : sortKeyOf(scope.versionsTo)
    this.kernelGlob = scope.kernelGlob
  }

  get regex () {
    if (this.compiled === null) {
      const { matcher, scope } = this.definition
      this.compiled = {
        reason: matcher.reasonRegex === null ? null : textMatcher(matcher.reasonRegex),
        log: matcher.logRegex === null ? null : userRegExp(matcher.logRegex),
        kernel: scope.kernelGlob === null ? null : globToRegExp(scope.kernelGlob),
      }
    }
    return this.compiled
  }

  matchesPath (path: string): boolean {
    this.pathTest ??= globMatcher(this.glob)
    return this.pathTest(path)
  }
}

export function compileIssue (id: number, definition: IssueDefinition, sortKeyOf: (label: string) => number): CompiledIssue {
  return new CompiledIssue(id, definition, sortKeyOf)
}

/** Whether the issue's glob matches a path or one of its ancestors (known-issues.ts testPathsOf). */
export function pathMatches (issue: CompiledIssue, ancestors: readonly string[]): boolean {
  for (const path of ancestors) if (issue.matchesPath(path)) return true
  return false
}

export function issueMatches (issue: CompiledIssue, candidate: MatchCandidate): boolean {
  return inScope(issue, candidate) && pathMatches(issue, candidate.ancestors) && evidenceMatches(issue, candidate)
}

/** Everything but the path and the text: set lookups and comparisons, the cheap part of a match. */
function inScope (issue: CompiledIssue, candidate: MatchCandidate): boolean {
  return needsTriage(candidate.status, candidate.troubled) && scopeMatches(issue, candidate, FAILING_STATUSES.includes(candidate.status))
}

/**
 * inScope for a candidate that needs triage, whose failing is worked out once: a failing result of
 * an upload meets hundreds of issues that share a glob, and is the same result for each of them.
 * The machines first: the scope that sets one lab's issues apart from another's.
 */
function scopeMatches (issue: CompiledIssue, candidate: MatchCandidate, failing: boolean): boolean {
  if (issue.machines.size > 0 && !issue.machines.has(candidate.machine)) return false
  // a result that did not fail is triaged only for its kernel trouble, which the issue must claim
  if (!failing && !issue.kernelTrouble) return false
  if (issue.statuses.size > 0 && !issue.statuses.has(candidate.status)) return false
  if (issue.series.size > 0 && !issue.series.has(candidate.seriesId)) return false
  if (issue.arch !== null && candidate.arch !== issue.arch) return false
  for (const flag of issue.cpuFlags) if (!candidate.cpuFlags.includes(flag)) return false
  if (candidate.versionSortKey < issue.from || candidate.versionSortKey > issue.to) return false
  if (issue.exitCode !== null && candidate.exitCode !== issue.exitCode) return false
  // the issue's patterns are compiled on first use, and most issues have no kernel glob
  return issue.kernelGlob === null || (candidate.kernel !== null && issue.regex.kernel!.test(candidate.kernel))
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
  /** Issues whose glob has no wildcard, by that path. */
  private readonly exact = new Map<string, CompiledIssue[]>()
  /**
   * The others by their glob's literal prefix, then by glob: many issues share a glob (one test's
   * issues on several machines, a collection's prefix with several reasons), and a glob is tried
   * once per result, its issues only when it matched.
   */
  private readonly byPrefix = new Map<string, Map<string, CompiledIssue[]>>()
  /** The lengths of the literal prefixes present, ascending: the only ones worth looking up. */
  private readonly prefixLengths: number[]
  readonly size: number

  constructor (issues: readonly CompiledIssue[]) {
    this.size = issues.length
    for (const issue of issues) {
      if (issue.exactPath !== null) {
        push(this.exact, issue.exactPath, issue)
        continue
      }
      const prefix = literalPrefix(issue.glob)
      let globs = this.byPrefix.get(prefix)
      if (globs === undefined) this.byPrefix.set(prefix, globs = new Map())
      push(globs, issue.glob, issue)
    }
    this.prefixLengths = [...new Set([...this.byPrefix.keys()].map(prefix => prefix.length))].sort((a, b) => a - b)
  }

  /** The ids of the issues that match, in id order. */
  match (candidate: MatchCandidate): number[] {
    if (this.size === 0 || !needsTriage(candidate.status, candidate.troubled)) return []
    const { ancestors } = candidate
    const matched: number[] = []
    const failing = FAILING_STATUSES.includes(candidate.status)
    const tryAll = (issues: readonly CompiledIssue[]) => {
      for (const issue of issues) if (scopeMatches(issue, candidate, failing) && evidenceMatches(issue, candidate)) matched.push(issue.id)
    }
    for (const path of ancestors) tryAll(this.exact.get(path) ?? [])
    for (const length of this.prefixLengths) {
      if (length > candidate.path.length) break
      for (const issues of this.byPrefix.get(candidate.path.slice(0, length))?.values() ?? []) {
        if (pathMatches(issues[0]!, ancestors)) tryAll(issues)
      }
    }
    return matched.length < 2 ? matched : [...new Set(matched)].sort((a, b) => a - b)
  }
}

function push<K, V> (map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list) list.push(value)
  else map.set(key, [value])
}
