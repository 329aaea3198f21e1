/**
 * The export worker: one run's KCIDB document or JUnit XML, written from the store opened
 * read-only on its own a piece at a time as the response is sent: the main thread asks for the next piece when
 * the socket took the last, and the worker writes only that much more. A run of a million results
 * makes a document of hundreds of MB; neither the server's event loop nor any memory holds it whole.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { KsftError } from '../errors.ts'
import { junitXmlPieces } from '../export/junit.ts'
import { kcidbRunPieces } from '../export/kcidb.ts'
import { exportedRun } from '../export/run-source.ts'
import { openStore, type Store } from '../storage/store.ts'

export interface ExportJob {
  /** Where the worker opens the store (StoreExports.workerLocation). */
  location: string
  runId: number
  format: 'kcidb' | 'junit'
  origin: string
  logUrl: string
}

/** Characters per message, at least: the main thread asks for the next piece when the socket took the last. */
const PIECE = 1024 * 1024

const port = parentPort!
const job = workerData as ExportJob
let pieces: Iterator<string> | null = null
let store: Store | null = null
try {
  store = await openStore(job.location, { readonly: true })
  const run = await exportedRun(store, job.runId)
  pieces = job.format === 'kcidb'
    ? kcidbRunPieces(run, { origin: job.origin, logUrl: () => job.logUrl })
    : junitXmlPieces(run, { logUrl: job.logUrl })
  port.postMessage({ type: 'ready' })
} catch (err) {
  await store?.close()
  port.postMessage(err instanceof KsftError ? { type: 'error', code: err.code, message: err.message } : { type: 'error', code: null, message: (err as Error).message })
}
port.on('message', () => {
  let piece = ''
  while (pieces !== null && piece.length < PIECE) {
    const next = pieces.next()
    if (next.done) {
      pieces = null
      void store?.close()
      break
    }
    piece += next.value
  }
  port.postMessage(piece === '' ? { type: 'end' } : { type: 'piece', piece })
})
