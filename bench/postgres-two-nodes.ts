/**
 * Issue 15's scaling target: concurrent uploads through two `ksft serve` processes on one
 * PostgreSQL database reach at least 1.5× the throughput of one. The same distinct logs (dense, a
 * result every ~250 B as in real full runs) go from the same uploaders first all through one node,
 * then, on a fresh database, split between two nodes. Each phase is timed from the first request to
 * the last answer, and counts the results the database holds afterwards more than before.
 *
 * The nodes are real `ksft serve` processes on 127.0.0.1 (test/helpers/cli.ts, as the two-node
 * test starts them), each with a TMPDIR of its own for its upload spool, as on two machines, and
 * the upload rate limit off (it would be the thing measured otherwise). Every uploader has a token
 * of its own, as CI labs do. Before the clock starts, one log goes through each node: the cases
 * are then known, as for every run of a series after its first, and each node has parsed once.
 *
 * PostgreSQL, the nodes and the uploaders all share this machine's cores: the ratio is what a
 * second process gains on them, not what a second machine would.
 *
 * Run alone: `node --import tsx bench/postgres-two-nodes.ts [uploaders] [logs] [KB a log]` (by
 * default 8 96 1000, bench/run.ts's full plan; its quick plan is 2 4 250), on a throwaway cluster
 * (test/helpers/postgres.ts; KSFT_TEST_DATABASE_URL names a server instead).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'
import { openPostgres } from '../server/storage/postgres/connect.ts'
import { spawnServe } from '../test/helpers/cli.ts'
import { createUploadTokens, startPostgresOrSkip } from '../test/helpers/postgres.ts'
import { stopChild } from './children.ts'
import { localPostmaster, processesCpuSeconds, serverCpuSeconds } from './process-cpu.ts'
import { round } from './stats.ts'
import { upload } from './streaming-memory.ts'
import { OUT_DIR, benchMetadata, logFile, shapeSpec } from './workloads.ts'

export interface TwoNodesOptions {
  /** Concurrent uploaders, each sending its share of the logs one after the other. */
  uploaders: number
  /** Distinct logs uploaded in each phase. */
  logs: number
  logBytes: number
}

export interface NodesPhase {
  nodes: number
  uploads: number
  runsStored: number
  results: number
  /** Uploads that did not answer 201, and runs missing from the store. */
  errors: number
  seconds: number
  resultsPerSecond: number
  uploadsPerSecond: number
  /** The share of all cores' time that was busy while the uploads ran (every process on the machine). */
  cpuBusy: number
  /**
   * CPU seconds each part used while the uploads ran: the PostgreSQL server (every process of it),
   * the ksft serve nodes and the uploaders (this process). Null when PostgreSQL runs elsewhere.
   */
  cpuSeconds: CpuOfParts | null
}

export interface CpuOfParts { postgres: number, nodes: number, uploaders: number }

export interface TwoNodesResult {
  uploaders: number
  logs: number
  /** A log's mean size and results. */
  logBytes: number
  resultsPerLog: number
  oneNode: NodesPhase
  twoNodes: NodesPhase
  /** Two nodes' results per second over one node's: the target is >= 1.5. */
  twoOverOne: number
  /** The 1-minute load average as the measurement started and as it ended. */
  loadAverage: { start: number, end: number }
  targets: { oneAndAHalf: boolean, noErrorNoLoss: boolean }
}

const SERIES = 'bench: two nodes'
type Log = { path: string, bytes: number }

export async function measureTwoNodes (options: TwoNodesOptions & { createDatabase: () => Promise<string> }): Promise<TwoNodesResult> {
  mkdirSync(OUT_DIR, { recursive: true })
  // the timed logs, then one warm-up log for each node
  const logs: Log[] = []
  for (let i = 0; i < options.logs + 2; i++) {
    logs.push(await logFile(`two-nodes-dense-250-${options.logBytes}-${i}`, () => shapeSpec('dense-250', { seed: 500 + i, targetBytes: options.logBytes, tests: 0 })))
  }
  const timed = logs.slice(0, options.logs)
  const warmUp = logs.slice(options.logs)
  const start = loadavg()[0]!
  const oneNode = await phase(1, await options.createDatabase(), timed, warmUp, options.uploaders)
  const twoNodes = await phase(2, await options.createDatabase(), timed, warmUp, options.uploaders)
  const twoOverOne = round(twoNodes.resultsPerSecond / oneNode.resultsPerSecond, 2)
  return {
    uploaders: options.uploaders,
    logs: options.logs,
    logBytes: Math.round(timed.reduce((sum, log) => sum + log.bytes, 0) / timed.length),
    resultsPerLog: Math.round(oneNode.results / oneNode.uploads),
    oneNode,
    twoNodes,
    twoOverOne,
    loadAverage: { start: round(start, 2), end: round(loadavg()[0]!, 2) },
    targets: {
      oneAndAHalf: twoOverOne >= 1.5,
      noErrorNoLoss: oneNode.errors === 0 && twoNodes.errors === 0 && oneNode.results === twoNodes.results,
    },
  }
}

