/**
 * The export worker: one run's KCIDB document or JUnit XML, built on a read-only connection of
 * its own and handed to the main thread a piece at a time as the response is sent. A run of a
 * million results makes a document of hundreds of MB in seconds of work; none of it on the
 * server's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { KsftError } from '../errors.ts'
import { buildJunitXml } from '../export/junit.ts'
import { buildKcidbDocument } from '../export/kcidb.ts'
import { exportedRun } from '../export/run-source.ts'
import { openDatabase } from '../storage/database.ts'
import { RunStore } from '../storage/run-store.ts'

export interface ExportJob {
  dbPath: string
  runId: number
  format: 'kcidb' | 'junit'
  origin: string
  logUrl: string
}

/** Characters per message: the main thread asks for the next piece when the socket took the last. */
const PIECE = 1024 * 1024

const port = parentPort!
const job = workerData as ExportJob
let document = ''
let at = 0
try {
  const db = openDatabase(job.dbPath, { readonly: true })
  try {
    const run = exportedRun(new RunStore(db), job.runId)
    document = job.format === 'kcidb'
      ? JSON.stringify(buildKcidbDocument([run], { origin: job.origin, logUrl: () => job.logUrl }))
      : buildJunitXml(run, { logUrl: job.logUrl })
  } finally {
    db.close()
  }
  port.postMessage({ type: 'ready' })
} catch (err) {
  port.postMessage(err instanceof KsftError ? { type: 'error', code: err.code, message: err.message } : { type: 'error', code: null, message: (err as Error).message })
}
port.on('message', () => {
  const piece = document.slice(at, at + PIECE)
  at += piece.length
  port.postMessage(piece === '' ? { type: 'end' } : { type: 'piece', piece })
})
