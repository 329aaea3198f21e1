/**
 * Ingest on logs as dense in results as real full runs (a result every ~1 KB and every ~250 B, with
 * nested subtests; see workloads.ts denseRunSpec), in two ways: in-process through ingestLog against
 * tap-parser on the same bytes (measureIngestThroughput), and through the `ksft ingest` process as a
 * user runs it, against tap-parser in the benchmark's process. The targets are ratios taken
 * in one run: in-process ≥ 5× tap-parser and ≥ 150 000 results/s, the process ≥ 3× tap-parser.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { measureIngestThroughput, type ThroughputResult } from './ingest-throughput.ts'
import { median, round } from './stats.ts'
import { OUT_DIR, removeDatabase, type LogShape } from './workloads.ts'

const KSFT = join(import.meta.dirname, '..', 'bin', 'ksft')

export interface DenseShapeResult {
  inProcess: ThroughputResult
  /** `ksft ingest FILE` as a child process, from spawn to exit, median over the rounds. */
  processMs: number
  processOverTapParser: number
  targets: { fiveTimesTapParser: boolean, resultsPerSecond: boolean, processThreeTimesTapParser: boolean }
}

export async function measureDenseIngest (options: { targetBytes: number, rounds: number }): Promise<Record<'dense-1k' | 'dense-250', DenseShapeResult>> {
  const out = {} as Record<'dense-1k' | 'dense-250', DenseShapeResult>
  for (const shape of ['dense-1k', 'dense-250'] as const satisfies readonly LogShape[]) {
    const inProcess = await measureIngestThroughput({ targetBytes: options.targetBytes, tests: 0, rounds: options.rounds, shape })
    const logPath = join(OUT_DIR, `throughput-${shape}-${options.targetBytes}.log`)
    const times: number[] = []
    for (let round = 0; round < options.rounds; round++) {
      const db = join(OUT_DIR, `dense-process-${shape}.db`)
      removeDatabase(db)
      times.push(await timeProcess([process.execPath, KSFT, 'ingest', logPath, '--db', db, '--series', 'bench dense', '--version', 'v1', '--machine', `bench-${round}`]))
      removeDatabase(db)
    }
    const processMs = median(times)
    const processOverTapParser = inProcess.ms.tapParser / processMs
    out[shape] = {
      inProcess,
      processMs: round(processMs, 0),
      processOverTapParser: round(processOverTapParser, 2),
      targets: {
        fiveTimesTapParser: inProcess.ratios.ingestOverTapParser >= 5,
        resultsPerSecond: inProcess.resultsPerSecond >= 150_000,
        processThreeTimesTapParser: processOverTapParser >= 3,
      },
    }
  }
  return out
}

function timeProcess (argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now()
    const env = { ...process.env }
    // time the command as installed: dist/ when built, never the sources a test asked for
    delete env.KSFT_FROM_SOURCE
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.on('error', reject)
    child.on('close', (code) => {
      if (code === 0) resolve(performance.now() - start)
      else reject(new Error(`ksft ingest exited with ${String(code)}: ${stderr.trim()}`))
    })
  })
}
