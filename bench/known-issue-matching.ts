/**
 * The cost of known issues at ingest (issue 16's target): a 10 000-result upload stored with 10 000
 * active known issues stays within 10% of the same upload stored with none. Both are timed in one
 * process, alternating, on the same synthetic log (about 500 tests with 19 subtests each, a quarter
 * of the tests failing; see workloads.ts), each round into a store that has seen the tests once.
 *
 * The first ingest after the issues changed builds their index (the issues read, the globs
 * indexed; regular expressions are compiled on first use): it is reported apart.
 *
 * The issues are the mix a lab accumulates, drawn from the log's own test paths: 1% name a failing
 * test or subtest of the log, unscoped (they match); 39% name a test or subtest that is in the log,
 * scoped to another machine (tried and refused by scope); 30% name tests
 * the log does not have; 20% a collection prefix with a reason regex (`kvm/test_1*`); 9% a test with
 * an exit code; 1% a glob that starts with a wildcard, which every failing result is tried against.
 */
import { join } from 'node:path'
import { parseKselftestLog, type SubtestRecord } from '../ingest/index.ts'
import { parseRunMetadata } from '../server/domain/run-metadata.ts'
import { needsTriage, testPathOf, type IssueDefinition } from '../server/domain/known-issues.ts'
import { scaledLogSpec } from '../server/demo/log-generator.ts'
import { ingestLog } from '../server/services/ingest-log.ts'
import { openDatabase } from '../server/storage/sqlite/database.ts'
import { RunStore } from '../server/storage/sqlite/run-store.ts'
import { median, round } from './stats.ts'
import { benchMetadata, logFile, OUT_DIR, readLog, removeDatabase } from './workloads.ts'
import { readFileSync } from 'node:fs'
import { inOneTransaction } from './one-transaction.ts'

export interface KnownIssueMatchingResult {
  issues: number
  results: number
  failingResults: number
  matchedResults: number
  rounds: number
  ms: { withoutIssues: number, withIssues: number, firstAfterChange: number }
  /** withIssues / withoutIssues: the target is ≤ 1.10. */
  ratio: number
  met: boolean
}

export async function measureKnownIssueMatching (options: { issues: number, tests: number, subtests: number, rounds: number }): Promise<KnownIssueMatchingResult> {
  const name = `known-issues-${options.tests}x${options.subtests}`
  const log = await logFile(name, () => scaledLogSpec({
    seed: 16, targetBytes: 0, tests: options.tests, extraSubtests: options.subtests, arch: 'x86_64', failRate: 0.25, skipRate: 0.04, timeoutRate: 0.005,
  }))
  const parsed = parseKselftestLog(readFileSync(log.path, 'utf8'))
  const paths: string[] = []
  const failingPaths: string[] = []
  const walk = (collection: string, test: string, trail: string[], subtests: SubtestRecord[]) => {
    for (const subtest of subtests) {
      paths.push(testPathOf(collection, test, [...trail, subtest.name]))
      if (needsTriage(subtest.status, false)) failingPaths.push(paths.at(-1)!)
      walk(collection, test, [...trail, subtest.name], subtest.subtests)
    }
  }
  for (const test of parsed.tests) {
    paths.push(testPathOf(test.collection, test.name))
    if (needsTriage(test.status, false)) failingPaths.push(paths.at(-1)!)
    walk(test.collection, test.name, [], test.subtests)
  }

  const timed = async (withIssues: boolean) => {
    const dbPath = join(OUT_DIR, `${name}-${withIssues ? 'with' : 'without'}.db`)
    removeDatabase(dbPath)
    const db = openDatabase(dbPath)
    try {
      const store = new RunStore(db)
      const ingest = async (machine: string) => {
        const result = await ingestLog(readLog(log.path), parseRunMetadata(benchMetadata({ version: 'v1', machine })), inOneTransaction(store), { maxBytes: Number.MAX_SAFE_INTEGER, spoolDir: OUT_DIR })
        if (!result.created) throw new Error('the known-issue run was not stored')
        return result.runId
      }
      await ingest('bench-warm-up')
      if (withIssues) {
        db.transaction(() => {
          for (let i = 0; i < options.issues; i++) store.issues.create(issueOf(i, paths, failingPaths), 'bench', { match: false })
        })()
        // a lab files its issues long before the uploads timed here: the issues' own writes are
        // checkpointed out of the WAL first, or the timed ingests would pay for copying them
        db.pragma('wal_checkpoint(TRUNCATE)')
      }
      // the first ingest after issues changed compiles their index (IssueStore.activeIndex): timed apart
      const first = performance.now()
      await ingest('bench-first-after-change')
      const firstAfterChange = performance.now() - first
      const times: number[] = []
      let matched = 0
      for (let r = 0; r < options.rounds; r++) {
        const start = performance.now()
        const runId = await ingest(`bench-host-${r + 1}`)
        times.push(performance.now() - start)
        matched = (db.prepare('SELECT count(DISTINCT seq) AS n FROM known_issue_matches WHERE run_id = ?').get(runId) as { n: number }).n
      }
      return { ms: median(times), matched, firstAfterChange }
    } finally {
      db.close()
      removeDatabase(dbPath)
    }
  }
  // alternate, so that both see the same machine load
  const without: number[] = []
  const withIssues: number[] = []
  const firsts: number[] = []
  let matchedResults = 0
  for (let r = 0; r < options.rounds; r++) {
    without.push((await timed(false)).ms)
    const measured = await timed(true)
    withIssues.push(measured.ms)
    firsts.push(measured.firstAfterChange)
    matchedResults = measured.matched
  }
  const ms = { withoutIssues: round(median(without), 1), withIssues: round(median(withIssues), 1), firstAfterChange: round(median(firsts), 1) }
  const ratio = round(ms.withIssues / ms.withoutIssues, 3)
  return { issues: options.issues, results: paths.length, failingResults: failingPaths.length, matchedResults, rounds: options.rounds, ms, ratio, met: ratio <= 1.1 }
}

function issueOf (i: number, paths: readonly string[], failingPaths: readonly string[]): IssueDefinition {
  const path = paths[(i * 7919) % paths.length]!
  const collection = path.split('/', 1)[0]!
  const base: IssueDefinition = {
    title: `bench issue ${i}`,
    url: null,
    culprit: 'unknown',
    intermittent: false,
    matcher: { testGlob: path, reasonRegex: null, logRegex: null, exitCode: null, statuses: [], kernelTrouble: false },
    scope: { series: [], machines: [], arch: null, cpuFlags: [], kernelGlob: null, versionsFrom: null, versionsTo: null },
  }
  const kind = i % 100
  if (kind === 0) return { ...base, matcher: { ...base.matcher, testGlob: failingPaths[i % failingPaths.length]! } }
  if (kind < 40) return { ...base, scope: { ...base.scope, machines: [`other-lab-${i % 13}`] } }
  if (kind < 70) return { ...base, matcher: { ...base.matcher, testGlob: `${collection}/no_such_test_${i}` } }
  if (kind < 90) return { ...base, matcher: { ...base.matcher, testGlob: `${path.slice(0, collection.length + 6)}*`, reasonRegex: `never seen ${i}` } }
  if (kind < 99) return { ...base, matcher: { ...base.matcher, exitCode: 200 + (i % 50) } }
  return { ...base, matcher: { ...base.matcher, testGlob: `*${path.slice(-6)}`, reasonRegex: `bench-only ${i}` } }
}
