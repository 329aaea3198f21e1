import type pg from 'pg'

/** A pool or a client inside a transaction: what a statement needs to run. */
export type Queryable = pg.Pool | pg.PoolClient

/**
 * Runs `body` in one transaction on a connection of the pool: committed when it resolves, rolled
 * back when it throws. READ COMMITTED, as PostgreSQL's default: the stores take the row locks they
 * need (`FOR UPDATE` on what they read and then write), as SQLite's IMMEDIATE transactions take
 * the one write lock. A connection whose ROLLBACK failed is not handed back to the pool.
 */
export async function inTransaction<T> (pool: pg.Pool, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    await client.query('BEGIN')
    try {
      const result = await body(client)
      await client.query('COMMIT')
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
