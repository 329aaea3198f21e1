/**
 * Measurement 6: how ingest and queries change as the store grows, from the big store's build (the
 * time of every run, and how many results were stored before it) and the query latencies on its
 * smaller copy and on the whole.
 */
import type { BigStore } from './big-store.ts'
import type { LatencyResult } from './query-latency.ts'
import { median, round } from './stats.ts'

export interface GrowthResult {
  smallerResults: number
  biggerResults: number
  /** Median ingest time of the runs stored into a store of about each size (the tenth of runs just before it). */
  ingestMsPerRun: { smaller: number, bigger: number, ratio: number }
  trendP95Ms: { smaller: number, bigger: number, ratio: number }
  /** The build, a point per tenth of it: results stored so far (millions) and the median ms of its runs. */
  curve: Array<{ resultsM: number, medianMs: number }>
  subLinear: boolean
}

export function growthOf (store: BigStore, smaller: LatencyResult, bigger: LatencyResult): GrowthResult {
  const tenth = Math.max(1, Math.floor(store.timings.length / 10))
  const ms = (from: number) => median(store.timings.slice(from, from + tenth).map(timing => timing.ms))
  // the runs that brought the store to its smaller size, and the last runs of all
  const ingestSmaller = ms(Math.max(0, store.shape.snapshotRuns - tenth))
  const ingestBigger = ms(store.timings.length - tenth)
  const trendSmaller = smaller.queries.trend.p95
  const trendBigger = bigger.queries.trend.p95
  const curve = []
  for (let from = 0; from + tenth <= store.timings.length; from += tenth) {
    const last = store.timings[from + tenth - 1]!
    curve.push({ resultsM: round((last.resultsBefore + last.results) / 1e6, 2), medianMs: round(ms(from), 1) })
  }
  const sizeRatio = bigger.results / smaller.results
  return {
    smallerResults: smaller.results,
    biggerResults: bigger.results,
    ingestMsPerRun: { smaller: round(ingestSmaller, 1), bigger: round(ingestBigger, 1), ratio: round(ingestBigger / ingestSmaller, 2) },
    trendP95Ms: { smaller: trendSmaller, bigger: trendBigger, ratio: round(trendBigger / trendSmaller, 2) },
    curve,
    subLinear: ingestBigger / ingestSmaller < sizeRatio && trendBigger / trendSmaller < sizeRatio,
  }
}
