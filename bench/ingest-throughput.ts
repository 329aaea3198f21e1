/**
 * Measurement 1: end-to-end ingest of one big log (read the file, parse, hash, deflate the raw log,
 * store everything in one transaction, commit) next to two references on the same bytes, read the
 * same way: tap-parser alone, and a plain loop that splits the text into line strings and walks
 * them (the floor any line parser pays). The three run in turns, several rounds in one process, so
 * that a noisy machine slows them alike; the medians are compared.
 */
import { join } from 'node:path'
import { Parser } from 'tap-parser'
import { KselftestLogParser, type SubtestRecord, type TestRecord } from '../ingest/index.ts'
import { parseRunMetadata } from '../server/domain/run-metadata.ts'
import { ingestLog } from '../server/services/ingest-log.ts'
import { openDatabase } from '../server/storage/sqlite/database.ts'
import { RunStore } from '../server/storage/sqlite/run-store.ts'
import { median, mb, round } from './stats.ts'
import { OUT_DIR, benchMetadata, logFile, readLog, removeDatabase, shapeSpec, type LogShape } from './workloads.ts'
import { inOneTransaction } from './one-transaction.ts'

export interface ThroughputOptions {
  targetBytes: number
  /** Tests of the sparse shape; the dense shapes take as many as their density needs. */
  tests: number
  rounds: number
  shape?: LogShape
}

export interface ThroughputResult {
  shape: LogShape
  log: { bytes: number, lines: number, tests: number, results: number, generatedMs: number }
  rounds: number
  /** Median wall time of each contender over the rounds, ms. */
  ms: { ingest: number, parseOnly: number, tapParser: number, lineSplit: number }
  mbPerSecond: { ingest: number, parseOnly: number, tapParser: number, lineSplit: number }
  resultsPerSecond: number
  ratios: { ingestOverTapParser: number, ingestOverLineSplit: number }
  targets: { fiveTimesTapParser: boolean, thirtyPercentOfLineSplit: boolean }
  samples: Record<'ingest' | 'parseOnly' | 'tapParser' | 'lineSplit', number[]>
}

export async function measureIngestThroughput (options: ThroughputOptions): Promise<ThroughputResult> {
  const shape = options.shape ?? 'sparse'
  const name = shape === 'sparse' ? `throughput-${options.targetBytes}-${options.tests}` : `throughput-${shape}-${options.targetBytes}`
  const log = await logFile(name, () => shapeSpec(shape, { seed: 1, targetBytes: options.targetBytes, tests: options.tests }))
  const dbPath = join(OUT_DIR, `${name}.db`)
  const samples: ThroughputResult['samples'] = { ingest: [], parseOnly: [], tapParser: [], lineSplit: [] }
  let counted = { lines: 0, tests: 0, results: 0 }

  removeDatabase(dbPath)
  const db = openDatabase(dbPath)
  try {
    const store = new RunStore(db)
    const ingest = async (machine: string) => {
      const meta = parseRunMetadata(benchMetadata({ version: 'v1', machine }))
      const result = await ingestLog(readLog(log.path), meta, inOneTransaction(store), { maxBytes: Number.MAX_SAFE_INTEGER, spoolDir: OUT_DIR })
      if (!result.created) throw new Error('the throughput run was not stored')
    }
    // the store has seen these tests once, as it has for every run of a series after its first:
    // the timed runs are other machines' runs of the same tests
    await ingest('bench-warm-up')
    for (let round = 0; round < options.rounds; round++) {
      samples.lineSplit.push(await time(() => lineSplit(log.path)))
      samples.tapParser.push(await time(() => tapParserAlone(log.path)))
      samples.parseOnly.push(await time(async () => { counted = await parseOnly(log.path) }))
      samples.ingest.push(await time(() => ingest(`bench-host-${round + 1}`)))
    }
  } finally {
    db.close()
    removeDatabase(dbPath)
  }

  const ms = {
    ingest: median(samples.ingest),
    parseOnly: median(samples.parseOnly),
    tapParser: median(samples.tapParser),
    lineSplit: median(samples.lineSplit),
  }
  const rate = (milliseconds: number) => round(mb(log.bytes) / (milliseconds / 1000))
  const ingestOverTapParser = ms.tapParser / ms.ingest
  const ingestOverLineSplit = ms.lineSplit / ms.ingest
  return {
    shape,
    log: { bytes: log.bytes, generatedMs: round(log.generatedMs, 0), ...counted },
    rounds: options.rounds,
    ms: { ingest: round(ms.ingest, 0), parseOnly: round(ms.parseOnly, 0), tapParser: round(ms.tapParser, 0), lineSplit: round(ms.lineSplit, 0) },
    mbPerSecond: { ingest: rate(ms.ingest), parseOnly: rate(ms.parseOnly), tapParser: rate(ms.tapParser), lineSplit: rate(ms.lineSplit) },
    resultsPerSecond: Math.round(counted.results / (ms.ingest / 1000)),
    ratios: { ingestOverTapParser: round(ingestOverTapParser, 2), ingestOverLineSplit: round(ingestOverLineSplit, 3) },
    targets: { fiveTimesTapParser: ingestOverTapParser >= 5, thirtyPercentOfLineSplit: ingestOverLineSplit >= 0.3 },
    samples: {
      ingest: samples.ingest.map(v => round(v, 0)),
      parseOnly: samples.parseOnly.map(v => round(v, 0)),
      tapParser: samples.tapParser.map(v => round(v, 0)),
      lineSplit: samples.lineSplit.map(v => round(v, 0)),
    },
  }
}

async function time (work: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await work()
  return performance.now() - start
}

/** The floor: decode, split every chunk into line strings, and look at each one. */
async function lineSplit (path: string): Promise<number> {
  const decoder = new TextDecoder('utf-8')
  let carry = ''
  let nonEmpty = 0
  for await (const buffer of readLog(path)) {
    const lines = (carry + decoder.decode(buffer, { stream: true })).split('\n')
    carry = lines.pop()!
    for (const line of lines) if (line.length > 0) nonEmpty++
  }
  if ((carry + decoder.decode()).length > 0) nonEmpty++
  return nonEmpty
}

/** tap-parser given the whole log, as a TAP consumer would read the runner's output. */
async function tapParserAlone (path: string): Promise<number> {
  const decoder = new TextDecoder('utf-8')
  const parser = new Parser()
  let asserts = 0
  parser.on('assert', () => { asserts++ })
  for await (const buffer of readLog(path)) parser.write(decoder.decode(buffer, { stream: true }))
  parser.end(decoder.decode())
  return asserts
}

/** The project's parser alone on the same stream: where ingest's own time goes besides storage. */
async function parseOnly (path: string): Promise<{ lines: number, tests: number, results: number }> {
  const decoder = new TextDecoder('utf-8')
  const parser = new KselftestLogParser()
  for await (const buffer of readLog(path)) parser.push(decoder.decode(buffer, { stream: true }))
  parser.push(decoder.decode())
  const parsed = parser.end()
  return { lines: parsed.lineCount, tests: parsed.tests.length, results: countResults(parsed.tests) }
}

/** Tests and subtests at every depth: one stored result row each. */
export function countResults (tests: ReadonlyArray<TestRecord | SubtestRecord>): number {
  let count = 0
  for (const test of tests) count += 1 + countResults(test.subtests)
  return count
}
