// Known-issue matching: what an issue matches (written out by hand, not derived from the code under
// test), and the index against trying every issue one by one: the index may only skip work.
import assert from 'node:assert/strict'
import test from 'node:test'
import { compileIssue, globMatcher, globProblem, globToRegExp, IssueIndex, issueMatches, regexProblem } from '../../../server/domain/known-issue-matching.ts'
import { testPathsOf, type IssueDefinition, type MatchCandidate } from '../../../server/domain/known-issues.ts'
import { versionSortKey } from '../../../server/domain/version-label.ts'

const unscoped: IssueDefinition['scope'] = { series: [], machines: [], arch: null, cpuFlags: [], kernelGlob: null, versionsFrom: null, versionsTo: null }

function issue (testGlob: string, more: { reasonRegex?: string, machines?: string[], exitCode?: number, versionsFrom?: string, kernelTrouble?: boolean } = {}): IssueDefinition {
  return {
    title: testGlob,
    url: null,
    culprit: 'unknown',
    intermittent: false,
    matcher: { testGlob, reasonRegex: more.reasonRegex ?? null, logRegex: null, exitCode: more.exitCode ?? null, statuses: [], kernelTrouble: more.kernelTrouble ?? false },
    scope: { ...unscoped, machines: more.machines ?? [], versionsFrom: more.versionsFrom ?? null },
  }
}

/** A result by its names: `kvm`, `cpuid_test`, then its subtests' names. */
function candidate (names: string[], more: Partial<MatchCandidate> = {}): MatchCandidate {
  const [collection, test_, ...subtests] = names
  const ancestors = testPathsOf(collection!, test_!, subtests)
  return {
    path: ancestors[0]!, ancestors, status: 'fail', troubled: false, reason: null, exitCode: 1, seriesId: 1, versionSortKey: versionSortKey('v3'),
    machine: 'tdx-host', arch: 'x86_64', cpuFlags: ['tdx'], kernel: '6.12.0', logLines: () => [], ...more,
  }
}

const definitions = [
  issue('kvm/cpuid_test'), // 1
  issue('kvm/cpuid_test', { machines: ['snp-host'] }), // 2
  issue('kvm/cpuid_test', { exitCode: 134 }), // 3
  // several issues on one glob, told apart by their reasons
  issue('kvm/x86_*', { reasonRegex: 'Requirement not met' }), // 4
  issue('kvm/x86_*', { reasonRegex: 'KVM_RUN failed' }), // 5
  issue('kvm/x86_*', { reasonRegex: 'Requirement', versionsFrom: 'v5' }), // 6
  issue('memfd/*'), // 7
  issue('*_test/global.clone3'), // 8
  issue('kvm/dirty_log_test', { kernelTrouble: true }), // 9
  issue('kvm/set_memory_region_test/private'), // 10
  issue('demo/t'), // 11
]
const compiled = definitions.map((definition, i) => compileIssue(i + 1, definition, versionSortKey))
const index = new IssueIndex(compiled)

