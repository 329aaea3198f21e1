/**
 * `npm run bench:profile`: where ingest's time goes, from V8's CPU profiler (what `node --cpu-prof`
 * records), grouped by the part of the pipeline each function belongs to. Two cases: the logs of
 * the throughput measurements (the sparse 100 MB one and the two dense 60 MB ones) into a store that
 * knows their tests, and 10 000-result runs into a copy of the big store (when `npm run bench` has
 * built it). Prints a table per case, with the time per result.
 */
import { copyFileSync, existsSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'
import { generateLog } from '../server/demo/log-generator.ts'
import { parseRunMetadata } from '../server/domain/run-metadata.ts'
import { ingestLog } from '../server/services/ingest-log.ts'
import { openDatabase } from '../server/storage/sqlite/database.ts'
import { RunStore } from '../server/storage/sqlite/run-store.ts'
import { STORE_SERIES, runPlan, type StoreShape } from './store-shape.ts'
import { countResults } from './ingest-throughput.ts'
import { OUT_DIR, benchMetadata, fullRunSpec, logFile, readLog, removeDatabase, shapeSpec, storeRunSpec } from './workloads.ts'
import { inOneTransaction } from './one-transaction.ts'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** The part of the pipeline a function belongs to, from where it is defined. */
const PARTS: Array<[RegExp, string]> = [
  [/^\(garbage collector\)/, 'garbage collection'],
  [/^\(idle\)/, 'idle (waiting for reads and zlib threads)'],
  [/sqliteTransaction/, 'SQLite statements (ingestRun)'],
  [/tap-parser|tap-yaml/, 'tap-parser (nested results)'],
  [/\/ingest\//, 'the parser (ingest/)'],
  [/RegExp:/, 'the parser (ingest/)'],
  [/storage\/run-store|better-sqlite3/, 'SQLite statements (ingestRun)'],
  [/zlib/, 'deflate, main-thread side'],
  [/crypto/, 'sha256'],
  [/encoding|decode/, 'UTF-8 decoding'],
  [/node:fs|streams|^read /, 'reading the log'],
]

/**
 * A native function (no URL: SQLite's statement run, zlib's write, a hash update) counts for the
 * JavaScript that called it; a commit is the statement run by better-sqlite3's transaction wrapper.
 */
function partOf (node: ProfileNode, parents: Map<number, ProfileNode>): string {
  let at: ProfileNode | undefined = node
  while (at && at.callFrame.url === '' && !/^\((garbage collector|idle|program)\)$/.test(at.callFrame.functionName)) {
    const parent = parents.get(at.id)
    if (parent?.callFrame.functionName === 'sqliteTransaction') return 'SQLite commit (WAL write, checkpoint)'
    if (!parent) break
    at = parent
  }
  const { functionName, url } = (at ?? node).callFrame
  const name = `${functionName} ${url}`
  // the store's own JavaScript (its walk of the results, the case cache, the rows it binds) apart
  // from what SQLite does with them
  if (at === node && /storage\/run-store/.test(url)) return "the store's JavaScript (rows, case cache)"
  for (const [pattern, part] of PARTS) if (pattern.test(name)) return part
  return 'everything else'
}

async function profiled (work: () => Promise<void>): Promise<Profile> {
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 200 })
  await session.post('Profiler.start')
  await work()
  const { profile } = await session.post('Profiler.stop') as unknown as { profile: Profile }
  session.disconnect()
  return profile
}

