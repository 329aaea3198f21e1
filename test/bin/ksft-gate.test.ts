import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import type { CompareResponse } from '../../server/schemas/trends.ts'
import { buildTestApp, uploadUrl } from '../helpers/app.ts'
import { freePort, runKsft } from '../helpers/cli.ts'

// a real series name has a slash in it, which must survive the URL
const SERIES = 'KVM: x86/mmu: gate test'
const CLEAN = 'memfd: clean series'

/** A synthetic kselftest log with these results, in this order. */
function log (results: Record<string, 'pass' | 'fail'>): string {
  const names = Object.keys(results)
  const lines = ['TAP version 13', `1..${names.length}`]
  names.forEach((name, i) => {
    lines.push(`# selftests: kvm: ${name}`)
    lines.push(results[name] === 'pass' ? `ok ${i + 1} selftests: kvm: ${name}` : `# ${name} broke\nnot ok ${i + 1} selftests: kvm: ${name} # exit=1`)
  })
  return `${lines.join('\n')}\n`
}

async function upload (app: FastifyInstance, token: string, text: string, meta: Record<string, string>): Promise<void> {
  const res = await app.inject({ method: 'POST', url: uploadUrl(meta), payload: text, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  assert.equal(res.statusCode, 201, res.body)
}

/**
 * A listening server with two series. SERIES v6 -> v7 on m1: b regresses, c still fails, d is a
 * new failure, e goes missing (v7 finished). CLEAN v6 -> v7: nothing fails on either side, but e goes
 * missing and d is new. `more` uploads what a test adds, before the server listens.
 */
async function server (t: TestContext, security = {}, more?: (app: FastifyInstance, token: string) => Promise<void>): Promise<{ url: string, app: FastifyInstance }> {
  const { app, token } = await buildTestApp(t, { security })
  const m1 = { machine: 'm1', arch: 'x86_64' }
  await upload(app, token, log({ a: 'pass', b: 'pass', c: 'fail', e: 'pass' }), { ...m1, series: SERIES, version: 'v6' })
  await upload(app, token, log({ a: 'pass', b: 'fail', c: 'fail', d: 'fail' }), { ...m1, series: SERIES, version: 'v7' })
  await upload(app, token, log({ a: 'pass', b: 'pass', e: 'pass' }), { ...m1, series: CLEAN, version: 'v6' })
  await upload(app, token, log({ a: 'pass', b: 'pass', d: 'pass' }), { ...m1, series: CLEAN, version: 'v7' })
  await more?.(app, token)
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`, app }
}

const DEFAULT_GATE = 'regression, new_failure, not_run, new_kernel_trouble'

test('ksft gate exits 1 on a regression and names it, 0 on a clean series, and --fail-on chooses the buckets', async (t) => {
  const { url } = await server(t)
  const failing = await runKsft(['gate', '--server', url, '--series', SERIES, '--base', 'v6', '--head', 'v7'])
  assert.equal(failing.code, 1, failing.stderr)
  assert.equal(failing.stderr, '')
  assert.match(failing.stdout, /^KVM: x86\/mmu: gate test \(series 1\): v6 -> v7, machines m1\n/)
  assert.match(failing.stdout, /\n {2}regression +1 {2}\(fails the gate\)\n/)
  assert.match(failing.stdout, /\n {2}new_failure +1 {2}\(fails the gate\)\n/)
  assert.match(failing.stdout, /\n {2}not_run +0 {2}\(fails the gate\)\n/)
  assert.match(failing.stdout, /\n {2}new_kernel_trouble +0 {2}\(fails the gate\)\n/)
  assert.match(failing.stdout, /\n {2}still_failing +1\n/)
  assert.match(failing.stdout, /\n {2}missing +1\n/)
  // each entry, then the first line of its reason: what the log printed before `not ok`
  assert.match(failing.stdout, /\nregression \(1\):\n {2}kvm: b +m1 +pass -> fail +http:\/\/127\.0\.0\.1:\d+\/runs\/2#L\d+-L\d+\n {6}b broke\n/)
  assert.match(failing.stdout, /\nnew_failure \(1\):\n {2}kvm: d +m1 +- -> fail +http:\/\/127\.0\.0\.1:\d+\/runs\/2#L\d+-L\d+\n {6}d broke\n/)
  assert.doesNotMatch(failing.stdout, /still_failing \(|not_run \(|ran only/, 'the gate lists only the buckets it checks that have entries')
  assert.match(failing.stdout, new RegExp(`\\nksft gate: FAIL: 1 regression, 1 new_failure \\(checked: ${DEFAULT_GATE}\\)\\n$`))

  const clean = await runKsft(['gate', '--server', url, '--series', CLEAN, '--base', 'v6', '--head', 'v7'])
  assert.equal(clean.code, 0, clean.stderr)
  assert.match(clean.stdout, new RegExp(`\\nksft gate: PASS: nothing in ${DEFAULT_GATE}\\n$`))

  // the clean series lost a test: only a gate that asks about it fails; a test that passed has no reason to print
  const missing = await runKsft(['gate', '--server', url, '--series', '2', '--base', 'v6', '--head', 'v7', '--fail-on', 'regression,missing'])
  assert.equal(missing.code, 1, missing.stderr)
  assert.match(missing.stdout, /\nmissing \(1\):\n {2}kvm: e +m1 +pass -> - +http:\/\/127\.0\.0\.1:\d+\/runs\/3#L\d+-L\d+\nksft gate: FAIL/)
  assert.match(missing.stdout, /ksft gate: FAIL: 1 missing \(checked: regression, missing\)\n$/)

  const onMachine = await runKsft(['gate', '--server', url, '--series', SERIES, '--base', 'v6', '--head', 'v7', '--machine', 'm1', '--fail-on', 'fixed'])
  assert.equal(onMachine.code, 0, onMachine.stderr)
  assert.match(onMachine.stdout, /^KVM: x86\/mmu: gate test \(series 1\): v6 -> v7, machine m1\n/)
})

test('ksft gate exits 2 when it cannot tell: a wrong call, an unknown series or version, no server, a private server without a token', async (t) => {
  const { url } = await server(t)
  const closed = `http://127.0.0.1:${await freePort()}`
  const cases: Array<[string[], RegExp]> = [
    [['--server', url, '--series', 'no such series', '--base', 'v6', '--head', 'v7'], /SERIES_NOT_FOUND/],
    [['--server', url, '--series', SERIES, '--base', 'v6', '--head', 'v9'], /v9.*VERSION_NOT_FOUND|VERSION_NOT_FOUND.*v9/],
    [['--server', url, '--series', SERIES, '--base', 'v6', '--head', 'v7', '--fail-on', 'regression,worse'], /--fail-on takes a comma list of regression, new_failure, not_run, new_kernel_trouble, infrastructure, known, fixed, still_failing, still_kernel_trouble, flaky, new, missing; not worse/],
    [['--series', SERIES, '--base', 'v6', '--head', 'v7'], /give the server with --server URL/],
    [['--server', url, '--series', SERIES, '--head', 'v7'], /required option '--base <version>' not specified/],
    [['--server', 'not a url', '--series', SERIES, '--base', 'v6', '--head', 'v7'], /not an absolute URL/],
    [['--server', closed, '--series', SERIES, '--base', 'v6', '--head', 'v7'], /cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/],
    [['--server', `${url}/elsewhere`, '--series', SERIES, '--base', 'v6', '--head', 'v7'], /NOT_FOUND/],
  ]
  for (const [args, stderr] of cases) {
    const res = await runKsft(['gate', ...args], { env: { KSFT_SERVER: '' } })
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stdout}${res.stderr}`)
    assert.match(res.stderr, stderr)
  }

  const { url: privateUrl } = await server(t, { readToken: 'read-secret' })
  const refused = await runKsft(['gate', '--server', privateUrl, '--series', SERIES, '--base', 'v6', '--head', 'v7'])
  assert.equal(refused.code, 2)
  assert.match(refused.stderr, /UNAUTHORIZED/)
  const allowed = await runKsft(['gate', '--series', SERIES, '--base', 'v6', '--head', 'v7'], { env: { KSFT_SERVER: privateUrl, KSFT_TOKEN: 'read-secret' } })
  assert.equal(allowed.code, 1, allowed.stderr)
})

test('ksft compare prints every bucket as text, the API\'s own JSON, or Markdown for a reply; exit 0 unless --fail-on says otherwise', async (t) => {
  const { url, app } = await server(t)
  const args = ['--server', url, '--series', SERIES, '--base', 'v6', '--head', 'v7']

  const json = await runKsft(['compare', ...args, '--format', 'json'])
  assert.equal(json.code, 0, json.stderr)
  const report = JSON.parse(json.stdout) as CompareResponse
  const api = (await app.inject({ url: `/api/v1/series/1/compare?base=v6&head=v7&limit=1000` })).json() as CompareResponse
  assert.deepEqual(report, api, 'the JSON is the API\'s answer, every page of it')
  assert.deepEqual(report.entries.map(e => [e.bucket, e.test]),
    [['regression', 'b'], ['new_failure', 'd'], ['still_failing', 'c'], ['missing', 'e']])

  const text = await runKsft(['compare', ...args])
  assert.equal(text.code, 0, text.stderr)
  assert.match(text.stdout, /\nstill_failing \(1\):\n {2}kvm: c +m1 +fail -> fail +http:\S+\n {6}c broke\n/)
  assert.match(text.stdout, /\nmissing \(1\):\n/)
  assert.doesNotMatch(text.stdout, /ksft gate/)

  const markdown = await runKsft(['compare', ...args, '--format', 'markdown'])
  assert.equal(markdown.code, 0, markdown.stderr)
  assert.match(markdown.stdout, /^\*\*kselftest: KVM: x86\/mmu: gate test, v6 → v7\*\* \(machines m1\)\n\n/)
  assert.match(markdown.stdout, /\n\| 1 \| 1 \| 0 \| 0 \| 0 \| 0 \| 0 \| 1 \| 0 \| 0 \| 0 \| 1 \| 1 \|\n/)
  assert.match(markdown.stdout, /\n#### regression \(1\)\n\n\| test \| machine \| v6 \| v7 \| why \| log \|\n\|---\|---\|---\|---\|---\|---\|\n\| `kvm: b` \| m1 \| pass \| fail \| b broke \| \[log\]\(http:\/\/127\.0\.0\.1:\d+\/runs\/2#L\d+-L\d+\) \|\n/)

  const gated = await runKsft(['compare', ...args, '--fail-on', 'still_failing'])
  assert.equal(gated.code, 1)
  const badFormat = await runKsft(['compare', ...args, '--format', 'html'])
  assert.equal(badFormat.code, 2)
  assert.match(badFormat.stderr, /argument 'html' is invalid. Allowed choices are text, json, markdown/)

  // the buckets in words, every underscore of them (last: checked after the rest)
  assert.match(markdown.stdout, /\n\| regression \| new failure \| not run \| new kernel trouble \| infrastructure \| known \| fixed \| still failing \| still kernel trouble \| flaky \| new \| missing \| unchanged \|\n\|---:\|/)
})

test('a machine that ran only one version is named, never compared; asked for by --machine, the gate and compare exit 2', async (t) => {
  // m2 ran v6 of SERIES only, failing everything; m3 ran v7 only
  const { url } = await server(t, {}, async (app, token) => {
    await upload(app, token, log({ a: 'fail', b: 'fail' }), { machine: 'm2', arch: 'x86_64', series: SERIES, version: 'v6' })
    await upload(app, token, log({ a: 'fail', f: 'fail' }), { machine: 'm3', arch: 'x86_64', series: SERIES, version: 'v7' })
  })
  const args = ['--server', url, '--series', SERIES, '--base', 'v6', '--head', 'v7']
  // m1 alone is compared: its counts are those of the plain series, m2's failures and m3's are nobody's
  const gate = await runKsft(['gate', ...args])
  assert.equal(gate.code, 1, gate.stderr)
  assert.match(gate.stdout, /^KVM: x86\/mmu: gate test \(series 1\): v6 -> v7, machines m1, m2, m3\n/)
  assert.match(gate.stdout, /\n {2}regression +1 {2}\(fails the gate\)\n {2}new_failure +1 {2}\(fails the gate\)\n/)
  assert.match(gate.stdout, /\nregression \(1\):\n {2}kvm: b +m1 /)
  assert.doesNotMatch(gate.stdout, /kvm: \w +m[23] /)
  assert.match(gate.stdout, /\n\nran only v6, not compared: m2\n\nran only v7, not compared: m3\nksft gate: FAIL: 1 regression, 1 new_failure /)

  const cases: Array<[string, string[], RegExp]> = [
    ['gate', ['--machine', 'm2'], /^ksft: no v7 run on m2 \(v7 ran on m1, m3\)\n$/],
    ['gate', ['--machine', 'm3'], /^ksft: no v6 run on m3 \(v6 ran on m1, m2\)\n$/],
    ['compare', ['--machine', 'm2'], /^ksft: no v7 run on m2 \(v7 ran on m1, m3\)\n$/],
    ['compare', ['--machine', 'm2', '--format', 'json'], /^ksft: no v7 run on m2 /],
  ]
  for (const [command, more, stderr] of cases) {
    const res = await runKsft([command, ...args, ...more])
    assert.equal(res.code, 2, `${command} ${more.join(' ')}: ${res.stdout}${res.stderr}`)
    assert.equal(res.stdout, '', 'no verdict, not even an empty one')
    assert.match(res.stderr, stderr)
  }
  const onM1 = await runKsft(['gate', ...args, '--machine', 'm1'])
  assert.equal(onM1.code, 1, onM1.stderr)
  assert.doesNotMatch(onM1.stdout, /ran only/, 'the machines not asked for are not named')
})

test('ksft gate fails by default on a run that stopped early and on new kernel trouble, and prints why', async (t) => {
  const { url } = await server(t, {}, async (app, token) => {
    const m1 = { machine: 'm1', arch: 'x86_64', series: 'KVM: stopped early' }
    await upload(app, token, log({ a: 'pass', b: 'pass', c: 'pass', d: 'pass' }), { ...m1, version: 'v6' })
    // v7: a passes with a kernel WARNING on the console; the log ends inside c, and d never starts
    await upload(app, token, [
      'TAP version 13', '1..4',
      '# selftests: kvm: a', '[   12.345678] WARNING: CPU: 0 PID: 7 at arch/x86/kvm/x86.c:100 kvm_arch_vcpu_ioctl_run+0x1/0x2', 'ok 1 selftests: kvm: a',
      '# selftests: kvm: b', 'ok 2 selftests: kvm: b',
      '# selftests: kvm: c', '# c: mapping 4 pages',
    ].join('\n') + '\n', { ...m1, version: 'v7' })
  })
  const args = ['--server', url, '--series', 'KVM: stopped early', '--base', 'v6', '--head', 'v7']
  const gate = await runKsft(['gate', ...args])
  assert.equal(gate.code, 1, gate.stderr)
  // c started and never ended: an error; d, which v6 ran, was never reached: not run
  assert.match(gate.stdout, /\nregression \(1\):\n {2}kvm: c +m1 +pass -> error +http:\S+\n {6}no result line: the log ends before its result line\n/)
  assert.match(gate.stdout, /\nnot_run \(1\):\n {2}kvm: d +m1 +pass -> - \[not run\] +http:\S+\n/)
  assert.match(gate.stdout, /\nnew_kernel_trouble \(1\):\n {2}kvm: a +m1 +pass -> pass \[new kernel_warning\] +http:\S+\n/)
  assert.match(gate.stdout, /\nv7 stopped early on m1: tests it never ran are not_run\n/)
  assert.match(gate.stdout, new RegExp(`\\nksft gate: FAIL: 1 regression, 1 not_run, 1 new_kernel_trouble \\(checked: ${DEFAULT_GATE}\\)\\n$`))

  // --fail-on can leave kernel trouble out; the run that stopped early still fails the gate
  const noTrouble = await runKsft(['gate', ...args, '--fail-on', 'not_run'])
  assert.equal(noTrouble.code, 1, noTrouble.stderr)
  assert.match(noTrouble.stdout, /\nksft gate: FAIL: 1 not_run \(checked: not_run\)\n$/)
  const onlyTrouble = await runKsft(['gate', ...args, '--fail-on', 'fixed,missing'])
  assert.equal(onlyTrouble.code, 0, onlyTrouble.stderr)
})

test('ksft compare follows the pages of a large comparison; the gate lists the first entries and counts the rest', async (t) => {
  const { app, token } = await buildTestApp(t)
  const many = (status: 'pass' | 'fail') => log(Object.fromEntries(Array.from({ length: 1100 }, (_, i) => [`t${String(i).padStart(4, '0')}`, status])))
  await upload(app, token, many('pass'), { series: 'big', version: 'v1', machine: 'm1' })
  await upload(app, token, many('fail'), { series: 'big', version: 'v2', machine: 'm1' })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const asked: string[] = []
  app.server.on('request', (request: { url: string }) => { asked.push(request.url) })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`

  const json = await runKsft(['compare', '--server', url, '--series', 'big', '--base', 'v1', '--head', 'v2', '--format', 'json'])
  assert.equal(json.code, 0, json.stderr)
  const report = JSON.parse(json.stdout) as CompareResponse
  assert.equal(report.counts.regression, 1100)
  assert.equal(report.entries.length, 1100, 'more than one page of 1000, all of it')
  assert.equal(new Set(report.entries.map(e => e.test)).size, 1100)
  assert.equal(report.nextCursor, null)

  asked.length = 0
  const gate = await runKsft(['gate', '--server', url, '--series', 'big', '--base', 'v1', '--head', 'v2'])
  assert.equal(gate.code, 1)
  // the counts first, with no entries, then the first entries of each bucket that has any
  assert.deepEqual(asked, [
    '/api/v1/series/big/compare?base=v1&head=v2&limit=0',
    '/api/v1/series/big/compare?base=v1&head=v2&bucket=regression&limit=20',
  ])
  assert.equal(gate.stdout.split('\n').filter(line => /^ {2}kvm: t\d{4} /.test(line)).length, 20)
  assert.match(gate.stdout, /\n {2}\.\.\. and 1080 more \(ksft compare --format text lists them all\)\n/)
})
