import { buildApp } from './app.ts'
import { DEFAULT_DB_PATH, DEFAULT_HOST, DEFAULT_PORT } from './defaults.ts'
import type { SecurityOptions } from './plugins/security.ts'

export interface ServeOptions {
  dbPath: string
  host: string
  port: number
  security?: SecurityOptions
  /** How long in-flight requests (uploads) may take to finish after SIGTERM, in ms. */
  shutdownTimeoutMs?: number
}

export { DEFAULT_DB_PATH }
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000

function numberFrom (value: string | undefined): number | undefined {
  return value === undefined || value === '' ? undefined : Number(value)
}

export function serveOptionsFromEnv (env: NodeJS.ProcessEnv = process.env): ServeOptions {
  return {
    dbPath: env.KSFT_DB ?? DEFAULT_DB_PATH,
    host: env.KSFT_HOST ?? DEFAULT_HOST,
    port: numberFrom(env.KSFT_PORT) ?? DEFAULT_PORT,
    security: {
      readToken: env.KSFT_READ_TOKEN || undefined,
      readsPerMinute: numberFrom(env.KSFT_READS_PER_MINUTE),
      uploadsPerMinute: numberFrom(env.KSFT_UPLOADS_PER_MINUTE),
    },
    shutdownTimeoutMs: numberFrom(env.KSFT_SHUTDOWN_TIMEOUT_MS),
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
  })
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
