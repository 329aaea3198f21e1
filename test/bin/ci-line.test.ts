import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildTestApp } from '../helpers/app.ts'
import { freePort } from '../helpers/cli.ts'
import { PROJECT_ROOT } from '../helpers/fixtures.ts'
import { tempDir } from '../helpers/store.ts'

/**
 * The CI line of the README and docs/ci-hook.md, run as written under dash (Debian's sh, which has
 * no pipefail): it must fail when the server cannot be reached, where `curl ... | sh` passes.
 */

function ciLineOf (file: string): string {
  const line = readFileSync(join(PROJECT_ROOT, file), 'utf8').split('\n').find(l => l.startsWith('hook=$(curl'))
  assert.ok(line, `${file} has no line starting with hook=$(curl`)
  return line
}

const missing = ['dash', 'curl', 'gzip'].filter(tool => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
const skip = missing.length > 0 ? `${missing.join(', ')} missing` : false

const LOG = 'TAP version 13\n1..1\n# selftests: kvm: a\nok 1 selftests: kvm: a\n'

function dash (script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('dash', ['-c', script], { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.on('close', code => resolve({ code, stdout, stderr }))
  })
}

test('the README gives the same CI line as docs/ci-hook.md', () => {
  assert.equal(ciLineOf('README.md'), ciLineOf('docs/ci-hook.md'))
})

test('the CI line fails when the server is down, and uploads when it is up', { skip }, async (t) => {
  const line = ciLineOf('README.md')
  const dir = tempDir(t)
  writeFileSync(join(dir, 'ksft.log'), LOG)

  const down = `http://127.0.0.1:${await freePort()}`
  const failed = await dash(line, dir, { KSFT_SERVER: down, KSFT_TOKEN: 'unused' })
  assert.notEqual(failed.code, 0, 'the CI line passed with the server down')
  // what it replaced passes in the same place: the reason for the line
  const piped = await dash(`curl -fsS "$KSFT_SERVER/hook.sh" | sh -s -- --series s --version v1 ksft.log`, dir, { KSFT_SERVER: down })
  assert.equal(piped.code, 0)

  const { app, token } = await buildTestApp(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const up = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const stored = await dash(line, dir, { KSFT_SERVER: up, KSFT_TOKEN: token, KSFT_RETRIES: '0' })
  assert.equal(stored.code, 0, stored.stderr)
  assert.equal(stored.stdout, `${up}/runs/1\n`)

  const refused = await dash(line, dir, { KSFT_SERVER: up, KSFT_TOKEN: 'not-a-token', KSFT_RETRIES: '0' })
  assert.equal(refused.code, 1, refused.stderr)
})
