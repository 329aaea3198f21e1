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

export interface ParseResult {
  tests: TestRecord[]
  plans: PlanRecord[]
  warnings: string[]
  lineCount: number
  /** True when the input holds nothing that looks like kselftest output. */
  recognized: boolean
}
