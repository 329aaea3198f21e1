import { KsftError } from '../errors.ts'
import type { RunStore } from '../storage/run-store.ts'
import type { ExportedRun } from './kcidb.ts'

/** A stored run as the exporters take it: its view, its results, and a reader of its raw log. */
export function exportedRun (store: RunStore, runId: number): ExportedRun {
  const run = store.getRun(runId)
  if (!run) throw new KsftError('RUN_NOT_FOUND', `no run ${runId}`)
  return {
    run,
    tests: store.getRunTests(runId),
    lines: (from, to) => store.getLogLines(runId, from, to)?.lines ?? [],
    knownIssues: store.issues.exportedMatches(runId),
  }
}

/** Runs one at a time, so that a series export holds one run's results in memory besides the document. */
export function * exportedRuns (store: RunStore, runIds: Iterable<number>): Generator<ExportedRun> {
  for (const runId of runIds) yield exportedRun(store, runId)
}