function report (title: string, profile: Profile, results?: number): void {
  const byId = new Map(profile.nodes.map(node => [node.id, node]))
  const parents = new Map<number, ProfileNode>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node)
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const parts = new Map<string, number>()
  const functions = new Map<string, number>()
  let total = 0
  for (const [id, micros] of self) {
    const node = byId.get(id)!
    total += micros
    const part = partOf(node, parents)
    parts.set(part, (parts.get(part) ?? 0) + micros)
    const where = node.callFrame.url.split('/').slice(-2).join('/')
    const key = `${node.callFrame.functionName || '(anonymous)'} ${where}${where ? `:${node.callFrame.lineNumber + 1}` : ''}`
    functions.set(key, (functions.get(key) ?? 0) + micros)
  }
  const perResult = (micros: number) => results ? ` ${(micros / results).toFixed(2).padStart(6)} µs/result` : ''
  const line = (micros: number, label: string) => `  ${(micros / 1000).toFixed(0).padStart(7)} ms ${(100 * micros / total).toFixed(1).padStart(5)}%${perResult(micros)}  ${label}`
  process.stdout.write(`\n${title}: ${(total / 1000).toFixed(0)} ms of main-thread samples\n`)
  for (const [part, micros] of [...parts].sort((a, b) => b[1] - a[1])) process.stdout.write(`${line(micros, part)}\n`)
  process.stdout.write('  the top functions:\n')
  for (const [name, micros] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, 12)) process.stdout.write(`${line(micros, name)}\n`)
}

// 1: the throughput measurement's logs (sparse, and as dense in results as real full runs), each
// three times into a store that has seen its tests once
for (const [name, spec] of [
  ['throughput-100000000-3000', () => fullRunSpec({ seed: 1, targetBytes: 100e6, tests: 3000 })],
  ['throughput-dense-1k-60000000', () => shapeSpec('dense-1k', { seed: 1, targetBytes: 60e6, tests: 0 })],
  ['throughput-dense-250-60000000', () => shapeSpec('dense-250', { seed: 1, targetBytes: 60e6, tests: 0 })],
] as const) {
  const log = await logFile(name, spec)
  const dbPath = join(OUT_DIR, 'profile-throughput.db')
  removeDatabase(dbPath)
  const db = openDatabase(dbPath)
  const store = new RunStore(db)
  const ingest = async (machine: string) => {
    return ingestLog(readLog(log.path), parseRunMetadata(benchMetadata({ version: 'v1', machine })), inOneTransaction(store), { maxBytes: Number.MAX_SAFE_INTEGER, spoolDir: OUT_DIR })
  }
  const results = countResults((await ingest('profile-warm-up')).parse.tests)
  const profile = await profiled(async () => {
    for (let round = 1; round <= 3; round++) await ingest(`profile-${round}`)
  })
  db.close()
  removeDatabase(dbPath)
  report(`ingest of a ${(log.bytes / 1e6).toFixed(0)} MB log with ${results.toLocaleString('en-US')} results, 3 times`, profile, results * 3)
}

// 2: runs of 10 000 results into a copy of the big store
{
  const source = join(OUT_DIR, 'store-10m.db')
  if (!existsSync(source)) {
    process.stdout.write('\n(no bench/out/store-10m.db: run npm run bench first to profile runs into the big store)\n')
  } else {
    const shape: StoreShape = { runs: 1000, versions: 20, machines: 4, tests: 500, subtests: 19, snapshotRuns: 100 }
    const dbPath = join(OUT_DIR, 'profile-store.db')
    removeDatabase(dbPath)
    copyFileSync(source, dbPath)
    const db = openDatabase(dbPath)
    const store = new RunStore(db)
    const runs = 20
    const logs = Array.from({ length: runs }, (_, i) => {
      const plan = runPlan(shape, i)
      return { plan, bytes: Buffer.from(generateLog(storeRunSpec({ seed: 90_000 + i, tests: shape.tests, subtests: shape.subtests, arch: plan.arch }))) }
    })
    const profile = await profiled(async () => {
      for (const [i, { plan, bytes }] of logs.entries()) {
        const meta = parseRunMetadata(benchMetadata({ series: STORE_SERIES, version: plan.version, machine: plan.machine, arch: plan.arch, run: 90_000 + i }))
        await ingestLog((async function * () { yield bytes })(), meta, inOneTransaction(store), { spoolDir: OUT_DIR })
      }
    })
    db.close()
    removeDatabase(dbPath)
    report(`${runs} runs of 10 000 results into the 10M-result store`, profile)
  }
}
