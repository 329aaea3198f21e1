/**
 * The parse worker: one log at a time, fed by services/parse-pool.ts. It runs the same intake as
 * `ksft ingest` (parse, hash, deflate, spool) off the server's event loop, so that a slow or
 * hostile log costs this thread, never the requests the main thread is answering.
 */
import { parentPort } from 'node:worker_threads'
import { KsftError } from '../errors.ts'
import type { TestRecord } from '../../ingest/index.ts'
import { LogIntake, type IntakeResult } from './ingest-log.ts'
import type { FromWorker, ToWorker } from './parse-protocol.ts'

/** Tests per message back: each message is deserialized on the main thread, so it must stay small. */
const TESTS_PER_MESSAGE = 2_000

const port = parentPort
if (!port) throw new Error('parse-worker.ts runs as a worker thread (services/parse-pool.ts starts it)')

let intake: LogIntake | null = null
// messages are handled one after another, each after the previous one's work
let queue: Promise<void> = Promise.resolve()

port.on('message', (message: ToWorker) => {
  queue = queue.then(() => handle(message)).catch((err: unknown) => {
    intake?.close()
    intake = null
    send(err instanceof KsftError
      ? { type: 'error', code: err.code, message: err.message }
      : { type: 'error', code: null, message: (err as Error).message ?? String(err) })
  })
})

async function handle (message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'ping':
      send({ type: 'ack', bytes: 0 })
      return
    case 'start':
      outgoing = null
      intake?.close()
      intake = new LogIntake(message.dir, { directCollection: message.directCollection })
      return
    case 'chunk':
      if (!intake) return
      // the intake keeps nothing of the bytes it was given (it copies what it spools)
      await intake.push(Buffer.from(message.bytes.buffer, message.bytes.byteOffset, message.bytes.byteLength))
      send({ type: 'ack', bytes: message.bytes.byteLength, buffer: message.bytes }, [message.bytes.buffer as ArrayBuffer])
      return
    case 'end': {
      if (!intake) return
      const result = await intake.finish()
      intake = null
      const { tests, ...rest } = result.parse
      outgoing = { tests, at: 0, done: { ...result, parse: { ...rest, tests: [] } } }
      sendMore()
      return
    }
    case 'more':
      sendMore()
  }
}

/**
 * The tests go back one message at a time, the next when the main thread asks: a port hands the
 * main thread every message waiting on it in one go, and 500 of them took it for seconds.
 */
let outgoing: { tests: TestRecord[], at: number, done: IntakeResult } | null = null

function sendMore (): void {
  if (!outgoing) return
  if (outgoing.at < outgoing.tests.length) {
    send({ type: 'tests', tests: outgoing.tests.slice(outgoing.at, outgoing.at + TESTS_PER_MESSAGE) })
    outgoing.at += TESTS_PER_MESSAGE
    return
  }
  send({ type: 'done', result: outgoing.done })
  outgoing = null
}

function send (message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer)
}
