import type { RunStore } from '../server/storage/sqlite/run-store.ts'
import type { StoreRuns } from '../server/storage/store.ts'

/**
 * What ingestLog stores through, made of a SQLite RunStore: each run in one synchronous
 * transaction (RunStore.ingestRun), what these measurements have always timed, without the
 * server's write queue and steps.
 */
export function inOneTransaction (runs: RunStore): { runs: Pick<StoreRuns, 'ingest'> } {
  return { runs: { ingest: async (meta, parsed, log) => runs.ingestRun(meta, parsed, log) } }
}
