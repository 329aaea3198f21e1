export { KselftestLogParser, parseKselftestLog, DEFAULT_DIRECT_COLLECTION, type ParserOptions } from './kselftest-parser.ts'
export type { LineRange, ParseResult, PlanRecord, SubtestRecord, TestRecord, UnfinishedCause, UnfinishedTest } from './records.ts'
export { UNFINISHED_CAUSES } from './records.ts'
export * from './vocabulary.ts'