/** `nodes` serve processes on the empty database `url`; uploader u sends logs u, u + uploaders, ... to node u mod nodes. */
async function phase (nodes: number, url: string, logs: Log[], warmUp: Log[], uploaders: number): Promise<NodesPhase> {
  const pool = await openPostgres(url, { maxConnections: 1 })
  const children: ChildProcess[] = []
  const tmpDirs: string[] = []
  try {
    const tokens = await createUploadTokens(url, Array.from({ length: uploaders }, (_, u) => `bench-lab-${u + 1}`))
    const urls: string[] = []
    for (let n = 0; n < nodes; n++) {
      const dir = mkdtempSync(join(tmpdir(), 'ksft-bench-node-'))
      tmpDirs.push(dir)
      const node = await spawnServe(['--db', url], { TMPDIR: dir, KSFT_UPLOADS_PER_MINUTE: '0' })
      children.push(node.child)
      urls.push(node.url)
    }
    for (const [n, node] of urls.entries()) {
      const { status, body } = await upload(node, tokens[0]!, warmUp[n]!.path, benchMetadata({ series: SERIES, version: 'v0', machine: `bench-warm-up-${n + 1}` }))
      if (status !== 201) throw new Error(`the warm-up upload to node ${n + 1} answered ${status}: ${body.slice(0, 300)}`)
    }
    const before = await stored(pool)
    const { rows: [backend] } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
    const postmaster = localPostmaster(backend!.pid)
    const nodePids = children.map(child => child.pid!)
    const partsBefore = cpuOfParts(postmaster, nodePids)
    const cpuBefore = cpuTimes()
    const started = performance.now()
    const answers = await Promise.all(Array.from({ length: uploaders }, async (_, u) => {
      const statuses: Array<{ status: number, body: string }> = []
      for (let i = u; i < logs.length; i += uploaders) {
        const meta = benchMetadata({ series: SERIES, version: `v${(i % 4) + 1}`, machine: `ci-lab-${u + 1}`, run: i })
        statuses.push(await upload(urls[u % nodes]!, tokens[u]!, logs[i]!.path, meta))
      }
      return statuses
    }))
    const seconds = (performance.now() - started) / 1000
    const cpuAfter = cpuTimes()
    const partsAfter = cpuOfParts(postmaster, nodePids)
    const after = await stored(pool)
    const failed = answers.flat().filter(answer => answer.status !== 201)
    for (const answer of failed.slice(0, 3)) process.stderr.write(`two nodes, upload through ${nodes}: ${answer.status} ${answer.body.slice(0, 200)}\n`)
    const runsStored = after.runs - before.runs
    const results = after.results - before.results
    return {
      nodes,
      uploads: logs.length,
      runsStored,
      results,
      errors: failed.length + Math.max(0, logs.length - runsStored),
      seconds: round(seconds, 2),
      resultsPerSecond: Math.round(results / seconds),
      uploadsPerSecond: round(logs.length / seconds, 2),
      cpuBusy: round((cpuAfter.busy - cpuBefore.busy) / (cpuAfter.total - cpuBefore.total), 2),
      cpuSeconds: partsBefore === null || partsAfter === null
        ? null
        : {
            postgres: round(partsAfter.postgres - partsBefore.postgres, 2),
            nodes: round(partsAfter.nodes - partsBefore.nodes, 2),
            uploaders: round(partsAfter.uploaders - partsBefore.uploaders, 2),
          },
    }
  } finally {
    for (const child of children) await stopChild(child)
    await pool.end()
    for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true })
  }
}

/** CPU seconds used so far by the PostgreSQL server, the nodes and this process; null when the server is not on this machine. */
function cpuOfParts (postmaster: number | null, nodePids: number[]): CpuOfParts | null {
  const postgres = postmaster === null ? null : serverCpuSeconds(postmaster)
  const nodes = processesCpuSeconds(nodePids)
  if (postgres === null || nodes === null) return null
  const { user, system } = process.cpuUsage()
  return { postgres, nodes, uploaders: (user + system) / 1e6 }
}

/** Milliseconds all cores have spent since boot, and of those busy (not idle). */
function cpuTimes (): { busy: number, total: number } {
  let busy = 0
  let total = 0
  for (const { times } of cpus()) {
    const all = times.user + times.nice + times.sys + times.irq + times.idle
    total += all
    busy += all - times.idle
  }
  return { busy, total }
}

async function stored (pool: Awaited<ReturnType<typeof openPostgres>>): Promise<{ runs: number, results: number }> {
  const { rows: [counts] } = await pool.query<{ runs: number, results: number }>(
    'SELECT (SELECT count(*) FROM runs)::int AS runs, (SELECT count(*) FROM results)::int AS results')
  return counts!
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [uploaders = 8, logs = 96, kb = 1000] = process.argv.slice(2).map(Number)
  const server = await startPostgresOrSkip()
  if ('skipped' in server) {
    console.log(`skipped: ${server.skipped}`)
  } else {
    try {
      const result = await measureTwoNodes({ uploaders, logs, logBytes: kb * 1000, createDatabase: server.createDatabase })
      console.log(JSON.stringify(result, null, 2))
      console.log(`${result.logs} logs of ~${result.resultsPerLog} results from ${result.uploaders} uploaders: ` +
        `one node ${result.oneNode.resultsPerSecond} results/s, two nodes ${result.twoNodes.resultsPerSecond} results/s, ${result.twoOverOne}x (target 1.5x)`)
    } finally {
      await server.stop()
    }
  }
}
