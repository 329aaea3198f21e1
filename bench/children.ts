/** The benchmark's child processes: the server (bench/server-child.ts) and the `ksft` command. */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

const ROOT = join(import.meta.dirname, '..')

export interface ServerChild {
  pid: number
  url: string
  token: string
  stop: () => Promise<void>
}

export async function startServer (dbPath: string): Promise<ServerChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'server-child.ts'), dbPath], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = once(child, 'exit').then(([code]) => { throw new Error(`the bench server exited with ${String(code)} before listening`) })
  const firstLine = (async () => {
    for await (const line of createInterface({ input: child.stdout! })) return line
    throw new Error('the bench server printed nothing')
  })()
  const line = await Promise.race([firstLine, exited])
  exited.catch(() => {})
  const { port, token } = JSON.parse(line) as { port: number, token: string }
  return { pid: child.pid!, url: `http://127.0.0.1:${port}`, token, stop: () => stopChild(child) }
}

/** SIGTERM, then the exit awaited: a server closes what it holds first. */
export async function stopChild (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  await exited
}

export interface CliOutcome {
  code: number
  stdout: string
  stderr: string
  ms: number
  /** The command's peak RSS as the kernel counted it for the child (GNU time's %M), when /usr/bin/time exists. */
  peakRss: number | null
  pid: number
}

const TIME = '/usr/bin/time'
const PEAK_MARK = 'ksft-bench-peak-rss-kb '

/** Runs `bin/ksft ARGS`, calling `onStart` with its pid (the node process itself) once it is running. */
export async function runKsft (args: string[], onStart?: (pid: number) => void): Promise<CliOutcome> {
  const ksft = [process.execPath, join(ROOT, 'bin', 'ksft'), ...args]
  const timed = existsSync(TIME)
  // GNU time reports the child's ru_maxrss: the exact peak, which polling can only approach
  const argv = timed ? [TIME, '-f', `${PEAK_MARK}%M`, ...ksft] : ksft
  const start = performance.now()
  const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => { stdout += text })
  child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text })
  if (onStart) onStart(timed ? await childPid(child.pid!) : child.pid!)
  const [code] = await once(child, 'exit') as [number | null]
  const ms = performance.now() - start
  const mark = stderr.lastIndexOf(PEAK_MARK)
  const peakRss = mark === -1 ? null : Number.parseInt(stderr.slice(mark + PEAK_MARK.length), 10) * 1024
  if (mark !== -1) stderr = stderr.slice(0, mark)
  return { code: code ?? -1, stdout, stderr, ms, peakRss, pid: child.pid! }
}

/** The pid of the one child of `parent` (GNU time's node), once it has started. */
async function childPid (parent: number): Promise<number> {
  for (let attempt = 0; attempt < 500; attempt++) {
    try {
      const children = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim()
      if (children !== '') return Number(children.split(/\s+/)[0])
    } catch {
      return parent
    }
    await new Promise(resolve => setTimeout(resolve, 2))
  }
  return parent
}
