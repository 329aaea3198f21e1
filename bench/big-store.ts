/**
 * The big store of measurements 3 and 6, built through the real ingest path (ingestLog: parse,
 * hash, deflate, one transaction per run) from generated logs, with the time each run took. A
 * finished store is kept in bench/out with a sidecar naming its shape and a hash of the code that
 * made it; the next benchmark reuses it when both match, and builds it again otherwise.
 */
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { parseRunMetadata } from '../server/domain/run-metadata.ts'
import { ingestLog } from '../server/services/ingest-log.ts'
import { openDatabase } from '../server/storage/sqlite/database.ts'
import { RunStore } from '../server/storage/sqlite/run-store.ts'
import { countResults } from './ingest-throughput.ts'
import { median, round } from './stats.ts'
import { STORE_SERIES, runPlan, type StoreShape } from './store-shape.ts'
import { OUT_DIR, benchMetadata, readSidecar, removeDatabase, writeSidecar } from './workloads.ts'
import { inOneTransaction } from './one-transaction.ts'

export interface RunTiming {
  /** Results stored before this run. */
  resultsBefore: number
  results: number
  ms: number
}

export interface BigStore {
  path: string
  snapshotPath: string
  shape: StoreShape
  runs: number
  results: number
  snapshotResults: number
  bytes: number
  reused: boolean
  builtAt: string
  buildMs: number
  timings: RunTiming[]
}

interface Sidecar extends Omit<BigStore, 'path' | 'snapshotPath' | 'reused'> {
  codeHash: string
}

const ROOT = join(import.meta.dirname, '..')
/** What the store's content and its build times depend on: the generator, the parser, the ingest path, the schema (the files of each directory named, not of its subdirectories). */
const CODE = [
  'server/demo', 'ingest', 'server/domain', 'server/services', 'server/storage/migrations/sqlite', 'server/storage/sqlite/run-store.ts',
  'server/storage/sqlite/database.ts', 'bench/workloads.ts', 'bench/store-shape.ts', 'bench/big-store.ts', 'bench/store-log-worker.ts',
]

export async function bigStore (shape: StoreShape, name: string, log: (line: string) => void): Promise<BigStore> {
  const path = join(OUT_DIR, `${name}.db`)
  const snapshotPath = join(OUT_DIR, `${name}-snapshot.db`)
  const codeHash = hashCode()
  const sidecar = readSidecar<Sidecar>(name)
  if (sidecar && sidecar.codeHash === codeHash && JSON.stringify(sidecar.shape) === JSON.stringify(shape) &&
    existsSync(path) && existsSync(snapshotPath)) {
    const { codeHash: _, ...kept } = sidecar
    return { ...kept, path, snapshotPath, reused: true }
  }

  removeDatabase(path)
  removeDatabase(snapshotPath)
  const built = await build(shape, path, snapshotPath, log)
  const store: Sidecar = { ...built, codeHash }
  writeSidecar(name, store)
  return { ...built, path, snapshotPath, reused: false }
}

async function build (shape: StoreShape, path: string, snapshotPath: string, log: (line: string) => void): Promise<Omit<BigStore, 'path' | 'snapshotPath' | 'reused'>> {
  const start = performance.now()
  const db = openDatabase(path)
  const store = new RunStore(db)
  const timings: RunTiming[] = []
  let results = 0
  let snapshotResults = 0
  const logs = new LogQueue(shape)
  try {
    for (let run = 0; run < shape.runs; run++) {
      const bytes = await logs.take(run)
      const plan = runPlan(shape, run)
      const meta = parseRunMetadata(benchMetadata({ series: STORE_SERIES, version: plan.version, machine: plan.machine, arch: plan.arch, run }))
      const runStart = performance.now()
      const outcome = await ingestLog(once(bytes), meta, inOneTransaction(store), { spoolDir: OUT_DIR })
      const ms = performance.now() - runStart
      if (!outcome.created) throw new Error(`run ${run} of the big store was already there`)
      const count = countResults(outcome.parse.tests)
      timings.push({ resultsBefore: results, results: count, ms: round(ms, 1) })
      results += count
      if (run + 1 === shape.snapshotRuns) {
        // a consistent copy of the smaller store: everything is in the main file after a checkpoint
        db.pragma('wal_checkpoint(TRUNCATE)')
        copyFileSync(path, snapshotPath)
        snapshotResults = results
      }
      if ((run + 1) % Math.max(1, Math.floor(shape.runs / 10)) === 0) {
        const recent = timings.slice(-Math.floor(shape.runs / 10)).map(timing => timing.ms)
        log(`  big store: ${run + 1}/${shape.runs} runs, ${(results / 1e6).toFixed(2)}M results, median ${median(recent).toFixed(0)} ms a run lately`)
      }
    }
    db.pragma('wal_checkpoint(TRUNCATE)')
  } finally {
    await logs.close()
    db.close()
  }
  return {
    shape,
    runs: shape.runs,
    results,
    snapshotResults,
    bytes: fileSize(path),
    builtAt: new Date().toISOString(),
    buildMs: round(performance.now() - start, 0),
    timings,
  }
}

async function * once (bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes
}

/** The worker's logs, a few runs ahead of the ingest. */
class LogQueue {
  private readonly worker: Worker
  private readonly ready = new Map<number, Buffer>()
  private waiting: { run: number, resolve: (bytes: Buffer) => void, reject: (err: Error) => void } | null = null
  private failure: Error | null = null

  constructor (shape: StoreShape) {
    // a worker starts without the parent's loader hooks: it registers tsx itself
    this.worker = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(new URL('./store-log-worker.ts', import.meta.url).href)}) })`, {
      eval: true,
      workerData: { shape, from: 0 },
    })
    this.worker.on('message', ({ run, log }: { run: number, log: ArrayBuffer }) => {
      const bytes = Buffer.from(log)
      if (this.waiting?.run === run) {
        const { resolve } = this.waiting
        this.waiting = null
        resolve(bytes)
      } else this.ready.set(run, bytes)
    })
    this.worker.on('error', (err) => {
      this.failure = err
      this.waiting?.reject(err)
      this.waiting = null
    })
    // enough ahead to cover a slow generation, few enough to keep memory small
    this.worker.postMessage({ credit: 8 })
  }

  async take (run: number): Promise<Buffer> {
    if (this.failure) throw this.failure
    this.worker.postMessage({ credit: 1 })
    const bytes = this.ready.get(run)
    if (bytes) {
      this.ready.delete(run)
      return bytes
    }
    return new Promise((resolve, reject) => { this.waiting = { run, resolve, reject } })
  }

  async close (): Promise<void> {
    await this.worker.terminate()
  }
}

function fileSize (path: string): number {
  return statSync(path).size
}

function hashCode (): string {
  const hash = createHash('sha256')
  for (const entry of CODE) {
    const full = join(ROOT, entry)
    const files = entry.endsWith('.ts') ? [full] : readdirSync(full).filter(file => /\.(ts|sql)$/.test(file)).sort().map(file => join(full, file))
    for (const file of files) hash.update(file).update(readFileSync(file))
  }
  return hash.digest('hex').slice(0, 16)
}
