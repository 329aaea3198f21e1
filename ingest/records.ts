import type { Flag, Status } from './vocabulary.ts'

/** 1-based, inclusive line numbers of the raw log. */
export type LineRange = [from: number, to: number]

export interface SubtestRecord {
  name: string
  status: Status
  reason: string | null
  lines: LineRange
  subtests: SubtestRecord[]
}

export interface TestRecord {
  collection: string
  name: string
  /** The TAP test number as printed; never part of the test's identity. */
  number: number | null
  status: Status
  exitCode: number | null
  timeoutSeconds: number | null
  reason: string | null
  flags: Flag[]
  lines: LineRange
  subtests: SubtestRecord[]
}

/** A `1..N` plan of the runner, and how many tests of it arrived. */
export interface PlanRecord {
  line: number
  collection: string | null
  planned: number
  seen: number
}

/**
 * A test whose header came but whose result line never did: why it stopped being read. `end_of_log`
 * is a run cut short (panic, hang, a truncated capture); the others are a test the runner or the
 * console lost while the run went on.
 */
export const UNFINISHED_CAUSES = ['end_of_log', 'next_test', 'new_stream', 'other_result'] as const
export type UnfinishedCause = (typeof UNFINISHED_CAUSES)[number]

export interface UnfinishedTest {
  collection: string
  name: string
  /** The line of its header. */
  line: number
  cause: UnfinishedCause
}

export interface ParseResult {
  tests: TestRecord[]
  plans: PlanRecord[]
  /** Tests that started and never finished, in log order; each is also in `tests`, as an `error`. */
  unfinished: UnfinishedTest[]
  /** The line of a TAP stream that began at the end of the log and printed neither a plan nor a test; else null. */
  emptyStreamAtEnd: number | null
  warnings: string[]
  /**
   * True when the log had lost part of its shape (the runner's `# ` prefixes, or a paste's
   * indentation was removed) and was read back best-effort: its warnings say how.
   */
  reconstructed: boolean
  lineCount: number
  /** True when the input holds nothing that looks like kselftest output. */
  recognized: boolean
}
