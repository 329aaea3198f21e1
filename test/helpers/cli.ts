import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { PROJECT_ROOT } from './fixtures.ts'

export const KSFT = join(PROJECT_ROOT, 'bin', 'ksft')
/**
 * bin/ksft runs dist/ when it is there. A test file run alone runs the sources as they are now, so
 * that an edit is tested without a build. `npm test` builds dist/ first (its pretest) and says so
 * with KSFT_TEST_BUILT=1: its ksft processes then run the compiled files, as a user's do, and each
 * starts in about a third of the time tsx takes to load the sources (the CLI, hook and hardening
 * suites took 3 min 42 s instead of 4 min 46 on 2 cores). test/bin/package-install.test.ts tests
 * the packed and installed package either way.
 */
export const FROM_SOURCE = process.env.KSFT_TEST_BUILT === '1' ? {} : { KSFT_FROM_SOURCE: '1' }

export interface CliResult { code: number, stdout: string, stderr: string }

/** Runs the real `ksft` command in a child process. */
export function runKsft (args: string[], options: { input?: string | Buffer, env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [KSFT, ...args], { env: { ...process.env, ...FROM_SOURCE, ...options.env }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
    })
    if (options.input !== undefined) child.stdin!.end(options.input)
    else child.stdin!.end()
  })
}

export async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')))
    })
  })
}

/** Starts `ksft serve` from the sources on a free port (see spawnServe); it is killed after the test. */
export async function startServer (t: TestContext, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ url: string, child: ChildProcess }> {
  const server = await spawnServe(args, { ...FROM_SOURCE, ...env })
  t.after(() => { if (server.child.exitCode === null) server.child.kill('SIGKILL') })
  return server
}

/**
 * Starts `ksft serve` on a free port of 127.0.0.1 and waits until /healthz answers. bin/ksft runs
 * dist/ when it is built, unless `env` says KSFT_FROM_SOURCE=1. The caller ends the child; one that
 * never answered is killed here.
 */
export async function spawnServe (args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ url: string, child: ChildProcess }> {
  const port = await freePort()
  const child = spawn(process.execPath, [KSFT, 'serve', '--host', '127.0.0.1', '--port', String(port), ...args], {
    env: { ...process.env, KSFT_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const url = `http://127.0.0.1:${port}`
  try {
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`ksft serve exited with ${child.exitCode}`)
      try {
        const res = await fetch(`${url}/healthz`)
        if (res.ok) return { url, child }
      } catch {}
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    throw new Error('ksft serve did not answer /healthz within 20 s')
  } catch (err) {
    if (child.exitCode === null) child.kill('SIGKILL')
    throw err
  }
}

export interface HeldUpload { done: Promise<{ status: number, body: string }>, send: (piece: string) => Promise<void>, end: () => void }

/** An upload whose body the test writes piece by piece. */
export function startUpload (url: string, token: string, query: string): HeldUpload {
  const req = request(`${url}/api/v1/runs?${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain', 'transfer-encoding': 'chunked' },
  })
  const done = new Promise<{ status: number, body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
  })
  return {
    done,
    // a connection the server closed never drains: the piece fails then, rather than waiting forever
    send: (piece) => new Promise((resolve, reject) => {
      if (req.destroyed) return reject(new Error('the upload\'s connection is closed'))
      if (req.write(piece)) return resolve()
      const drained = (): void => { req.off('close', closed); resolve() }
      const closed = (): void => { req.off('drain', drained); reject(new Error('the upload\'s connection closed before its body was sent')) }
      req.once('drain', drained)
      req.once('close', closed)
    }),
    end: () => req.end(),
  }
}
