// The known-issue index against matching every issue one by one: the index may only skip work,
// never change an answer.
import assert from 'node:assert/strict'
import test from 'node:test'
import { compileIssue, IssueIndex, issueMatches, ancestorPaths, type IssueDefinition, type MatchCandidate } from '../../../server/domain/known-issues.ts'
import { versionSortKey } from '../../../server/domain/version-label.ts'

const unscoped: IssueDefinition['scope'] = { series: [], machines: [], arch: null, cpuFlags: [], kernelGlob: null, versionsFrom: null, versionsTo: null }

function issue (testGlob: string, more: { reasonRegex?: string, machines?: string[], exitCode?: number, versionsFrom?: string } = {}): IssueDefinition {
  return {
    title: testGlob,
    url: null,
    culprit: 'unknown',
    intermittent: false,
    matcher: { testGlob, reasonRegex: more.reasonRegex ?? null, logRegex: null, exitCode: more.exitCode ?? null, statuses: [] },
    scope: { ...unscoped, machines: more.machines ?? [], versionsFrom: more.versionsFrom ?? null },
  }
}

function candidate (path: string, more: Partial<MatchCandidate> = {}): MatchCandidate {
  return {
    path, status: 'fail', troubled: false, reason: null, exitCode: 1, seriesId: 1, versionSortKey: versionSortKey('v3'),
    machine: 'tdx-host', arch: 'x86_64', cpuFlags: ['tdx'], kernel: '6.12.0', logLines: () => [], ...more,
  }
}

const definitions = [
  issue('kvm/cpuid_test'),
  issue('kvm/cpuid_test', { machines: ['snp-host'] }),
  issue('kvm/cpuid_test', { exitCode: 134 }),
  // several issues on one glob, told apart by their reasons
  issue('kvm/x86_*', { reasonRegex: 'Requirement not met' }),
  issue('kvm/x86_*', { reasonRegex: 'KVM_RUN failed' }),
  issue('kvm/x86_*', { reasonRegex: 'Requirement', versionsFrom: 'v5' }),
  issue('memfd/*'),
  issue('*_test/global.clone3'),
  issue('net/forwarding/*'),
  issue('kvm/set_memory_region_test/private'),
]
const compiled = definitions.map((definition, i) => compileIssue(i + 1, definition, versionSortKey))
const index = new IssueIndex(compiled)

function byEveryIssue (c: MatchCandidate, depth: number): number[] {
  const ancestors = ancestorPaths(c.path, depth)
  return compiled.filter(one => issueMatches(one, c, ancestors)).map(one => one.id)
}

const cases: Array<[string, MatchCandidate, number, number[]]> = [
  ['an exact path, unscoped', candidate('kvm/cpuid_test'), 0, [1]],
  ['an exact path on the scoped machine', candidate('kvm/cpuid_test', { machine: 'snp-host' }), 0, [1, 2]],
  ['an exact path with the exit code', candidate('kvm/cpuid_test', { exitCode: 134 }), 0, [1, 3]],
  ['one glob, the reason picks the issue', candidate('kvm/x86_msr_test', { reason: 'KVM_RUN failed: EINTR' }), 0, [5]],
  ['one glob, two reasons match, one issue out of its version range', candidate('kvm/x86_msr_test', { reason: 'Requirement not met: tdx' }), 0, [4]],
  ['the same in the version range', candidate('kvm/x86_msr_test', { reason: 'Requirement not met', versionSortKey: versionSortKey('v6') }), 0, [4, 6]],
  ['a subtest matched by its test\'s issue', candidate('kvm/cpuid_test/subtest one'), 1, [1]],
  ['a subtest of a glob', candidate('memfd/memfd_test/seal'), 1, [7]],
  ['a glob that starts with a wildcard', candidate('clone3/clone3_test/global.clone3'), 1, [8]],
  ['a nested subtest path', candidate('kvm/set_memory_region_test/private/slot 1'), 2, [10]],
  ['a pass matches nothing', candidate('kvm/cpuid_test', { status: 'pass' }), 0, []],
  ['a troubled pass is triaged', candidate('kvm/cpuid_test', { status: 'pass', troubled: true }), 0, [1]],
  ['a path no issue names', candidate('kvm/dirty_log_test'), 0, []],
]

for (const [name, c, depth, expected] of cases) {
  test(`index: ${name}`, () => {
    assert.deepEqual(index.match(c, depth), expected)
    assert.deepEqual(index.match(c, depth), byEveryIssue(c, depth))
  })
}
