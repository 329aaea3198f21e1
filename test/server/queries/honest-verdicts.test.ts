import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test, type TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import type { CompareResponse, FlakyResponse, MatrixResponse, TrendResponse } from '../../../server/schemas/trends.ts'
import { buildTestApp, uploadUrl } from '../../helpers/app.ts'
import { runKsft } from '../../helpers/cli.ts'
import { realFixturePath, realFixturesSkip } from '../../helpers/fixtures.ts'
import {
  assertionFails, createMaxVcpusFails, cutAfterTwo, panicInLastTest, realLog, setMemoryRegionFails, warningAndFalsePass,
} from '../../helpers/kvm-variants.ts'

/**
 * Issue 11: no way a run can mislead yields a green verdict. Every log here is a synthetic variant,
 * made in the test (test/helpers/kvm-variants.ts), of one real log: fixtures/real/real-kvm-pvm-subset-8-tests.txt.
 */
const SERIES = 'KVM: guest_memfd: honest verdicts'
const A = 'tdx-lab-1'
const B = 'snp-lab-1'

interface Series { app: FastifyInstance, url: string }

async function upload (app: FastifyInstance, token: string, text: string, version: string, machine: string): Promise<void> {
  const res = await app.inject({
    method: 'POST',
    url: uploadUrl({ series: SERIES, version, machine, arch: 'x86_64' }),
    payload: text,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
  })
  assert.ok(res.statusCode === 201, `${version} on ${machine}: ${res.statusCode} ${res.body}`)
}

/**
 * base and v1..v7 on tdx-lab-1; base (only) on snp-lab-1.
 * v1: cut after two tests; v2: panic in the last test; v3: WARNING + false pass; v4: an assertion
 * fails; v5: two runs that disagree on set_memory_region_test; v6: kvm_create_max_vcpus fails;
 * v7: all as base (v6's failure fixed).
 */
