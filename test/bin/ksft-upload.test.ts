import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { formatBytes, renderProgress } from '../../bin/commands/upload.ts'
import { buildTestApp } from '../helpers/app.ts'
import { freePort, FROM_SOURCE, KSFT, runKsft } from '../helpers/cli.ts'
import { realFixturePath, realFixturesSkip } from '../helpers/fixtures.ts'
import { tempDir } from '../helpers/store.ts'
import { startFlakyServer } from '../hook/flaky-server.ts'

// synthetic log written for these tests, used when the real logs are absent
const SYNTHETIC = 'TAP version 13\n1..2\n# selftests: kvm: a\nok 1 selftests: kvm: a\n# selftests: kvm: b\nnot ok 2 selftests: kvm: b # exit=254\n'
const META = ['--series', 'KVM: x86/mmu: a & b = c + 100% #2? Müller', '--version', 'v7']
// no variable of the machine running the tests may choose the server, the token or the pace
const QUIET = { KSFT_SERVER: '', KSFT_TOKEN: '', KSFT_RETRIES: '', KSFT_RETRY_DELAY: '0' }

function theLog (): { raw: Buffer, summary: RegExp } {
  if (realFixturesSkip) return { raw: Buffer.from(SYNTHETIC), summary: /2 tests: 1 pass, 1 fail$/m }
  return { raw: readFileSync(realFixturePath('real-kvm-pvm-subset-8-tests.txt')), summary: /8 tests: 4 pass, 2 fail, 2 skip$/m }
}

