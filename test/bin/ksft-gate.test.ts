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
 * new failure, e goes missing. CLEAN v6 -> v7: nothing fails on either side, but e goes missing.
 */
async function server (t: TestContext, security = {}): Promise<{ url: string, app: FastifyInstance }> {
  const { app, token } = await buildTestApp(t, { security })
  const m1 = { machine: 'm1', arch: 'x86_64' }
  await upload(app, token, log({ a: 'pass', b: 'pass', c: 'fail', e: 'pass' }), { ...m1, series: SERIES, version: 'v6' })
  await upload(app, token, log({ a: 'pass', b: 'fail', c: 'fail', d: 'fail' }), { ...m1, series: SERIES, version: 'v7' })
  await upload(app, token, log({ a: 'pass', b: 'pass', e: 'pass' }), { ...m1, series: CLEAN, version: 'v6' })
  await upload(app, token, log({ a: 'pass', b: 'pass', d: 'pass' }), { ...m1, series: CLEAN, version: 'v7' })
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`, app }
}

test('ksft gate exits 1 on a regression and names it, 0 on a clean series, and --fail-on chooses the buckets', async (t) => {
  const { url } = await server(t)
  const failing = await runKsft(['gate', '--server', url, '--series', SERIES, '--base', 'v6', '--head', 'v7'])
  assert.equal(failing.code, 1, failing.stderr)
  assert.equal(failing.stderr, '')
  assert.match(failing.stdout, /^KVM: x86\/mmu: gate test \(series 1\): v6 -> v7, machines m1\n/)
  assert.match(failing.stdout, /\n {2}regression +1 {2}\(fails the gate\)\n/)
  assert.match(failing.stdout, /\n {2}new_failure +1 {2}\(fails the gate\)\n/)
  assert.match(failing.stdout, /\n {2}missing +1\n/)
  assert.match(failing.stdout, /\nregression \(1\):\n {2}kvm: b +m1 +pass -> fail +http:\/\/127\.0\.0\.1:\d+\/runs\/2#L\d+-L\d+\n/)
  assert.match(failing.stdout, /\nnew_failure \(1\):\n {2}kvm: d +m1 +- -> fail /)
  assert.doesNotMatch(failing.stdout, /still_failing \(/, 'the gate lists only the buckets it checks')
  assert.match(failing.stdout, /\nksft gate: FAIL: 1 regression, 1 new_failure \(checked: regression, new_failure\)\n$/)

  const clean = await runKsft(['gate', '--server', url, '--series', CLEAN, '--base', 'v6', '--head', 'v7'])
  assert.equal(clean.code, 0, clean.stderr)
  assert.match(clean.stdout, /\nksft gate: PASS: nothing in regression, new_failure\n$/)

  // the clean series lost a test: only a gate that asks about it fails
  const missing = await runKsft(['gate', '--server', url, '--series', '2', '--base', 'v6', '--head', 'v7', '--fail-on', 'regression,missing'])
  assert.equal(missing.code, 1, missing.stderr)
  assert.match(missing.stdout, /\nmissing \(1\):\n {2}kvm: e +m1 +pass -> -/)
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
    [['--server', url, '--series', SERIES, '--base', 'v6', '--head', 'v7', '--fail-on', 'regression,worse'], /--fail-on takes a comma list of regression, fixed, .*; not worse/],
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
    [['regression', 'b'], ['still_failing', 'c'], ['new_failure', 'd'], ['missing', 'e']])

  const text = await runKsft(['compare', ...args])
  assert.equal(text.code, 0, text.stderr)
  assert.match(text.stdout, /\nstill_failing \(1\):\n {2}kvm: c +m1 +fail -> fail /)
  assert.match(text.stdout, /\nmissing \(1\):\n/)
  assert.doesNotMatch(text.stdout, /ksft gate/)

  const markdown = await runKsft(['compare', ...args, '--format', 'markdown'])
  assert.equal(markdown.code, 0, markdown.stderr)
  assert.match(markdown.stdout, /^\*\*kselftest: KVM: x86\/mmu: gate test, v6 → v7\*\* \(machines m1\)\n\n/)
  assert.match(markdown.stdout, /\n\| regression \| fixed \| still failing \| new failure \| new \| missing \| flaky \| unchanged \|\n\|---:\|/)
  assert.match(markdown.stdout, /\n#### regression \(1\)\n\n\| test \| machine \| v6 \| v7 \| log \|\n\|---\|---\|---\|---\|---\|\n\| `kvm: b` \| m1 \| pass \| fail \| \[log\]\(http:\/\/127\.0\.0\.1:\d+\/runs\/2#L\d+-L\d+\) \|\n/)

  const gated = await runKsft(['compare', ...args, '--fail-on', 'still_failing'])
  assert.equal(gated.code, 1)
  const badFormat = await runKsft(['compare', ...args, '--format', 'html'])
  assert.equal(badFormat.code, 2)
  assert.match(badFormat.stderr, /argument 'html' is invalid. Allowed choices are text, json, markdown/)
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
