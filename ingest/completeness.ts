import type { ParseResult } from './records.ts'

/**
 * Whether a run finished, decided once, at ingest, from what the parser saw. A run that stopped
 * early (a panic, a hung host, a capture cut short) must never read as a better version: the
 * verdict layer counts the tests it promised and never ran against it.
 */

/**
 * Why a run is incomplete:
 * - `plan_short`: a TAP plan (`1..N`) promised more tests than arrived in its stream;
 * - `log_ends_inside_test`: the log ends after a test's header and before its result;
 * - `kernel_panic`: a test's output shows the kernel panicking; nothing after it ran on that boot;
 * - `stream_stops_early`: a collection's TAP stream began and the log ends before its plan or any test.
 */
export const INCOMPLETE_KINDS = ['plan_short', 'log_ends_inside_test', 'kernel_panic', 'stream_stops_early'] as const
export type IncompleteKind = (typeof INCOMPLETE_KINDS)[number]

export interface IncompleteReason {
  kind: IncompleteKind
  /** The collection whose stream stopped, when the log says. */
  collection: string | null
  /** One line for a person: which plan or test, at which line. */
  detail: string
}

export interface CollectionCompleteness {
  collection: string
  complete: boolean
  /** Tests its plan promised that never arrived. */
  notRun: number
}

export interface RunCompleteness {
  complete: boolean
  reasons: IncompleteReason[]
  /** Tests the plans promised that never arrived, over every stream. */
  notRun: number
  collections: CollectionCompleteness[]
}

export function runCompleteness (parse: Pick<ParseResult, 'tests' | 'plans' | 'unfinished'> & { emptyStreamAtEnd?: number | null }): RunCompleteness {
  const reasons: IncompleteReason[] = []
  const byCollection = new Map<string, CollectionCompleteness>()
  const collectionOf = (name: string): CollectionCompleteness => {
    let entry = byCollection.get(name)
    if (entry === undefined) {
      entry = { collection: name, complete: true, notRun: 0 }
      byCollection.set(name, entry)
    }
    return entry
  }
  for (const test of parse.tests) collectionOf(test.collection)

  let notRun = 0
  for (const plan of parse.plans) {
    if (plan.seen >= plan.planned) continue
    const missing = plan.planned - plan.seen
    notRun += missing
    reasons.push({
      kind: 'plan_short',
      collection: plan.collection,
      detail: `line ${plan.line}: plan 1..${plan.planned}${plan.collection === null ? '' : ` (${plan.collection})`} but ${plan.seen} arrived: ${missing} never ran`,
    })
    if (plan.collection !== null) {
      const entry = collectionOf(plan.collection)
      entry.complete = false
      entry.notRun += missing
    }
  }

  for (const test of parse.unfinished) {
    if (test.cause !== 'end_of_log') continue
    reasons.push({
      kind: 'log_ends_inside_test',
      collection: test.collection,
      detail: `the log ends inside ${test.collection}: ${test.name} (its header is at line ${test.line})`,
    })
    collectionOf(test.collection).complete = false
  }

  for (const test of parse.tests) {
    if (!test.flags.includes('kernel_panic')) continue
    reasons.push({
      kind: 'kernel_panic',
      collection: test.collection,
      detail: `the kernel panicked during ${test.collection}: ${test.name} (lines ${test.lines[0]}-${test.lines[1]})`,
    })
    collectionOf(test.collection).complete = false
  }

  if (parse.emptyStreamAtEnd !== undefined && parse.emptyStreamAtEnd !== null) {
    reasons.push({
      kind: 'stream_stops_early',
      collection: null,
      detail: `line ${parse.emptyStreamAtEnd}: a TAP stream began and the log ends before its plan or any test`,
    })
  }

  return {
    complete: reasons.length === 0,
    reasons,
    notRun,
    collections: [...byCollection.values()],
  }
}