async function dashboard (t: TestContext) {
  const { app, token } = await buildTestApp(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const json = async (path: string) => {
    const res = await fetch(`${base}${path}`)
    return { status: res.status, body: await res.json() }
  }
  const log = async (id: number) => Buffer.from(await (await fetch(`${base}/api/v1/runs/${id}/log.txt`)).arrayBuffer())
  return { base, token, json, log }
}

test('ksft upload streams a file gzipped, tags it with the metadata flags and prints the run URL; again is the same run', async (t) => {
  if (realFixturesSkip) t.diagnostic(realFixturesSkip)
  const { base, token, json, log } = await dashboard(t)
  const wire = await startFlakyServer(t, base, [])
  const file = join(tempDir(t), 'ksft.log')
  const { raw, summary } = theLog()
  writeFileSync(file, raw)
  const args = ['upload', file, ...META, '--machine', 'snp-host-1', '--arch', 'x86_64', '--cpu', 'AMD EPYC 9654', '--flags', 'sev,sev_snp',
    '--kernel', '6.12.0-rc1', '--commit', 'ABCDEF1234567', '--base-commit', '1234567abcdef', '--job-url', 'https://ci.example.org/jobs/1?a=1&b=2',
    '--message-id', '<20240105-guest-memfd-v7-0-0123456789ab@example.org>', '--started-at', '2024-01-05T10:00:00Z']
  const env = { ...QUIET, KSFT_SERVER: wire.url, KSFT_TOKEN: token }

  const first = await runKsft(args, { env })
  assert.equal(first.code, 0, first.stderr)
  assert.equal(first.stdout, `${wire.url}/runs/1\n`)
  assert.match(first.stderr, /^ksft: run 1 stored: /)
  assert.match(first.stderr, summary)
  assert.doesNotMatch(first.stderr, /\r/, 'no progress bar when stderr is no terminal')

  const sent = wire.seen[0]!
  assert.equal(sent.headers['content-encoding'], 'gzip')
  assert.equal(sent.headers.authorization, `Bearer ${token}`)
  // a body sent as it is compressed has no length in advance: proof it was never buffered whole
  assert.equal(sent.headers['transfer-encoding'], 'chunked')
  assert.ok(gunzipSync(sent.body).equals(raw))

  const run = (await json('/api/v1/runs/1')).body
  assert.equal(run.series.name, 'KVM: x86/mmu: a & b = c + 100% #2? Müller')
  assert.equal(run.version.label, 'v7')
  assert.equal(run.version.messageId, '20240105-guest-memfd-v7-0-0123456789ab@example.org')
  assert.equal(run.version.baseCommit, '1234567abcdef')
  assert.deepEqual({ name: run.machine.name, arch: run.arch, cpu: run.cpu, flags: run.flags }, { name: 'snp-host-1', arch: 'x86_64', cpu: 'AMD EPYC 9654', flags: ['sev', 'sev_snp'] })
  assert.deepEqual({ kernel: run.kernel, commit: run.commit, jobUrl: run.jobUrl, startedAt: run.startedAt },
    { kernel: '6.12.0-rc1', commit: 'abcdef1234567', jobUrl: 'https://ci.example.org/jobs/1?a=1&b=2', startedAt: '2024-01-05T10:00:00.000Z' })
  assert.ok((await log(1)).equals(raw), 'the log arrives byte for byte')

  const again = await runKsft(args, { env })
  assert.equal(again.code, 0, again.stderr)
  assert.equal(again.stdout, first.stdout)
  assert.match(again.stderr, /^ksft: run 1 already stored \(same log and metadata\)/)
  assert.equal((await json('/api/v1/runs/2')).status, 404)
})

test('ksft upload - reads standard input, with --server and --token instead of the variables', async (t) => {
  const { base, token, json, log } = await dashboard(t)
  const res = await runKsft(['upload', '-', ...META, '--server', `${base}/`, '--token', token], { input: SYNTHETIC, env: QUIET })
  assert.equal(res.code, 0, res.stderr)
  assert.equal(res.stdout, `${base}/runs/1\n`)
  assert.equal((await json('/api/v1/runs/1')).body.machine.name, 'unknown')
  assert.ok((await log(1)).equals(Buffer.from(SYNTHETIC)))
})

test('ksft upload retries a 5xx with backoff and sends standard input again; a 4xx is never retried', async (t) => {
  const { base, token, log } = await dashboard(t)
  const flaky = await startFlakyServer(t, base, [{ status: 503 }, { status: 500 }])
  const env = { ...QUIET, KSFT_SERVER: flaky.url, KSFT_TOKEN: token, KSFT_RETRY_DELAY: '0.4' }
  const started = Date.now()
  const res = await runKsft(['upload', '-', ...META], { input: SYNTHETIC, env })
  assert.equal(res.code, 0, res.stderr)
  assert.ok(Date.now() - started >= 1200, 'waited 0.4 s, then 0.8 s')
  assert.match(res.stderr, /^ksft: the server answered 503 \(STORE_UNAVAILABLE: canned 503\); retrying in 0\.4s \(1 of 5 attempts made\)$/m)
  assert.match(res.stderr, /^ksft: the server answered 500 \(STORE_UNAVAILABLE: canned 500\); retrying in 0\.8s \(2 of 5 attempts made\)$/m)
  assert.equal(flaky.seen.length, 3)
  for (const seen of flaky.seen) assert.ok(gunzipSync(seen.body).equals(Buffer.from(SYNTHETIC)), 'standard input, read once, is sent whole every time')
  assert.ok((await log(1)).equals(Buffer.from(SYNTHETIC)))

  const refusing = await startFlakyServer(t, base, [{ status: 403, body: '{"error":{"code":"FORBIDDEN","message":"the token \\"ro\\" lacks the upload scope"}}' }])
  const refused = await runKsft(['upload', '-', ...META], { input: SYNTHETIC, env: { ...env, KSFT_SERVER: refusing.url } })
  assert.equal(refused.code, 1)
  assert.equal(refused.stderr, 'ksft: error: the server refused the upload (403 FORBIDDEN: the token "ro" lacks the upload scope)\n')
  assert.equal(refusing.seen.length, 1)

  const down = await startFlakyServer(t, null, Array.from({ length: 5 }, () => ({ status: 503 })))
  const gaveUp = await runKsft(['upload', '-', ...META], { input: SYNTHETIC, env: { ...env, KSFT_SERVER: down.url, KSFT_RETRIES: '1', KSFT_RETRY_DELAY: '0' } })
  assert.equal(gaveUp.code, 1)
  assert.match(gaveUp.stderr, /^ksft: error: giving up after 2 attempts: the server answered 503 \(STORE_UNAVAILABLE: canned 503\)$/m)
  assert.equal(down.seen.length, 2)
})

test('ksft upload to a wrong server: nothing listening, not a dashboard, a wrong path', async (t) => {
  const { base, token } = await dashboard(t)
  const file = join(tempDir(t), 'ksft.log')
  writeFileSync(file, SYNTHETIC)
  const port = await freePort()
  const closed = await runKsft(['upload', file, ...META], { env: { ...QUIET, KSFT_SERVER: `http://127.0.0.1:${port}`, KSFT_TOKEN: token, KSFT_RETRIES: '1' } })
  assert.equal(closed.code, 1)
  assert.match(closed.stderr, new RegExp(`^ksft: cannot reach http://127\\.0\\.0\\.1:${port}: connect ECONNREFUSED .*; retrying in 0s \\(1 of 2 attempts made\\)\\n`))
  assert.match(closed.stderr, /\nksft: error: giving up after 2 attempts: cannot reach .*ECONNREFUSED/)
  assert.equal(closed.stdout, '')

  const other = await startFlakyServer(t, null, [{ status: 200, headers: { 'content-type': 'text/html' }, body: '<html>\n<h1>It works!</h1>\n</html>' }])
  const notDashboard = await runKsft(['upload', file, ...META], { env: { ...QUIET, KSFT_SERVER: other.url, KSFT_TOKEN: token } })
  assert.equal(notDashboard.code, 1)
  assert.equal(notDashboard.stderr, `ksft: error: ${other.url} answered 200 without a run: is it a ksft-dashboard? (not a ksft-dashboard answer: <html> <h1>It works!</h1> </html>)\n`)

  const wrongPath = await runKsft(['upload', file, ...META], { env: { ...QUIET, KSFT_SERVER: `${base}/ksft`, KSFT_TOKEN: token } })
  assert.equal(wrongPath.code, 1)
  assert.equal(wrongPath.stderr, 'ksft: error: the server refused the upload (404 NOT_FOUND: no route for POST /ksft/api/v1/runs)\n')
})

test('ksft upload: the server\'s refusals are one line; bad metadata is caught before anything is sent', async (t) => {
  const { base, token, json } = await dashboard(t)
  const dir = tempDir(t)
  // 6 MiB that gzip cannot shrink: the 401 comes back while the log is still being sent
  writeFileSync(join(dir, 'big.log'), `${SYNTHETIC}${randomBytes(6 * 1024 * 1024).toString('base64')}\n`)
  writeFileSync(join(dir, 'notes.txt'), 'hello\nworld\n')
  const env = { ...QUIET, KSFT_SERVER: base, KSFT_TOKEN: token }

  const badToken = await runKsft(['upload', join(dir, 'big.log'), ...META], { env: { ...env, KSFT_TOKEN: 'ksft_1_not-a-real-token' } })
  assert.equal(badToken.code, 1)
  assert.equal(badToken.stderr, 'ksft: error: the server refused the upload (401 UNAUTHORIZED: the token is unknown or revoked)\n')
  assert.equal(badToken.stdout, '')

  const notKselftest = await runKsft(['upload', join(dir, 'notes.txt'), ...META], { env })
  assert.equal(notKselftest.code, 1)
  assert.equal(notKselftest.stderr, 'ksft: error: the server refused the upload (422 NOT_KSELFTEST: not a kselftest log: none of its 2 lines is a "selftests:" test header or a TAP result line)\n')

  const watched = await startFlakyServer(t, base, [])
  const badCommit = await runKsft(['upload', join(dir, 'notes.txt'), ...META, '--commit', 'not-a-sha'], { env: { ...env, KSFT_SERVER: watched.url } })
  assert.equal(badCommit.code, 1)
  assert.equal(badCommit.stderr, 'ksft: error: commit must be a git commit hash (7 to 64 hex digits)\n')
  assert.equal(watched.seen.length, 0)

  const missing = await runKsft(['upload', join(dir, 'missing.log'), ...META], { env })
  assert.equal(missing.stderr, `ksft: error: cannot read ${join(dir, 'missing.log')}: no such file\n`)
  const directory = await runKsft(['upload', dir, ...META], { env })
  assert.equal(directory.stderr, `ksft: error: cannot read ${dir}: is a directory\n`)
  assert.equal((await json('/api/v1/runs/1')).status, 404)
})

test('ksft upload without a server or a token, or with a bad retry count, is a usage error', async () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ KSFT_TOKEN: 't' }, 'ksft: error: no server: pass --server http://dash:8080 or set KSFT_SERVER\n'],
    [{ KSFT_SERVER: 'dash:8080', KSFT_TOKEN: 't' }, 'ksft: error: the server must be an http:// or https:// URL, not "dash:8080"\n'],
    [{ KSFT_SERVER: 'http://127.0.0.1:9' }, 'ksft: error: no token: set KSFT_TOKEN or pass --token (ksft token create makes one)\n'],
    [{ KSFT_SERVER: 'http://127.0.0.1:9', KSFT_TOKEN: 't', KSFT_RETRIES: 'lots' }, 'ksft: error: KSFT_RETRIES must be a number, not "lots"\n'],
  ]
  for (const [env, stderr] of cases) {
    const res = await runKsft(['upload', '-', ...META], { input: SYNTHETIC, env: { ...QUIET, ...env } })
    assert.equal(res.code, 2, stderr)
    assert.equal(res.stderr, stderr)
  }
})

