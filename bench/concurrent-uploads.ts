/**
 * Measurement 5: several CI clients uploading logs at once through POST /api/v1/runs while readers
 * keep asking for the trend. Every upload must answer 201 with a run of its own; afterwards every
 * run is read back and compared with what parsing its log locally gave, and the store must hold
 * exactly the runs that were uploaded: none lost, none twice.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseKselftestLog, summarize, type Summary } from '../ingest/index.ts'
import { openDatabase } from '../server/storage/sqlite/database.ts'
import { startServer } from './children.ts'
import { mb, round } from './stats.ts'
import { upload } from './streaming-memory.ts'
import { OUT_DIR, benchMetadata, fullRunSpec, logFile, removeDatabase } from './workloads.ts'

export interface UploadOptions {
  clients: number
  logsPerClient: number
  logBytes: number
  readers: number
}

export interface UploadResult {
  clients: number
  logsPerClient: number
  logBytes: number
  uploads: number
  runsStored: number
  distinctRuns: number
  errors: number
  seconds: number
  mbPerSecond: number
  runsPerSecond: number
  reads: { requests: number, errors: number, p50Ms: number, maxMs: number }
  targets: { noErrorNoLossNoDuplicate: boolean }
}

const SERIES = 'bench: concurrent uploads'

export async function measureConcurrentUploads (options: UploadOptions): Promise<UploadResult> {
  // one log per slot, each client sends all of them: different bytes per upload within a client
  const logs: Array<{ path: string, bytes: number, summary: Summary }> = []
  for (let i = 0; i < options.logsPerClient; i++) {
    const tests = Math.max(30, Math.round(options.logBytes / 33_000))
    const file = await logFile(`upload-${options.logBytes}-${i}`, () => fullRunSpec({ seed: 100 + i, targetBytes: options.logBytes, tests }))
    const summary = summarize(parseKselftestLog(readFileSync(file.path, 'utf8')).tests.map(test => test.status))
    logs.push({ ...file, summary })
  }

  const dbPath = join(OUT_DIR, 'uploads.db')
  removeDatabase(dbPath)
  const server = await startServer(dbPath)
  try {
    let uploading = true
    const readTimes: number[] = []
    let readErrors = 0
    const readers = Array.from({ length: options.readers }, async () => {
      while (uploading) {
        const start = performance.now()
        const res = await fetch(`${server.url}/api/v1/series/${encodeURIComponent(SERIES)}/trend`)
        await res.arrayBuffer()
        readTimes.push(performance.now() - start)
        // before the first run lands the series does not exist yet
        if (res.status !== 200 && res.status !== 404) readErrors++
      }
    })

    const start = performance.now()
    const outcomes: Array<{ client: number, log: number, status: number, runId: number | null, body: string }> = []
    await Promise.all(Array.from({ length: options.clients }, async (_, client) => {
      for (let i = 0; i < options.logsPerClient; i++) {
        const meta = benchMetadata({ series: SERIES, version: `v${(i % 4) + 1}`, machine: `ci-client-${client + 1}`, run: client * 1000 + i })
        const { status, body } = await upload(server.url, server.token, logs[i]!.path, meta)
        const runId = status === 201 ? (JSON.parse(body) as { id: number }).id : null
        outcomes.push({ client, log: i, status, runId, body })
      }
    }))
    const seconds = (performance.now() - start) / 1000
    uploading = false
    await Promise.all(readers)

    const failed = outcomes.filter(outcome => outcome.status !== 201)
    for (const outcome of failed.slice(0, 3)) process.stderr.write(`upload ${outcome.client}/${outcome.log}: ${outcome.status} ${outcome.body.slice(0, 200)}\n`)
    // every run as the server now tells it, against the log's own parse
    let wrong = 0
    for (const outcome of outcomes) {
      if (outcome.runId === null) continue
      const run = await (await fetch(`${server.url}/api/v1/runs/${outcome.runId}`)).json() as { machine: { name: string }, summary: Record<string, number> }
      if (run.machine.name !== `ci-client-${outcome.client + 1}` || JSON.stringify(run.summary) !== JSON.stringify(logs[outcome.log]!.summary)) wrong++
    }
    const runsStored = countRuns(dbPath)
    const distinctRuns = new Set(outcomes.map(outcome => outcome.runId).filter(id => id !== null)).size
    const uploads = options.clients * options.logsPerClient
    const bytes = options.clients * logs.reduce((sum, log) => sum + log.bytes, 0)
    const sorted = [...readTimes].sort((a, b) => a - b)
    return {
      clients: options.clients,
      logsPerClient: options.logsPerClient,
      logBytes: Math.round(logs.reduce((sum, log) => sum + log.bytes, 0) / logs.length),
      uploads,
      runsStored,
      distinctRuns,
      errors: failed.length + wrong,
      seconds: round(seconds, 2),
      mbPerSecond: round(mb(bytes) / seconds),
      runsPerSecond: round(uploads / seconds, 2),
      reads: {
        requests: readTimes.length,
        errors: readErrors,
        p50Ms: round(sorted[Math.floor(sorted.length / 2)] ?? 0, 1),
        maxMs: round(sorted[sorted.length - 1] ?? 0, 1),
      },
      targets: {
        noErrorNoLossNoDuplicate: failed.length === 0 && wrong === 0 && readErrors === 0 && runsStored === uploads && distinctRuns === uploads,
      },
    }
  } finally {
    await server.stop()
    removeDatabase(dbPath)
  }
}

function countRuns (dbPath: string): number {
  const db = openDatabase(dbPath, { readonly: true })
  try {
    return (db.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n
  } finally {
    db.close()
  }
}
