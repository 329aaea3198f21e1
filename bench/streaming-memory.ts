/**
 * Measurement 2: peak resident memory while one big log is ingested, through `bin/ksft ingest`
 * and through POST /api/v1/runs to a server process, each in a process of its own so that the
 * figure is that process's and nothing else's. Two sizes of the same shape of log show whether the
 * peak depends on the size.
 */
import { createReadStream } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { runKsft, startServer } from './children.ts'
import { residentMemory, watchPeakMemory } from './process-memory.ts'
import { mb, round } from './stats.ts'
import { OUT_DIR, benchMetadata, fullRunSpec, logFile, removeDatabase } from './workloads.ts'

export interface MemoryOptions {
  /** Log sizes in bytes, smallest first. */
  sizes: number[]
  tests: number
  /** The peak allowed, bytes. */
  limit: number
}

export interface MemoryPoint {
  via: 'cli' | 'http'
  logBytes: number
  /** Peak RSS of the process over its life (CLI) or over the upload (server), bytes. */
  peakRss: number
  /** For the server: its RSS once listening, before the upload. */
  idleRss: number | null
  ms: number
  mbPerSecond: number
}

export interface MemoryResult {
  points: MemoryPoint[]
  limitBytes: number
  targets: { underLimit: boolean }
}

export async function measureStreamingMemory (options: MemoryOptions): Promise<MemoryResult> {
  const points: MemoryPoint[] = []
  for (const size of options.sizes) {
    const log = await logFile(`memory-${size}-${options.tests}`, () => fullRunSpec({ seed: 2, targetBytes: size, tests: options.tests }))
    points.push(await throughCli(log.path, log.bytes))
    points.push(await throughHttp(log.path, log.bytes))
  }
  return {
    points,
    limitBytes: options.limit,
    targets: { underLimit: points.every(point => point.peakRss < options.limit) },
  }
}

async function throughCli (path: string, bytes: number): Promise<MemoryPoint> {
  const dbPath = join(OUT_DIR, 'memory-cli.db')
  removeDatabase(dbPath)
  let stopWatching = (): number => 0
  const meta = benchMetadata({ version: 'v1', machine: 'memory-cli' })
  const outcome = await runKsft([
    'ingest', path, '--db', dbPath, '--max-bytes', String(bytes),
    '--series', meta.series!, '--version', meta.version!, '--machine', meta.machine!, '--arch', meta.arch!,
  ], pid => { stopWatching = watchPeakMemory(pid).stop })
  const polled = stopWatching()
  removeDatabase(dbPath)
  if (outcome.code !== 0) throw new Error(`ksft ingest failed (${outcome.code}): ${outcome.stderr}`)
  return {
    via: 'cli',
    logBytes: bytes,
    peakRss: Math.max(outcome.peakRss ?? 0, polled),
    idleRss: null,
    ms: round(outcome.ms, 0),
    mbPerSecond: round(mb(bytes) / (outcome.ms / 1000)),
  }
}

async function throughHttp (path: string, bytes: number): Promise<MemoryPoint> {
  const dbPath = join(OUT_DIR, 'memory-http.db')
  removeDatabase(dbPath)
  const server = await startServer(dbPath)
  try {
    const idle = residentMemory(server.pid)
    const watch = watchPeakMemory(server.pid)
    const start = performance.now()
    const { status, body } = await upload(server.url, server.token, path, benchMetadata({ version: 'v1', machine: 'memory-http' }))
    const ms = performance.now() - start
    const peak = watch.stop()
    if (status !== 201) throw new Error(`the upload answered ${status}: ${body.slice(0, 300)}`)
    return {
      via: 'http',
      logBytes: bytes,
      peakRss: peak,
      idleRss: idle?.rss ?? null,
      ms: round(ms, 0),
      mbPerSecond: round(mb(bytes) / (ms / 1000)),
    }
  } finally {
    await server.stop()
    removeDatabase(dbPath)
  }
}

/** POSTs a log file as a streamed text/plain body; resolves with the answer. */
export async function upload (base: string, token: string, path: string, meta: Record<string, string>): Promise<{ status: number, body: string }> {
  const url = `${base}/api/v1/runs?${new URLSearchParams(meta).toString()}`
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${token}` },
    }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (text: string) => { body += text })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', reject)
    })
    req.on('error', reject)
    pipeline(createReadStream(path), req).catch(reject)
  })
}