const scriptSkip = spawnSync('sh', ['-c', 'command -v script']).status === 0 ? false : 'script (util-linux) is missing: no terminal to show a progress bar on'

test('ksft upload draws a progress bar when stderr is a terminal', { skip: scriptSkip }, async (t) => {
  const { base, token } = await dashboard(t)
  const file = join(tempDir(t), 'ksft.log')
  writeFileSync(file, `${SYNTHETIC}${'# filler line of a long kselftest log\n'.repeat(100_000)}`)
  // script(1) runs the command on a pseudo-terminal, as a developer's shell would
  const command = [process.execPath, KSFT, 'upload', file, '--series', 's', '--version', 'v1'].map(arg => `'${arg}'`).join(' ')
  const screen = await new Promise<{ code: number | null, out: string }>((resolve) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, ...FROM_SOURCE, ...QUIET, KSFT_SERVER: base, KSFT_TOKEN: token } })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
    child.on('close', code => resolve({ code, out }))
    child.stdin.end()
  })
  assert.equal(screen.code, 0, screen.out)
  assert.match(screen.out, /\ruploading ksft\.log \[#{30}\] 100% {2}3\.6 MiB \/ 3\.6 MiB\u001b\[K/)
  assert.match(screen.out, new RegExp(`${base}/runs/1`))
})

test('the progress line: a bar for a known size, a byte count for a pipe', () => {
  assert.equal(renderProgress('uploading ksft.log', 512 * 1024, 2 * 1024 * 1024), `uploading ksft.log [${'#'.repeat(8)}${'-'.repeat(22)}]  25%  512.0 KiB / 2.0 MiB`)
  assert.equal(renderProgress('uploading ksft.log', 0, 0), 'uploading ksft.log  0 B')
  assert.equal(renderProgress('reading standard input', 3 * 1024 ** 3, null), 'reading standard input  3.0 GiB')
  assert.equal(renderProgress('x', 10, 5).includes('100%'), true, 'never past 100%')
  assert.equal(formatBytes(1023), '1023 B')
})
