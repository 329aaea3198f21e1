/**
 * Defaults of the server's configuration, with no imports: the CLI names them in its help without
 * loading the server.
 */
export const DEFAULT_DB_PATH = './data/ksft.db'

/**
 * Where the server and every CLI command find the store when `--db` says nothing: a path or a
 * database URL (storage/store.ts openStore). KSFT_DB is the older name of the same setting.
 */
export function defaultStoreLocation (env: NodeJS.ProcessEnv = process.env): string {
  return env.KSFT_DATABASE_URL || env.KSFT_DB || DEFAULT_DB_PATH
}
export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = 8080
