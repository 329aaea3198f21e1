/**
 * Issue 15's PostgreSQL figures, in the same run as SQLite's: ingest of one dense log into both
 * (postgres-ingest.ts), concurrent uploads through one `ksft serve` process against two on one
 * database (postgres-two-nodes.ts), and the query latency of the big store (10M results in the
 * full plan) after `ksft migrate-store`'s copy of it into PostgreSQL (about 2 minutes), beside
 * SQLite's on the same store measured just before.
 *
 * PostgreSQL is a throwaway cluster of Debian's PostgreSQL, or databases made on the server
 * KSFT_TEST_DATABASE_URL names (test/helpers/postgres.ts; a test cluster runs with fsync off);
 * without either the section is skipped and says why.
 */
import { openDatabase } from '../server/storage/sqlite/database.ts'
import { openPostgres } from '../server/storage/postgres/connect.ts'
import { copySqliteToPostgres } from '../server/storage/postgres/copy-store.ts'
import { startPostgresOrSkip } from '../test/helpers/postgres.ts'
import { measurePostgresIngest, type PostgresIngestResult } from './postgres-ingest.ts'
import { measureTwoNodes, type TwoNodesOptions, type TwoNodesResult } from './postgres-two-nodes.ts'
import { measureQueryLatency, type LatencyResult } from './query-latency.ts'
import type { StoreShape } from './store-shape.ts'

export type PostgresBenchResult =
  | { skipped: string }
  | { ingest: PostgresIngestResult, nodes: TwoNodesResult, copy: { rows: number, seconds: number }, queries: LatencyResult, sqliteQueries: LatencyResult }

export interface PostgresBenchOptions {
  ingestBytes: number
  ingestRounds: number
  nodes: TwoNodesOptions
  queryCalls: number
  /** The big store's SQLite file (10M results in the full plan) and what it holds. */
  storePath: string
  shape: StoreShape
  stored: { runs: number, results: number }
}

export async function measurePostgres (options: PostgresBenchOptions): Promise<PostgresBenchResult> {
  const server = await startPostgresOrSkip()
  if ('skipped' in server) return server
  try {
    const ingest = await measurePostgresIngest({ url: await server.createDatabase(), targetBytes: options.ingestBytes, rounds: options.ingestRounds })
    const nodes = await measureTwoNodes({ ...options.nodes, createDatabase: server.createDatabase })
    const url = await server.createDatabase()
    const sqlite = openDatabase(options.storePath, { readonly: true })
    const pool = await openPostgres(url)
    const started = performance.now()
    let rows = 0
    try {
      rows = (await copySqliteToPostgres(sqlite, pool)).rows
    } finally {
      sqlite.close()
      await pool.end()
    }
    const copy = { rows, seconds: Math.round((performance.now() - started) / 100) / 10 }
    // one after the other on the same store, so that both see the same machine
    const sqliteQueries = await measureQueryLatency(options.storePath, options.shape, options.stored, options.queryCalls)
    const queries = await measureQueryLatency(url, options.shape, options.stored, options.queryCalls)
    return { ingest, nodes, copy, queries, sqliteQueries }
  } finally {
    await server.stop()
  }
}
