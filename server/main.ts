import { readFileSync } from 'node:fs'
import { buildApp } from './app.ts'
import { DEFAULT_DB_PATH, DEFAULT_HOST, DEFAULT_PORT, defaultStoreLocation } from './defaults.ts'
import type { Limits } from './plugins/limits.ts'
import type { SecurityOptions } from './plugins/security.ts'
import { cleanSpool } from './services/upload-ingest.ts'

export interface ServeOptions {
  /** The store: a SQLite file's path or a database URL (storage/store.ts openStore). */
  dbPath: string
  host: string
  port: number
  security?: SecurityOptions
  /** How long in-flight requests (uploads) may take to finish after SIGTERM, in ms. */
  shutdownTimeoutMs?: number
  /** Timeouts, parse workers, uploads in flight per token (plugins/limits.ts has the defaults). */
  limits?: Partial<Limits>
  /** The address users reach the server at (behind a proxy), for links in exports. */
  publicUrl?: string
}

export { DEFAULT_DB_PATH }
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000

function numberFrom (value: string | undefined): number | undefined {
  return value === undefined || value === '' ? undefined : Number(value)
}

/**
 * The read token from a file (its first line), so that it shows neither in `ps` nor in the
 * environment of every process the server starts.
 */
export function readTokenFromFile (path: string): string {
  const token = readFileSync(path, 'utf8').split(/\r?\n/, 1)[0]!.trim()
  if (token === '') throw new Error(`the read token file ${path} is empty`)
  return token
}

export function serveOptionsFromEnv (env: NodeJS.ProcessEnv = process.env): ServeOptions {
  return {
    dbPath: defaultStoreLocation(env),
    host: env.KSFT_HOST ?? DEFAULT_HOST,
    port: numberFrom(env.KSFT_PORT) ?? DEFAULT_PORT,
    security: {
      readToken: env.KSFT_READ_TOKEN_FILE ? readTokenFromFile(env.KSFT_READ_TOKEN_FILE) : env.KSFT_READ_TOKEN || undefined,
      readsPerMinute: numberFrom(env.KSFT_READS_PER_MINUTE),
      uploadsPerMinute: numberFrom(env.KSFT_UPLOADS_PER_MINUTE),
    },
    shutdownTimeoutMs: numberFrom(env.KSFT_SHUTDOWN_TIMEOUT_MS),
    limits: {
      requestTimeoutMs: numberFrom(env.KSFT_REQUEST_TIMEOUT_MS),
      bodyIdleMs: numberFrom(env.KSFT_BODY_IDLE_MS),
      bodyMinBytesPerSecond: numberFrom(env.KSFT_BODY_MIN_BYTES_PER_SECOND),
      keepAliveTimeoutMs: numberFrom(env.KSFT_KEEP_ALIVE_TIMEOUT_MS),
      uploadsInFlightPerToken: numberFrom(env.KSFT_UPLOADS_IN_FLIGHT_PER_TOKEN),
      parseWorkers: numberFrom(env.KSFT_PARSE_WORKERS),
      parseDeadlineMs: numberFrom(env.KSFT_PARSE_DEADLINE_MS),
    },
    publicUrl: env.KSFT_PUBLIC_URL || undefined,
  }
}

/**
 * Builds the app and listens. On SIGTERM or SIGINT it stops accepting connections, lets in-flight
 * requests (uploads) finish up to a deadline, and closes the database cleanly.
 */
export async function serve (options: ServeOptions): Promise<void> {
  const app = await buildApp({
    dbPath: options.dbPath,
    logger: { level: process.env.KSFT_LOG_LEVEL ?? 'info' },
    security: options.security,
    limits: options.limits,
    publicUrl: options.publicUrl,
  })
  // what uploads of killed servers left in the spool; then a parse worker ready for the first upload
  const removed = cleanSpool(app.uploads.spoolDir)
  if (removed > 0) app.log.info({ removed, spool: app.uploads.spoolDir }, 'removed what interrupted uploads left in the spool')
  await app.uploads.pool.warm()
  const deadline = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    app.log.info({ signal, deadlineMs: deadline }, 'closing: no new connections, waiting for requests in flight')
    const timer = setTimeout(() => {
      app.log.error('requests still in flight at the shutdown deadline; exiting (their runs are not stored)')
      process.exit(1)
    }, deadline)
    timer.unref()
    app.close().then(() => {
      app.log.info('closed cleanly')
      process.exit(0)
    }, (err: unknown) => {
      app.log.error({ err }, 'close failed')
      process.exit(1)
    })
  }
  process.once('SIGINT', () => stop('SIGINT'))
  process.once('SIGTERM', () => stop('SIGTERM'))
  await app.listen({ host: options.host, port: options.port })
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await serve(serveOptionsFromEnv())
}
