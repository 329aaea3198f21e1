import { KsftError } from '../errors.ts'
import type { Store } from '../storage/store.ts'
import type { ExportedRun } from './kcidb.ts'

/** A stored run as the exporters take it: its view, its results, and a reader of its raw log. */
export async function exportedRun (store: Pick<Store, 'exports'>, runId: number): Promise<ExportedRun> {
  const run = await store.exports.run(runId)
  if (!run) throw new KsftError('RUN_NOT_FOUND', `no run ${runId}`)
  return run
}

/** Runs one at a time, so that a series export holds one run's results in memory besides the document. */
export async function * exportedRuns (store: Pick<Store, 'exports'>, runIds: Iterable<number>): AsyncGenerator<ExportedRun> {
  for (const runId of runIds) yield await exportedRun(store, runId)
}
