/**
 * Ingest into PostgreSQL against SQLite on the same log (issue 15's target: PostgreSQL at least
 * half of SQLite's throughput). The log is parsed, hashed and spooled once; each round then stores
 * it as a new run (another machine) in both stores in turn, and the medians are compared: the
 * store's own share of an ingest (one transaction), and the whole ingest (that plus the intake,
 * which is the same work for both backends). As in ingest-throughput.ts, a first run from another
 * machine has made the cases known, as for every run of a series after its first; the first
 * (cold) store of each backend is reported too.
 *
 * Not part of bench/run.ts yet. Run alone: `node --import tsx bench/postgres-ingest.ts [MB]`, with
 * KSFT_BENCH_DATABASE_URL naming an empty database, or else a throwaway cluster of Debian's
 * PostgreSQL (test/helpers/postgres.ts: fsync off, as a test cluster is).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseRunMetadata } from '../server/domain/run-metadata.ts'
import { LogIntake, storedLog } from '../server/services/ingest-log.ts'
import { openDatabase } from '../server/storage/sqlite/database.ts'
import { openPostgres } from '../server/storage/postgres/connect.ts'
import { PostgresRunStore } from '../server/storage/postgres/run-store.ts'
import { RunStore } from '../server/storage/sqlite/run-store.ts'
import { countResults } from './ingest-throughput.ts'
import { median, mb, round, timed } from './stats.ts'
import { OUT_DIR, benchMetadata, logFile, readLog, removeDatabase, shapeSpec } from './workloads.ts'

export interface PostgresIngestOptions {
  /** An empty PostgreSQL database. */
  url: string
  targetBytes: number
  rounds: number
}

export interface PostgresIngestResult {
  log: { bytes: number, results: number, intakeMs: number }
  /** The first store into an empty database of each (every case new), ms. */
  coldMs: { sqlite: number, postgres: number }
  /** Median store time of the rounds, ms, and the whole ingest's results per second (intake + store). */
  storeMs: { sqlite: number, postgres: number }
  resultsPerSecond: { sqlite: number, postgres: number }
  /** PostgreSQL's whole-ingest throughput over SQLite's: the target is >= 0.5. */
  postgresOverSqlite: number
  samples: { sqlite: number[], postgres: number[] }
}

export async function measurePostgresIngest (options: PostgresIngestOptions): Promise<PostgresIngestResult> {
  mkdirSync(OUT_DIR, { recursive: true })
  // dense in results as real full runs: a result every 250 bytes
  const log = await logFile(`pg-ingest-dense-250-${options.targetBytes}`, () => shapeSpec('dense-250', { seed: 1, targetBytes: options.targetBytes, tests: 0 }))
  const dir = mkdtempSync(join(OUT_DIR, 'pg-ingest-'))
  const dbPath = join(OUT_DIR, 'pg-ingest.db')
  removeDatabase(dbPath)
  const db = openDatabase(dbPath)
  const pool = await openPostgres(options.url)
  try {
    const intake = new LogIntake(dir)
    const { ms: intakeMs, value: result } = await timed(async () => {
      for await (const buffer of readLog(log.path)) await intake.push(buffer)
      return intake.finish()
    })
    intake.close()
    const sqlite = new RunStore(db)
    const postgres = new PostgresRunStore(pool)
    const meta = (machine: string) => parseRunMetadata(benchMetadata({ version: 'v1', machine }))
    const storeSqlite = async (machine: string) => (await timed(() => sqlite.ingestRun(meta(machine), result.parse, storedLog(dir, result)))).ms
    const storePostgres = async (machine: string) => (await timed(() => postgres.ingestRun(meta(machine), result.parse, storedLog(dir, result)))).ms
    const coldMs = { sqlite: await storeSqlite('bench-warm-up'), postgres: await storePostgres('bench-warm-up') }
    const samples: PostgresIngestResult['samples'] = { sqlite: [], postgres: [] }
    for (let round = 0; round < options.rounds; round++) {
      samples.sqlite.push(await storeSqlite(`bench-host-${round + 1}`))
      samples.postgres.push(await storePostgres(`bench-host-${round + 1}`))
    }
    const results = countResults(result.parse.tests)
    const storeMs = { sqlite: median(samples.sqlite), postgres: median(samples.postgres) }
    const rate = (ms: number) => Math.round(results / ((intakeMs + ms) / 1000))
    return {
      log: { bytes: log.bytes, results, intakeMs: round(intakeMs, 0) },
      coldMs: { sqlite: round(coldMs.sqlite, 0), postgres: round(coldMs.postgres, 0) },
      storeMs: { sqlite: round(storeMs.sqlite, 0), postgres: round(storeMs.postgres, 0) },
      resultsPerSecond: { sqlite: rate(storeMs.sqlite), postgres: rate(storeMs.postgres) },
      postgresOverSqlite: round((intakeMs + storeMs.sqlite) / (intakeMs + storeMs.postgres), 2),
      samples: { sqlite: samples.sqlite.map(v => round(v, 0)), postgres: samples.postgres.map(v => round(v, 0)) },
    }
  } finally {
    db.close()
    await pool.end()
    removeDatabase(dbPath)
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const targetBytes = Number(process.argv[2] ?? 60) * 1e6
  let url = process.env.KSFT_BENCH_DATABASE_URL
  let stop = async () => {}
  if (!url) {
    const { startPostgres } = await import('../test/helpers/postgres.ts')
    const server = await startPostgres()
    if (server === null) throw new Error("no PostgreSQL: set KSFT_BENCH_DATABASE_URL or install Debian's postgresql package")
    url = server.url
    stop = server.stop
  }
  try {
    const result = await measurePostgresIngest({ url, targetBytes, rounds: 3 })
    console.log(JSON.stringify(result, null, 2))
    console.log(`${mb(result.log.bytes).toFixed(0)} MB, ${result.log.results} results: store ${result.storeMs.postgres} ms (PostgreSQL) vs ${result.storeMs.sqlite} ms (SQLite); whole ingest ${result.postgresOverSqlite}x SQLite's throughput`)
  } finally {
    await stop()
  }
}
