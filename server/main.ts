import { buildApp } from './app.ts'

export interface ServeOptions {
  dbPath: string
  host: string
  port: number
}

export const DEFAULT_DB_PATH = './data/ksft.db'

export function serveOptionsFromEnv (env: NodeJS.ProcessEnv = process.env): ServeOptions {
  return {
    dbPath: env.KSFT_DB ?? DEFAULT_DB_PATH,
    host: env.KSFT_HOST ?? '127.0.0.1',
    port: env.KSFT_PORT === undefined ? 8080 : Number(env.KSFT_PORT),
  }
}

/** Builds the app, listens, and closes with grace on SIGINT/SIGTERM. */
export async function serve (options: ServeOptions): Promise<void> {
  const app = await buildApp({ dbPath: options.dbPath, logger: { level: process.env.KSFT_LOG_LEVEL ?? 'info' } })
  const stop = async (signal: string): Promise<void> => {
    app.log.info({ signal }, 'closing')
    await app.close()
    process.exit(0)
  }
  process.once('SIGINT', () => { void stop('SIGINT') })
  process.once('SIGTERM', () => { void stop('SIGTERM') })
  await app.listen({ host: options.host, port: options.port })
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await serve(serveOptionsFromEnv())
}