const cases: Array<[string, MatchCandidate, number[]]> = [
  ['an exact path, unscoped', candidate(['kvm', 'cpuid_test']), [1]],
  ['an exact path on the scoped machine', candidate(['kvm', 'cpuid_test'], { machine: 'snp-host' }), [1, 2]],
  ['an exact path with the exit code', candidate(['kvm', 'cpuid_test'], { exitCode: 134 }), [1, 3]],
  ['one glob, the reason picks the issue', candidate(['kvm', 'x86_msr_test'], { reason: 'KVM_RUN failed: EINTR' }), [5]],
  ['one glob, two reasons match, one issue out of its version range', candidate(['kvm', 'x86_msr_test'], { reason: 'Requirement not met: tdx' }), [4]],
  ['the same in the version range', candidate(['kvm', 'x86_msr_test'], { reason: 'Requirement not met', versionSortKey: versionSortKey('v6') }), [4, 6]],
  ['a subtest matched by its test\'s issue', candidate(['kvm', 'cpuid_test', 'subtest one']), [1]],
  ['a subtest whose name holds a `/` is one level under its test', candidate(['demo', 't', 'dev/zero']), [11]],
  ['a subtest of a glob', candidate(['memfd', 'memfd_test', 'seal']), [7]],
  ['a glob that starts with a wildcard', candidate(['clone3', 'clone3_test', 'global.clone3']), [8]],
  ['a nested subtest path', candidate(['kvm', 'set_memory_region_test', 'private', 'slot 1']), [10]],
  ['a pass matches nothing', candidate(['kvm', 'cpuid_test'], { status: 'pass' }), []],
  ['kernel trouble on a pass is left to the series unless the issue claims it', candidate(['kvm', 'cpuid_test'], { status: 'pass', troubled: true }), []],
  ['an issue that claims kernel trouble matches a troubled pass', candidate(['kvm', 'dirty_log_test'], { status: 'pass', troubled: true }), [9]],
  ['a failure with trouble is matched for its failure', candidate(['kvm', 'cpuid_test'], { troubled: true }), [1]],
  ['a path no issue names', candidate(['kvm', 'hyperv_clock']), []],
]

for (const [name, c, expected] of cases) {
  test(`matching: ${name}`, () => {
    assert.deepEqual(index.match(c), expected, 'the index')
    assert.deepEqual(compiled.filter(one => issueMatches(one, c)).map(one => one.id), expected, 'every issue, one by one')
  })
}

test('a glob tested by string comparison matches what its regular expression matches', () => {
  const globs = ['kvm/cpuid_test', 'kvm/*', '*/cpuid_test', '*cpuid*', '*', '**', 'kvm/*_test', 'kvm/?puid_test', '*a.b*', 'kvm/(x)*', '*/[1]', 'kvm/cpuid_test/*']
  const paths = ['kvm/cpuid_test', 'kvm/cpuid_test/sub 1', 'kvm/', 'memfd/memfd_test', 'kvm/(x)y', 'x/[1]', 'a.b', 'axb', '', 'kvm/cpuid_test\n']
  for (const glob of globs) {
    const regex = globToRegExp(glob)
    const test = globMatcher(glob)
    for (const path of paths) assert.equal(test(path), regex.test(path), `${glob} on ${JSON.stringify(path)}`)
  }
})

test('patterns that could take more than linear time are refused or run in linear time', () => {
  // catastrophic backtracking on a backtracking engine; linear on the one matching uses
  const reason = `${'a'.repeat(5000)}!`
  for (const [source, matches] of [['(a|a)*b', false], ['^(a+|b)+$', false], ['^(a|ab)*c', false], ['(.*a){12}x', false], ['^(a+)+$', false], ['(\\w*)*!', true]] as const) {
    assert.equal(regexProblem(source), null, source)
    const slow = compileIssue(1, issue('kvm/*', { reasonRegex: source }), versionSortKey)
    const start = performance.now()
    assert.equal(issueMatches(slow, candidate(['kvm', 't'], { reason })), matches, source)
    assert.ok(performance.now() - start < 2000, `${source} took ${performance.now() - start} ms`)
  }
  assert.match(regexProblem('(a)\\1')!, /linear time/)
  assert.match(regexProblem('(?<=a)b')!, /linear time/)
  assert.match(regexProblem('(')!, /not a valid regular expression/)
  assert.match(regexProblem('a'.repeat(301))!, /longer than/)
  // a glob with many stars against a path that nearly matches: exponential on a backtracking engine
  const glob = compileIssue(1, issue('*a*a*a*a*a*a*a*a*a*a*a*a*b'), versionSortKey)
  const start = performance.now()
  assert.equal(issueMatches(glob, candidate(['a'.repeat(30), 'a'.repeat(30)])), false)
  assert.ok(performance.now() - start < 2000)
  assert.equal(globProblem(' '), 'is empty')
})
