import { existsSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { TestRecord } from '../../ingest/index.ts'
import { KsftError } from '../errors.ts'
import { tooLarge, type IntakeResult } from './ingest-log.ts'
import type { FromWorker, ToWorker } from './parse-protocol.ts'

export interface ParsePoolOptions {
  /** Logs parsed at once; more uploads wait for a worker (their bodies are not read meanwhile). */
  workers?: number
  /** How long a worker may spend on one log, in ms of its own busy time; then it is stopped. */
  deadlineMs?: number
}

export const DEFAULT_PARSE_WORKERS = 2
export const DEFAULT_PARSE_DEADLINE_MS = 60_000
/** Bytes handed to a worker and not yet parsed: the upload reads no more of its body until they are. */
const MAX_OWED_BYTES = 4 * 1024 * 1024
/** The smallest buffer a chunk is copied into (a socket hands over 64 KB at most, mostly), and how many are kept. */
const MIN_CHUNK_BUFFER = 64 * 1024
const MAX_RETURNED_BUFFERS = 16

/**
 * A worker running `name` (parse-worker, export-worker) beside this file: the .js in a compiled
 * tree; from the sources, the .ts behind tsx's loader, registered in the worker itself (Node 20
 * gives a worker neither the main thread's loader hooks nor, usefully, `--import tsx`).
 */
/**
 * A worker's young generation, MB. V8 sizes it from the machine's memory (tens of MB on a server),
 * and a worker that allocates as fast as a parser does keeps all of it resident beside the main
 * thread's: small semi-spaces are collected more often, which costs the parse little.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 8 }

export function startWorker (name: string, workerData?: unknown): Worker {
  const js = new URL(`./${name}.js`, import.meta.url)
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData, resourceLimits: WORKER_LIMITS })
  const ts = new URL(`./${name}.ts`, import.meta.url).href
  const tsx = import.meta.resolve('tsx/esm/api')
  const boot = `import(${JSON.stringify(tsx)}).then(api => { api.register(); return import(${JSON.stringify(ts)}) })`
  return new Worker(boot, { eval: true, workerData, resourceLimits: WORKER_LIMITS })
}

/**
 * Parses uploads in worker threads: the event loop only moves bytes to a worker and takes the
 * records back in small messages, so `/healthz` and every read answer while a log is parsed,
 * however long or hostile it is. A worker that runs past the deadline is terminated.
 */
export class ParsePool {
  private readonly size: number
  private readonly deadlineMs: number
  private readonly idle: Worker[] = []
  private readonly all = new Set<Worker>()
  private busy = 0
  private readonly waiting: Array<() => void> = []
  private closed = false

  constructor (options: ParsePoolOptions = {}) {
    this.size = Math.max(1, options.workers ?? DEFAULT_PARSE_WORKERS)
    this.deadlineMs = options.deadlineMs ?? DEFAULT_PARSE_DEADLINE_MS
  }

  /**
   * Parses `source` (the decoded log) in a worker, spooling its deflated chunks in `dir` (an empty
   * directory the caller made and removes). Throws LOG_TOO_LARGE past `maxBytes`, PARSE_DEADLINE,
   * and the intake's EMPTY_LOG and NOT_KSELFTEST.
   */
  async parse (source: AsyncIterable<Buffer>, dir: string, options: { maxBytes: number, directCollection?: string }): Promise<IntakeResult> {
    await this.slot()
    const worker = this.idle.pop() ?? this.spawn()
    const job = new Job(worker, this.deadlineMs)
    let healthy = false
    try {
      job.post({ type: 'start', dir, directCollection: options.directCollection })
      let bytes = 0
      for await (const piece of source) {
        bytes += piece.length
        if (bytes > options.maxBytes) throw tooLarge(options.maxBytes)
        // a copy in a buffer of its own, moved to the worker rather than cloned (and moved back)
        const copy = job.buffer(piece.length)
        copy.set(piece)
        job.post({ type: 'chunk', bytes: copy }, [copy.buffer as ArrayBuffer])
        await job.drained(MAX_OWED_BYTES)
      }
      job.post({ type: 'end' })
      const result = await job.result()
      healthy = true
      return result
    } catch (err) {
      // a worker told of an error by the worker itself is ready for the next log
      healthy = job.settledByWorker
      throw err
    } finally {
      job.dispose()
      this.release(worker, healthy)
    }
  }

  /** Starts a worker ahead of the first upload and waits until it has loaded the parser. */
  async warm (): Promise<void> {
    if (this.idle.length > 0 || this.closed) return
    const worker = this.spawn()
    // the parser is loaded once the worker answers its first message
    const job = new Job(worker, this.deadlineMs)
    try {
      job.post({ type: 'ping' })
      await job.settled()
    } finally {
      job.dispose()
    }
    this.idle.push(worker)
  }

  async close (): Promise<void> {
    this.closed = true
    await Promise.all([...this.all].map(worker => worker.terminate()))
    this.all.clear()
    this.idle.length = 0
  }

  private spawn (): Worker {
    const worker = startWorker('parse-worker')
    worker.unref()
    this.all.add(worker)
    worker.once('exit', () => {
      this.all.delete(worker)
      const at = this.idle.indexOf(worker)
      if (at !== -1) this.idle.splice(at, 1)
    })
    // an error while idle (none is expected) only costs that worker
    worker.on('error', () => {})
    return worker
  }

  private async slot (): Promise<void> {
    if (this.closed) throw new KsftError('STORE_UNAVAILABLE', 'the server is closing')
    if (this.busy < this.size) {
      this.busy++
      return
    }
    await new Promise<void>(resolve => this.waiting.push(resolve))
  }

  private release (worker: Worker, healthy: boolean): void {
    if (healthy && !this.closed && this.all.has(worker)) this.idle.push(worker)
    else void worker.terminate()
    const next = this.waiting.shift()
    // the slot passes to the next upload as it is
    if (next) next()
    else this.busy--
  }
}

/** One log's conversation with a worker, with the deadline counted over the worker's busy time. */
class Job {
  private owedBytes = 0
  private owedMessages = 0
  private busySince = 0
  private busyMs = 0
  private timer: NodeJS.Timeout | null = null
  private readonly tests: TestRecord[] = []
  /** Buffers the worker gave back with its acks, to copy the next chunks into. */
  private readonly returned: ArrayBuffer[] = []
  private failure: Error | null = null
  private done: IntakeResult | null = null
  private wake: (() => void) | null = null
  settledByWorker = false
  private readonly onMessage = (message: FromWorker): void => this.receive(message)
  private readonly onError = (err: Error): void => this.fail(new Error(`the parse worker failed: ${err.message}`))
  private readonly onExit = (code: number): void => this.fail(new Error(`the parse worker exited with code ${code}`))

  constructor (private readonly worker: Worker, private readonly deadlineMs: number) {
    // a worker at work keeps the process alive; an idle one does not
    worker.ref()
    worker.on('message', this.onMessage)
    worker.on('error', this.onError)
    worker.on('exit', this.onExit)
  }

  post (message: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (this.failure) throw this.failure
    if (this.owedMessages++ === 0) this.startBusy()
    if (message.type === 'chunk') this.owedBytes += message.bytes.byteLength
    this.worker.postMessage(message, transfer)
  }

  /** `length` bytes to fill: a buffer the worker gave back when one is large enough. */
  buffer (length: number): Uint8Array {
    const spare = this.returned.pop()
    if (spare !== undefined && spare.byteLength >= length) return new Uint8Array(spare, 0, length)
    return new Uint8Array(new ArrayBuffer(Math.max(length, MIN_CHUNK_BUFFER)), 0, length)
  }

  /** Waits until the worker owes at most `maxBytes` of parsing. */
  async drained (maxBytes: number): Promise<void> {
    while (this.owedBytes > maxBytes && !this.failure) await new Promise<void>(resolve => { this.wake = resolve })
    if (this.failure) throw this.failure
  }

  async result (): Promise<IntakeResult> {
    while (!this.done && !this.failure) await new Promise<void>(resolve => { this.wake = resolve })
    if (this.failure) throw this.failure
    return { ...this.done!, parse: { ...this.done!.parse, tests: this.tests } }
  }

  /** Resolves at the worker's first answer, whatever it is. */
  async settled (): Promise<void> {
    while (!this.done && !this.failure && this.owedMessages > 0) await new Promise<void>(resolve => { this.wake = resolve })
  }

  dispose (): void {
    this.stopBusy()
    this.worker.unref()
    this.worker.off('message', this.onMessage)
    this.worker.off('error', this.onError)
    this.worker.off('exit', this.onExit)
  }

  private receive (message: FromWorker): void {
    switch (message.type) {
      case 'ack':
        this.owedBytes -= message.bytes
        if (message.buffer !== undefined && this.returned.length < MAX_RETURNED_BUFFERS) this.returned.push(message.buffer.buffer as ArrayBuffer)
        this.answered()
        break
      case 'tests':
        for (const test of message.tests) this.tests.push(test)
        // the next piece after the event loop has had a turn
        setImmediate(() => { if (!this.failure) this.worker.postMessage({ type: 'more' } satisfies ToWorker) })
        break
      case 'done':
        this.done = message.result
        this.answered()
        break
      case 'error':
        this.settledByWorker = true
        this.fail(message.code === null ? new Error(message.message) : new KsftError(message.code, message.message))
        return
    }
    this.notify()
  }

  private answered (): void {
    if (--this.owedMessages === 0) this.stopBusy()
  }

  private startBusy (): void {
    this.busySince = performance.now()
    this.timer = setTimeout(() => {
      this.fail(new KsftError('PARSE_DEADLINE', `the log took longer than ${this.deadlineMs} ms to parse; nothing was stored`))
      void this.worker.terminate()
    }, Math.max(0, this.deadlineMs - this.busyMs))
  }

  private stopBusy (): void {
    if (this.timer === null) return
    clearTimeout(this.timer)
    this.timer = null
    this.busyMs += performance.now() - this.busySince
  }

  private fail (err: Error): void {
    if (this.failure) return
    this.failure = err
    this.stopBusy()
    this.notify()
  }

  private notify (): void {
    const wake = this.wake
    this.wake = null
    wake?.()
  }
}
