import { performance } from 'node:perf_hooks'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { KsftError } from '../errors.ts'
import { DEFAULT_PARSE_DEADLINE_MS, DEFAULT_PARSE_WORKERS } from '../services/parse-pool.ts'

/** Every limit and timeout of the server; docs/operations.md lists them with these defaults. */
export interface Limits {
  /** Time to receive a whole request, headers and body (Node's requestTimeout); 408 after it. */
  requestTimeoutMs: number
  /** Time to receive a request's headers. */
  headersTimeoutMs: number
  /** How long an idle keep-alive connection is kept. */
  keepAliveTimeoutMs: number
  /** An upload body that sends nothing for this long is cut with 408. */
  bodyIdleMs: number
  /** An upload body slower than this on average (bytes/s, over the time spent waiting for it, once bodyRateWindowMs have passed) is cut with 408. */
  bodyMinBytesPerSecond: number
  bodyRateWindowMs: number
  /** Uploads one token may have in flight at once; more answer 429. 0: no limit. */
  uploadsInFlightPerToken: number
  /** Logs parsed at once, each in a worker thread; more uploads wait. */
  parseWorkers: number
  /** A parse worker's busy time per log before it is stopped (422 PARSE_DEADLINE). */
  parseDeadlineMs: number
}

export const DEFAULT_LIMITS: Limits = {
  requestTimeoutMs: 600_000,
  headersTimeoutMs: 30_000,
  keepAliveTimeoutMs: 10_000,
  bodyIdleMs: 30_000,
  bodyMinBytesPerSecond: 1024,
  bodyRateWindowMs: 30_000,
  uploadsInFlightPerToken: 2,
  parseWorkers: DEFAULT_PARSE_WORKERS,
  parseDeadlineMs: DEFAULT_PARSE_DEADLINE_MS,
}

export function limitsOf (given: Partial<Limits> = {}): Limits {
  const limits = { ...DEFAULT_LIMITS }
  for (const [key, value] of Object.entries(given) as Array<[keyof Limits, number | undefined]>) {
    if (value !== undefined && Number.isFinite(value)) limits[key] = value
  }
  return limits
}

/** fastify's server options for the limits that Node's HTTP server enforces itself. */
export function serverTimeouts (limits: Limits) {
  return {
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // a socket's inactivity is not a limit of its own: a long parse is silent, and it has its deadline
    connectionTimeout: 0,
  }
}

/** Node's headers timeout, which fastify does not pass through; it must not exceed the request timeout. */
export function applyHeadersTimeout (app: FastifyInstance, limits: Limits): void {
  app.server.headersTimeout = limits.requestTimeoutMs > 0 ? Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) : limits.headersTimeoutMs
}

/**
 * An answer sent before the request's body was read whole (a 401 on an upload, a 413, a broken
 * gzip) closes the connection: the client is still sending a body nobody reads, and a keep-alive
 * client's next request on that connection would otherwise meet a reset. The rest of the body is
 * read and dropped before the answer goes (for DRAIN_MS at most): closing a socket with unread
 * bytes resets it, and a client still sending (curl, `ksft upload`) would see EPIPE, not the answer.
 */
export function registerEarlyAnswerClose (app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.raw.complete === false) {
      reply.header('connection', 'close')
      // a body cut for being too slow is not waited for
      if (reply.statusCode !== 408) await drained(request.raw)
    }
    return payload
  })
}

/** How long the rest of a refused body is read and dropped; a body still coming then is cut. */
const DRAIN_MS = 10_000

function drained (raw: FastifyRequest['raw']): Promise<void> {
  if (raw.destroyed || raw.readableEnded || typeof raw.resume !== 'function') return Promise.resolve()
  return new Promise<void>(resolve => {
    const timer = setTimeout(resolve, DRAIN_MS)
    timer.unref()
    const done = (): void => {
      clearTimeout(timer)
      resolve()
    }
    raw.once('end', done)
    raw.once('close', done)
    raw.once('error', done)
    // an abandoned reader (an async iterator) listens for 'readable', which would keep the stream paused
    raw.removeAllListeners('readable')
    raw.on('data', () => {})
    raw.resume()
  })
}

/**
 * The body as it arrives, cut with 408 when the client sends slower than the floor: nothing for
 * `bodyIdleMs`, or less than `bodyMinBytesPerSecond` on average once `bodyRateWindowMs` of waiting
 * have passed. Only the time spent waiting for the client counts, not the time the server takes
 * to parse what it was sent.
 */
export async function * withRateFloor (body: AsyncIterable<Buffer>, limits: Limits): AsyncGenerator<Buffer> {
  const iterator = body[Symbol.asyncIterator]()
  let waitedMs = 0
  let bytes = 0
  for (;;) {
    const started = performance.now()
    let timer: NodeJS.Timeout | undefined
    const idle = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new KsftError('REQUEST_TIMEOUT', `the body sent nothing for ${limits.bodyIdleMs / 1000} s`)), limits.bodyIdleMs)
    })
    const pending = iterator.next()
    // an abandoned body is not destroyed here (that would reset the socket before the 408 is
    // sent): the answer closes the connection, and whatever the read then says is not news
    pending.catch(() => {})
    let next: IteratorResult<Buffer>
    try {
      next = await Promise.race([pending, idle])
    } finally {
      clearTimeout(timer)
    }
    waitedMs += performance.now() - started
    if (next.done) return
    bytes += next.value.length
    if (waitedMs >= limits.bodyRateWindowMs && bytes * 1000 / waitedMs < limits.bodyMinBytesPerSecond) {
      throw new KsftError('REQUEST_TIMEOUT', `the body came at ${Math.round(bytes * 1000 / waitedMs)} bytes/s, under the floor of ${limits.bodyMinBytesPerSecond} bytes/s`)
    }
    yield next.value
  }
}
