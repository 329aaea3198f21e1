import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'

/** A pool or a client inside a transaction: what a statement needs to run. */
export type Queryable = pg.Pool | pg.PoolClient

/**
 * The SQLSTATEs after which PostgreSQL has rolled a transaction back whole, and the same
 * transaction run again can succeed: deadlock_detected (40P01: it broke a cycle of lock waits, say
 * between writes on two nodes, by ending this one) and serialization_failure (40001: under
 * REPEATABLE READ or SERIALIZABLE, which a database's or role's default_transaction_isolation may
 * set, another transaction changed what this one read).
 */
const RETRYABLE_SQLSTATES: ReadonlySet<string> = new Set(['40P01', '40001'])
/** Runs of a transaction after its first, each after a retryable failure of the one before. */
export const TRANSACTION_RETRIES = 3
/**
 * The longest wait before the first run again, doubled for each next one; each wait is drawn at
 * random below it, so that the transactions that collided do not start again in step and collide again.
 */
const RETRY_BACKOFF_MS = 25

export interface TransactionOptions<T> {
  /** Whether a result is rolled back rather than committed: the body found its work done already (by another node). */
  rollbackIf?: (result: T) => boolean
}

/**
 * Runs `body` in one transaction on a connection of the pool: committed when it resolves, rolled
 * back when it throws. READ COMMITTED, as PostgreSQL's default: the stores take the row locks they
 * need (`FOR UPDATE` on what they read and then write), as SQLite's IMMEDIATE transactions take
 * the one write lock. A connection whose ROLLBACK failed is not handed back to the pool.
 *
 * A transaction PostgreSQL ended to break a deadlock or for serialization (RETRYABLE_SQLSTATES)
 * runs again from the start, on a connection of the pool, up to TRANSACTION_RETRIES times: a
 * client then sees the answer rather than a 500. So `body` may run more than once, and each run
 * must start from the same state: it changes nothing outside its transaction (in-memory state is
 * changed by the caller once this returns) and reads its inputs again (an iterable, not a one-shot
 * iterator).
 */
export async function inTransaction<T> (pool: pg.Pool, body: (client: pg.PoolClient) => Promise<T>, options: TransactionOptions<T> = {}): Promise<T> {
  return retryingConflicts(() => runOnce(pool, body, options))
}

/**
 * Runs `work` (a transaction, or one statement that writes and is a transaction of its own) again
 * after a failure PostgreSQL rolled back whole for a deadlock or for serialization
 * (RETRYABLE_SQLSTATES), up to TRANSACTION_RETRIES times. One statement can meet either too: a
 * database whose default isolation is REPEATABLE READ ends an UPDATE of a row another transaction
 * changed meanwhile with 40001.
 */
export async function retryingConflicts<T> (work: () => Promise<T>): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await work()
    } catch (err) {
      if (retry === TRANSACTION_RETRIES || !retryable(err)) throw err
      await sleep(Math.random() * RETRY_BACKOFF_MS * 2 ** retry)
    }
  }
}

function retryable (err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && RETRYABLE_SQLSTATES.has(code)
}

async function runOnce<T> (pool: pg.Pool, body: (client: pg.PoolClient) => Promise<T>, options: TransactionOptions<T>): Promise<T> {
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    await client.query('BEGIN')
    try {
      const result = await body(client)
      await client.query(options.rollbackIf?.(result) === true ? 'ROLLBACK' : 'COMMIT')
      return result
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => { broken = rollbackError })
      throw err
    }
  } finally {
    client.release(broken)
  }
}

/** Moves the store's write counter, which readers (ETags) on every node compare: last in a transaction, so that its row lock is held briefly. */
export async function bumpWriteCounter (db: Queryable): Promise<void> {
  await db.query("UPDATE store_state SET value = value + 1 WHERE key = 'write_counter'")
}
