/**
 * How long `ksft` takes to start and to store a small log, against `node -e 0` on the same machine
 * in the same run: the targets are ratios (`ksft --help` and `ksft gate --help` within 3x
 * of `node -e 0`, the median of 10) and a small real log ingested end to end within 0.3 s.
 *
 * It times bin/ksft as a user runs it, so the compiled dist/ (`npm run bench` builds it first).
 * The commands take turns within each round, so that a burst of load on a shared machine falls on
 * all of them rather than on one. `node --import tsx bench/cli-startup.ts` prints the figures.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { median, round } from './stats.ts'

const ROOT = join(import.meta.dirname, '..')
const KSFT = join(ROOT, 'bin', 'ksft')
export const SMALL_REAL_LOG = join(ROOT, '..', 'shared', 'fixtures', 'real', 'real-kvm-pvm-subset-8-tests.txt')

export interface CliStartupResult {
  runs: number
  /** Whether bin/ksft ran dist/ (false: the sources through tsx, as without a build). */
  compiled: boolean
  nodeMs: number
  helpMs: number
  gateHelpMs: number
  /** `ksft ingest` of the small real log into a new database; null without the fixtures. */
  ingestMs: number | null
  helpRatio: number
  gateHelpRatio: number
}

/** Wall time of one process from spawn to exit, in ms; a non-zero exit is an error. */
function timeProcess (argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now()
    const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.on('error', reject)
    child.on('close', (code) => {
      const ms = performance.now() - start
      if (code === 0) resolve(ms)
      else reject(new Error(`${argv.slice(1).join(' ')} exited with ${String(code)}: ${stderr.trim()}`))
    })
  })
}

export async function measureCliStartup (options: { runs?: number, log?: string } = {}): Promise<CliStartupResult> {
  const runs = options.runs ?? 10
  const log = options.log ?? SMALL_REAL_LOG
  const withLog = existsSync(log)
  const dir = mkdtempSync(join(tmpdir(), 'ksft-cli-startup-'))
  const node = process.execPath
  // the measured processes must not run the sources: no KSFT_FROM_SOURCE from a test's environment
  delete process.env.KSFT_FROM_SOURCE
  const times = { node: [] as number[], help: [] as number[], gateHelp: [] as number[], ingest: [] as number[] }
  try {
    // one unmeasured round: the first start reads the files from disk, the next from the page cache
    await timeProcess([node, KSFT, '--help'])
    for (let i = 0; i < runs; i++) {
      times.node.push(await timeProcess([node, '-e', '0']))
      times.help.push(await timeProcess([node, KSFT, '--help']))
      times.gateHelp.push(await timeProcess([node, KSFT, 'gate', '--help']))
      if (withLog) {
        const db = join(dir, `ingest-${i}.db`)
        times.ingest.push(await timeProcess([node, KSFT, 'ingest', log, '--db', db, '--series', 'cli startup', '--version', 'v1']))
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const nodeMs = median(times.node)
  const helpMs = median(times.help)
  const gateHelpMs = median(times.gateHelp)
  return {
    runs,
    compiled: existsSync(join(ROOT, 'dist', 'bin', 'cli.js')),
    nodeMs: round(nodeMs),
    helpMs: round(helpMs),
    gateHelpMs: round(gateHelpMs),
    ingestMs: withLog ? round(median(times.ingest)) : null,
    helpRatio: round(helpMs / nodeMs, 2),
    gateHelpRatio: round(gateHelpMs / nodeMs, 2),
  }
}

if (process.argv[1] === import.meta.filename) {
  process.stdout.write(`${JSON.stringify(await measureCliStartup(), null, 2)}\n`)
}
