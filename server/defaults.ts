/**
 * Defaults of the server's configuration, with no imports: the CLI names them in its help without
 * loading the server.
 */
export const DEFAULT_DB_PATH = './data/ksft.db'
export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = 8080
