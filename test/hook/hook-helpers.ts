import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { TestContext } from 'node:test'
import { buildTestApp } from '../helpers/app.ts'
import { PROJECT_ROOT } from '../helpers/fixtures.ts'

/** What the tests of the upload hook (bin/ksft-upload.sh) share: the shells, a clean run, a machine, git and b4, a server. */

export const HOOK = join(PROJECT_ROOT, 'bin', 'ksft-upload.sh')

function missingCommand (name: string): string | false {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0 ? false : `${name} is not installed: the hook's tests under it are skipped`
}

export const SHELLS = [
  { name: 'dash', argv: ['dash'], skip: missingCommand('dash') },
  { name: 'busybox sh', argv: ['busybox', 'sh'], skip: missingCommand('busybox') },
]
export const toolsSkip = missingCommand('curl') || missingCommand('gzip') || missingCommand('git')

export interface HookResult { code: number, stdout: string, stderr: string, ms: number }

export function run (argv: string[], options: { env?: Record<string, string>, cwd?: string, input?: Buffer | string } = {}): Promise<HookResult> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    // a clean environment: a CI_JOB_URL or a proxy variable of the machine running the tests must
    // not leak into what the hook detects or where it connects
    const child = spawn(argv[0]!, argv.slice(1), { cwd: options.cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.env } })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), ms: Date.now() - started }))
    child.stdin.end(options.input)
  })
}

/** A machine as the hook sees it: a cpuinfo file and a sysfs tree of kvm module parameters. */
export function fakeMachine (dir: string, cpuinfo: string, params: Record<string, string> = {}): Record<string, string> {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'cpuinfo'), cpuinfo)
  for (const [path, value] of Object.entries(params)) {
    const file = join(dir, 'sys', 'module', path)
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, `${value}\n`)
  }
  return { KSFT_CPUINFO: join(dir, 'cpuinfo'), KSFT_SYSFS_ROOT: join(dir, 'sys'), HOME: dir, KSFT_RETRY_DELAY: '0' }
}

export function git (cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: cwd, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.org', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.org' },
  }).trim()
}

export const B4_CHANGE_ID = '20240105-guest-memfd-0123456789ab'
export const B4_HISTORY = { v1: ['20240105-guest-memfd-v1-0-0123456789ab@example.org'], v2: ['20240201-guest-memfd-v2-0-0123456789ab@example.org'] }

/**
 * A b4 cover-letter commit message, as `b4 prep` writes it (b4/ez.py make_magic_json): the
 * revision, the change-id, and the Message-IDs of the cover letters of the revisions sent before.
 */
export function b4Cover (title: string, revision: number, options: { changeId?: string, history?: Record<string, string[]> } = {}): string {
  const tracking = {
    series: {
      revision,
      'change-id': options.changeId ?? B4_CHANGE_ID,
      'base-branch': 'master',
      prefixes: [],
      history: options.history ?? B4_HISTORY,
    },
  }
  return `${title}\n\nWhat the series does.\n\n--- b4-submit-tracking ---\n# This section is used internally by b4 prep for tracking purposes.\n${JSON.stringify(tracking, null, 2)}\n`
}

/** The real app on 127.0.0.1 on a fresh store of the test backend (helpers/backend.ts) and an upload token. */
export async function dashboard (t: TestContext) {
  const { app, token } = await buildTestApp(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`)
    return { status: res.status, body: res.status === 200 && path.endsWith('.txt') ? Buffer.from(await res.arrayBuffer()) : await res.json() }
  }
  return { base, token, get }
}

/** The key=value lines of a dry run. */
export function dryRunMetadata (stdout: string): Record<string, string> {
  const fields: Record<string, string> = {}
  for (const line of stdout.split('\n')) {
    const m = /^([a-z_]+)=(.*)$/.exec(line)
    if (m) fields[m[1]!] = m[2]!
  }
  return fields
}

