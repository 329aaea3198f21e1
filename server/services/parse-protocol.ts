import type { TestRecord } from '../../ingest/index.ts'
import type { ErrorCode } from '../errors.ts'
import type { IntakeResult } from './ingest-log.ts'

/** Messages from the main thread to a parse worker, in order: start, chunk..., end. */
export type ToWorker =
  | { type: 'start', dir: string, directCollection?: string }
  | { type: 'chunk', bytes: Uint8Array }
  | { type: 'end' }
  /** Answered with an ack of 0 bytes: the worker is up and has loaded the parser. */
  | { type: 'ping' }
  /** The next message of tests (or done), after the main thread took the last one. */
  | { type: 'more' }

/**
 * Messages back: an ack per chunk (with the chunk's bytes, moved back to be filled again: a buffer
 * moved to the worker and dropped there lived until the worker's next collection, and a parse that
 * makes little garbage collects seldom), then the tests in pieces and done, or an error.
 */
export type FromWorker =
  | { type: 'ack', bytes: number, buffer?: Uint8Array }
  | { type: 'tests', tests: TestRecord[] }
  | { type: 'done', result: IntakeResult }
  | { type: 'error', code: ErrorCode | null, message: string }
