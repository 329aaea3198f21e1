/**
 * The parse worker: one log at a time, fed by services/parse-pool.ts. It runs the same intake as
 * `ksft ingest` (parse, hash, deflate, spool) off the server's event loop, so that a slow or
 * hostile log costs this thread, never the requests the main thread is answering.
 */
import { parentPort } from 'node:worker_threads'
import { KsftError } from '../errors.ts'
import { LogIntake } from './ingest-log.ts'
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
      intake?.close()
      intake = new LogIntake(message.dir, { directCollection: message.directCollection })
      return
    case 'chunk':
      if (!intake) return
      await intake.push(Buffer.from(message.bytes.buffer, message.bytes.byteOffset, message.bytes.byteLength))
      send({ type: 'ack', bytes: message.bytes.byteLength })
      return
    case 'end': {
      if (!intake) return
      const result = await intake.finish()
      intake = null
      const { tests, ...rest } = result.parse
      for (let at = 0; at < tests.length; at += TESTS_PER_MESSAGE) send({ type: 'tests', tests: tests.slice(at, at + TESTS_PER_MESSAGE) })
      send({ type: 'done', result: { ...result, parse: { ...rest, tests: [] } } })
    }
  }
}

function send (message: FromWorker): void {
  port!.postMessage(message)
}
