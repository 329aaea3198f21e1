/**
 * `npm run bench`: every measurement of docs/performance.md in one process run, so that ratios are
 * taken on the same machine at the same time; prints a table and writes bench/results.json, then
 * docs/performance.md's tables and chart from it. `npm run bench -- --quick` runs the same code on
 * small inputs in seconds (CI runs it so that the benchmark never rots); its results go to
 * bench/out/ and judge nothing.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { bigStore } from './big-store.ts'
import { measureCliStartup } from './cli-startup.ts'
import { measureDenseIngest } from './dense-ingest.ts'
import { measureConcurrentUploads } from './concurrent-uploads.ts'
import { growthOf } from './growth.ts'
import { measureHttpThroughput } from './http-throughput.ts'
import { measureIngestThroughput } from './ingest-throughput.ts'
import { measureKnownIssueMatching } from './known-issue-matching.ts'
import { measurePostgres } from './postgres.ts'
import { measureQueryLatency } from './query-latency.ts'
import { writeReport } from './report.ts'
import { printTable } from './table.ts'
import { measureStreamingMemory } from './streaming-memory.ts'
import type { StoreShape } from './store-shape.ts'
import { OUT_DIR } from './workloads.ts'

const quick = process.argv.includes('--quick')

const PLAN = quick
  ? {
      throughput: { targetBytes: 5e6, tests: 150, rounds: 1 },
      dense: { targetBytes: 3e6, rounds: 1 },
      cliRuns: 2,
      memory: { sizes: [2e6, 8e6], tests: 100, limit: 300e6 },
      store: { runs: 40, versions: 4, machines: 2, tests: 40, subtests: 4, snapshotRuns: 8 } satisfies StoreShape,
      queryCalls: 8,
      httpSeconds: 1,
      uploads: { clients: 2, logsPerClient: 2, logBytes: 1e6, readers: 1 },
      knownIssues: { issues: 500, tests: 50, subtests: 19, rounds: 1 },
      postgres: { ingestBytes: 2e6, ingestRounds: 1, nodes: { uploaders: 2, logs: 4, logBytes: 250e3 } },
    }
  : {
      throughput: { targetBytes: 100e6, tests: 3000, rounds: 3 },
      dense: { targetBytes: 60e6, rounds: 3 },
      cliRuns: 10,
      memory: { sizes: [100e6, 1e9], tests: 3000, limit: 300e6 },
      // about 1 000 runs over 20 versions and 4 machines, 10 000 results a run
      store: { runs: 1000, versions: 20, machines: 4, tests: 500, subtests: 19, snapshotRuns: 100 } satisfies StoreShape,
      queryCalls: 60,
      httpSeconds: 5,
      uploads: { clients: 8, logsPerClient: 20, logBytes: 5e6, readers: 2 },
      // a 10 000-result upload against 10 000 known issues
      knownIssues: { issues: 10_000, tests: 500, subtests: 19, rounds: 7 },
      // the dense log of section 1b into both backends; 96 uploads of ~4 000 results through one
      // node, then two (about a minute); the smaller store copied for its queries
      postgres: { ingestBytes: 60e6, ingestRounds: 3, nodes: { uploaders: 8, logs: 96, logBytes: 1e6 } },
    }

function log (line: string): void {
  process.stderr.write(`${line}\n`)
}

async function section<T> (name: string, work: () => Promise<T>): Promise<T & { elapsedSeconds: number }> {
  log(`${name} ...`)
  const start = performance.now()
  const value = await work()
  const seconds = Math.round((performance.now() - start) / 100) / 10
  log(`${name}: ${seconds} s`)
  return { ...value, elapsedSeconds: seconds }
}

mkdirSync(OUT_DIR, { recursive: true })
const started = performance.now()
const machine = {
  cores: cpus().length,
  cpu: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  sqlite: (new BetterSqlite3(':memory:').prepare('SELECT sqlite_version() AS v').get() as { v: string }).v,
  platform: `${process.platform} ${process.arch}`,
  /** The machine is shared: its load when the benchmark started and ended (1, 5 and 15 minutes). */
  loadAverage: { start: loadavg().map(load => Math.round(load * 100) / 100), end: [] as number[] },
}

const cliStartup = await section('0. CLI start-up', () => measureCliStartup({ runs: PLAN.cliRuns }))
const throughput = await section('1. ingest throughput', () => measureIngestThroughput(PLAN.throughput))
const dense = await section('1b. ingest of dense logs', () => measureDenseIngest(PLAN.dense))
const memory = await section('2. streaming memory', () => measureStreamingMemory(PLAN.memory))
const store = await section('big store', () => bigStore(PLAN.store, quick ? 'store-quick' : 'store-10m', log))
const smallQueries = await section('3. query latency, smaller store', () =>
  measureQueryLatency(store.snapshotPath, PLAN.store, { runs: PLAN.store.snapshotRuns, results: store.snapshotResults }, PLAN.queryCalls))
const queries = await section('3. query latency, big store', () =>
  measureQueryLatency(store.path, PLAN.store, { runs: store.runs, results: store.results }, PLAN.queryCalls))
const http = await section('4. HTTP throughput', () => measureHttpThroughput(store.path, PLAN.httpSeconds))
const uploads = await section('5. concurrent uploads', () => measureConcurrentUploads(PLAN.uploads))
const postgres = await section('8. PostgreSQL', () => measurePostgres({
  ...PLAN.postgres, queryCalls: PLAN.queryCalls, storePath: store.path, shape: PLAN.store, stored: { runs: store.runs, results: store.results },
}))
const knownIssues = await section('6. known-issue matching at ingest', () => measureKnownIssueMatching(PLAN.knownIssues))
const growth = growthOf(store, smallQueries, queries)

machine.loadAverage.end = loadavg().map(load => Math.round(load * 100) / 100)
const results = {
  quick,
  date: new Date().toISOString(),
  totalSeconds: Math.round((performance.now() - started) / 1000),
  machine,
  cliStartup,
  throughput,
  dense,
  memory,
  store: { ...store, path: undefined, snapshotPath: undefined, timings: undefined },
  queries: { smaller: smallQueries, bigger: queries },
  http,
  uploads,
  knownIssues,
  postgres,
  growth,
}

printTable(results)
const path = quick ? join(OUT_DIR, 'results-quick.json') : join(import.meta.dirname, 'results.json')
writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`)
log(`results: ${path}`)
if (!quick) await writeReport(results)

export type BenchResults = typeof results
