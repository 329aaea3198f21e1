import { Readable } from 'node:stream'
import { KsftError, type ErrorCode } from '../errors.ts'
import type { ExportJob } from './export-worker.ts'
import { startWorker } from './parse-pool.ts'

type FromExportWorker =
  | { type: 'ready' | 'end' }
  | { type: 'piece', piece: string }
  | { type: 'error', code: ErrorCode | null, message: string }

/**
 * A run's export made in a worker thread (services/export-worker.ts) and streamed: resolves once
 * the document is built (or rejects with its error, RUN_NOT_FOUND included), with a stream that
 * pulls the document a piece at a time as the client reads it.
 */
export async function exportInWorker (job: ExportJob): Promise<Readable> {
  const worker = startWorker('export-worker', job)
  const messages: FromExportWorker[] = []
  let wake: (() => void) | null = null
  let failure: Error | null = null
  worker.on('message', (message: FromExportWorker) => { messages.push(message); wake?.() })
  worker.on('error', (err) => { failure = err; wake?.() })
  worker.on('exit', (code) => { failure ??= new Error(`the export worker exited with code ${code}`); wake?.() })
  const next = async (): Promise<FromExportWorker> => {
    while (messages.length === 0) {
      if (failure) throw failure
      await new Promise<void>(resolve => { wake = resolve })
      wake = null
    }
    return messages.shift()!
  }
  const first = await next().catch(async (err: unknown) => { await worker.terminate(); throw err })
  if (first.type === 'error') {
    await worker.terminate()
    throw first.code === null ? new Error(first.message) : new KsftError(first.code, first.message)
  }
  const stream = new Readable({
    read () {
      worker.postMessage('next')
      next().then(message => {
        if (message.type === 'piece') this.push(message.piece)
        else if (message.type === 'end') {
          this.push(null)
          void worker.terminate()
        } else this.destroy(new Error(message.type === 'error' ? message.message : 'the export worker went wrong'))
      }, (err: Error) => this.destroy(err))
    },
    destroy (err, callback) {
      void worker.terminate()
      callback(err)
    },
  })
  return stream
}