async function buildSeries (t: TestContext): Promise<Series> {
  const { app, token } = await buildTestApp(t)
  const whole = realLog().join('\n')
  await upload(app, token, whole, 'base', A)
  await upload(app, token, whole, 'base', B)
  await upload(app, token, cutAfterTwo(), 'v1', A)
  await upload(app, token, panicInLastTest(), 'v2', A)
  await upload(app, token, warningAndFalsePass(), 'v3', A)
  await upload(app, token, assertionFails(), 'v4', A)
  await upload(app, token, whole, 'v5', A)
  await upload(app, token, setMemoryRegionFails(), 'v5', A)
  await upload(app, token, createMaxVcpusFails(), 'v6', A)
  await upload(app, token, `${whole}\n`, 'v7', A)
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` }
}

async function compare (app: FastifyInstance, query: Record<string, string>): Promise<CompareResponse> {
  const res = await app.inject({ url: `/api/v1/series/1/compare?${new URLSearchParams(query).toString()}` })
  assert.equal(res.statusCode, 200, res.body)
  return res.json() as CompareResponse
}

/** The two tests that fail in the real log fail in every variant: still_failing, listed after the changes. */
const STILL_FAILING = [`still_failing cpuid_test ${A}`, `still_failing guest_memfd_test ${A}`]

function buckets (report: CompareResponse): string[] {
  return report.entries.map(entry => `${entry.bucket} ${[entry.test, ...entry.path].join('/')} ${entry.machine}`)
}

/** still_failing comes before still_kernel_trouble in COMPARE_BUCKETS. */
function byBucketOrder (a: string, b: string): number {
  const rank = (line: string) => line.startsWith('still_failing') ? 0 : 1
  return rank(a) - rank(b) || a.localeCompare(b)
}

function gate (url: string, ...args: string[]) {
  return runKsft(['gate', '--server', url, '--series', SERIES, ...args])
}

test('a run cut after two of eight tests: not_run, never fixed, a rate that drops, a failing gate', { skip: realFixturesSkip }, async (t) => {
  const { app, url } = await buildSeries(t)
  const report = await compare(app, { base: 'base', head: 'v1' })
  assert.deepEqual(report.incomplete, { base: [], head: [A] })
  assert.deepEqual(report.unpaired, { base: [B], head: [] })
  assert.equal(report.absentSide, null)
  // tests 3..8 and the four subtests of kvm_binary_stats_test never ran; nothing is "fixed"
  assert.equal(report.counts.not_run, 10)
  assert.equal(report.counts.fixed, 0)
  assert.equal(report.counts.missing, 0)
  assert.equal(report.counts.unchanged, 2)
  assert.ok(buckets(report).includes(`not_run cpuid_test ${A}`))
  assert.ok(buckets(report).includes(`not_run kvm_binary_stats_test/vm2 ${A}`))

  const trend = (await app.inject({ url: '/api/v1/series/1/trend' })).json() as TrendResponse
  const v1 = trend.versions.find(version => version.label === 'v1')!
  const base = trend.versions.find(version => version.label === 'base')!
  assert.equal(v1.incompleteRuns, 1)
  assert.equal(v1.notRun, 6, 'the plan promised 8, 2 arrived')
  assert.equal(v1.passRate, 0.25, '2 passed of the 8 that should have run')
  // base: 4 of 6 non-skipped passed on each of two machines
  assert.equal(base.passRate, 0.6667)
  assert.ok(v1.passRate! < base.passRate!, 'a run that stopped early never rates better')

  const gated = await gate(url, '--base', 'base', '--head', 'v1', '--machine', A)
  assert.equal(gated.code, 1, gated.stderr)
  assert.match(gated.stdout, /\n {2}not_run +10 {2}\(fails the gate\)\n/)
  assert.match(gated.stdout, /v1 stopped early on tdx-lab-1: tests it never ran are not_run/)
  // the reason of a test that never ran is the base's, printed under it
  assert.match(gated.stdout, /cpuid_test +tdx-lab-1 +fail -> - \[not run\][^\n]*\n {6}x86_64\/cpuid_test\.c:78: cpuid1->nent == cpuid2->nent/)
})

test('a run whose last test starts and never ends with a panic: an error, the run incomplete, the gate fails', { skip: realFixturesSkip }, async (t) => {
  const { app, url } = await buildSeries(t)
  const report = await compare(app, { base: 'base', head: 'v2' })
  assert.deepEqual(report.incomplete.head, [A])
  assert.deepEqual(buckets(report), [`regression svm_vmcall_test ${A}`, ...STILL_FAILING])
  const entry = report.entries[0]!
  assert.equal(entry.head.status, 'error')
  assert.deepEqual(entry.newKernelTrouble, ['kernel_panic'])
  assert.match(entry.head.reason!, /^no result line: the log ends before its result line, after a kernel panic/)

  const run = (await app.inject({ url: `/api/v1/runs/${entry.head.runs[0]!.runId}` })).json() as { completeness: { complete: boolean, reasons: Array<{ kind: string }> } }
  assert.equal(run.completeness.complete, false)
  assert.deepEqual(run.completeness.reasons.map(reason => reason.kind).sort(), ['kernel_panic', 'log_ends_inside_test'])

  const gated = await gate(url, '--base', 'base', '--head', 'v2')
  assert.equal(gated.code, 1, gated.stderr)
  assert.match(gated.stdout, /svm_vmcall_test +tdx-lab-1 +skip -> error \[new kernel_panic\]/)
})

test('a WARNING in a passing test and a false pass are new kernel trouble: their own bucket, a heatmap mark, a line in summary.txt, a failing gate', { skip: realFixturesSkip }, async (t) => {
  const { app, url } = await buildSeries(t)
  const report = await compare(app, { base: 'base', head: 'v3' })
  assert.deepEqual(buckets(report), [`new_kernel_trouble guest_print_test ${A}`, `new_kernel_trouble kvm_create_max_vcpus ${A}`, ...STILL_FAILING])
  assert.deepEqual(report.entries.map(entry => entry.newKernelTrouble), [['false_pass'], ['kernel_warning'], [], []])
  assert.deepEqual(report.entries.map(entry => entry.head.status), ['pass', 'pass', 'fail', 'fail'])
  assert.equal(report.counts.new_kernel_trouble, 2)
  assert.equal(report.counts.regression, 0)

  const matrix = (await app.inject({ url: '/api/v1/series/1/matrix?machine=tdx-lab-1' })).json() as MatrixResponse
  const column = matrix.versions.findIndex(version => version.label === 'v3')
  const row = matrix.rows.find(r => r.test === 'kvm_create_max_vcpus' && r.path.length === 0)!
  assert.equal(row.cells[column]!.trouble, 1)
  assert.equal(row.cells[0]!.trouble, 0, 'base had none')

  const summary = (await app.inject({ url: '/api/v1/series/1/summary.txt?base=base&head=v3' })).body
  assert.match(summary, /\nNew kernel trouble:\n {2}kvm: guest_print_test \(tdx-lab-1\): pass -> pass \[new: false_pass\]\n {2}kvm: kvm_create_max_vcpus \(tdx-lab-1\): pass -> pass \[new: kernel_warning\]\n/)
  assert.match(summary, /\nv1 +tdx-lab-1 +1 \(1 stopped early\) +2 +0 +0 +0 +0 +0 +0 +6\n/)

  assert.equal((await gate(url, '--base', 'base', '--head', 'v3')).code, 1)
  const dropped = await gate(url, '--base', 'base', '--head', 'v3', '--fail-on', 'regression,new_failure,not_run')
  assert.equal(dropped.code, 0, dropped.stdout)

  // the same trouble again in the next version is shown as already there, and does not fail the gate
  const res = await app.inject({ url: '/api/v1/series/1/compare?base=v3&head=v3' })
  assert.deepEqual(buckets(res.json() as CompareResponse), [`still_kernel_trouble guest_print_test ${A}`, `still_kernel_trouble kvm_create_max_vcpus ${A}`, ...STILL_FAILING].sort(byBucketOrder))
})

test('an assertion turned into a failure: a regression whose reason reaches the gate, compare and summary.txt as plain text', { skip: realFixturesSkip }, async (t) => {
  const { app, url } = await buildSeries(t)
  const report = await compare(app, { base: 'base', head: 'v4' })
  assert.deepEqual(buckets(report), [`regression guest_print_test ${A}`, ...STILL_FAILING])
  assert.equal(report.entries[0]!.head.exitCode, 254)
  assert.match(report.entries[0]!.head.reason!, /guest_print_test\.c:142/)

  const gated = await gate(url, '--base', 'base', '--head', 'v4')
  assert.equal(gated.code, 1)
  assert.match(gated.stdout, /guest_print_test +tdx-lab-1 +pass -> fail[^\n]*\n {6}[^\n]*guest_print_test\.c:142/)
  assert.doesNotMatch(gated.stdout, /tdx\\-lab/, 'plain text is not markdown-escaped')

  const text = await runKsft(['compare', '--server', url, '--series', SERIES, '--base', 'base', '--head', 'v4'])
  assert.equal(text.code, 0)
  assert.match(text.stdout, /guest_print_test\.c:142/)
  const summary = (await app.inject({ url: '/api/v1/series/1/summary.txt?base=base&head=v4' })).body
  assert.match(summary, /\nRegressions:\n {2}kvm: guest_print_test \(tdx-lab-1\): pass -> fail\n {6}[^\n]*guest_print_test\.c:142/)
  assert.match(summary, /Ran only base, not compared: snp-lab-1/)
})

test('a machine that ran only the base: nothing of another machine is attributed to it, and the gate cannot tell', { skip: realFixturesSkip }, async (t) => {
  const { app, url } = await buildSeries(t)
  const report = await compare(app, { base: 'base', head: 'v4', machine: B })
  assert.equal(report.absentSide, 'head')
  assert.deepEqual(report.entries, [])
  assert.deepEqual(report.pairedMachines, [])
  const gated = await gate(url, '--base', 'base', '--head', 'v4', '--machine', B)
  assert.equal(gated.code, 2)
  assert.match(gated.stderr, /no v4 run on snp-lab-1 \(v4 ran on tdx-lab-1\)/)
})

test('two runs of one version that disagree are flaky; a regression fixed one version later is history, not flaky', { skip: realFixturesSkip }, async (t) => {
  const { app } = await buildSeries(t)
  const report = await compare(app, { base: 'base', head: 'v5' })
  assert.deepEqual(buckets(report), [...STILL_FAILING, `flaky set_memory_region_test ${A}`])

  const fixed = await compare(app, { base: 'v6', head: 'v7' })
  assert.deepEqual(buckets(fixed), [`fixed kvm_create_max_vcpus ${A}`, ...STILL_FAILING])

  const flaky = (await app.inject({ url: '/api/v1/series/1/flaky' })).json() as FlakyResponse
  assert.deepEqual(flaky.entries.map(entry => `${entry.test} ${entry.machine} ${entry.mixedVersions}`), [`set_memory_region_test ${A} 1`])
})

test('the real panic log is an incomplete run; the real WARNING log is kernel trouble', { skip: realFixturesSkip }, async (t) => {
  const { app, token } = await buildTestApp(t)
  const panic = readFileSync(realFixturePath('lkft-next-20231109-arm64-memfd-fuse-oops-panic-truncated.txt'))
  const res = await app.inject({ method: 'POST', url: uploadUrl({ series: 'real', version: 'v1', machine: 'arm64-1' }), payload: panic, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  assert.equal(res.statusCode, 201, res.body)
  const run = (await app.inject({ url: `/api/v1/runs/${res.json().id}` })).json() as { completeness: { complete: boolean, incompleteCollections: string[] } }
  assert.equal(run.completeness.complete, false)
  assert.deepEqual(run.completeness.incompleteCollections, ['memfd'])
})
