import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type pg from 'pg'
import { openPostgres } from '../../../server/storage/postgres/connect.ts'
import { PostgresTokenStore } from '../../../server/storage/postgres/token-store.ts'
import { inTransaction, TRANSACTION_RETRIES } from '../../../server/storage/postgres/transaction.ts'
import { describePostgres, waitFor, type TestPostgres } from '../../helpers/postgres.ts'

/**
 * postgres/transaction.ts inTransaction: a transaction PostgreSQL ends to break a deadlock or for
 * serialization runs again, a real deadlock and a real serialization failure provoked on the test
 * server; any other failure is the caller's at once. A store's write of one statement, outside
 * inTransaction, runs again too (retryingConflicts).
 */

/** A fresh database with two rows to lock, `pair` (1 and 2), on a pool opened with `options` in its URL. */
async function pairPool (t: TestContext, server: TestPostgres, options = ''): Promise<pg.Pool> {
  const url = await server.createDatabase()
  const pool = await openPostgres(options === '' ? url : `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(options)}`)
  t.after(() => pool.end())
  await pool.query('CREATE TABLE pair (id integer PRIMARY KEY, n integer NOT NULL)')
  await pool.query('INSERT INTO pair VALUES (1, 0), (2, 0)')
  return pool
}

/** Resolves for each of `parties` callers once all of them called. */
function barrier (parties: number): () => Promise<void> {
  let arrived = 0
  let release!: () => void
  const all = new Promise<void>(resolve => { release = resolve })
  return async () => {
    if (++arrived === parties) release()
    await all
  }
}

async function counts (pool: pg.Pool): Promise<number[]> {
  return (await pool.query<{ n: number }>('SELECT n FROM pair ORDER BY id')).rows.map(row => row.n)
}

describePostgres('PostgreSQL transactions', server => {
  test('two transactions locking two rows in opposite orders deadlock; the one PostgreSQL ends runs again and commits once', async (t) => {
    const pool = await pairPool(t, server())
    const bothHoldOne = barrier(2)
    const runs = { ascending: 0, descending: 0 }
    // each adds 1 to both rows: its first run waits, holding its first row, until the other holds its own
    const addToBoth = (order: keyof typeof runs, first: number, second: number) => inTransaction(pool, async client => {
      const run = ++runs[order]
      await client.query('UPDATE pair SET n = n + 1 WHERE id = $1', [first])
      if (run === 1) await bothHoldOne()
      await client.query('UPDATE pair SET n = n + 1 WHERE id = $1', [second])
      return run
    })
    const committedAt = await Promise.all([addToBoth('ascending', 1, 2), addToBoth('descending', 2, 1)])
    // one committed at its first run; PostgreSQL ended the other (40P01), whose second run committed
    assert.deepEqual(committedAt.sort(), [1, 2])
    assert.equal(runs.ascending + runs.descending, 3)
    // each transaction's writes once, none of the ended run's
    assert.deepEqual(await counts(pool), [2, 2])
  })

  test('a serialization failure under SERIALIZABLE (a database default, here the URL\'s) runs again and commits once', async (t) => {
    const pool = await pairPool(t, server(), '-c default_transaction_isolation=serializable')
    const bothRead = barrier(2)
    let runs = 0
    // write skew: each reads both rows, then writes the one the other read
    const moveOne = (id: number) => inTransaction(pool, async client => {
      const run = ++runs
      await client.query('SELECT sum(n) FROM pair')
      if (run <= 2) await bothRead()
      await client.query('UPDATE pair SET n = n + 1 WHERE id = $1', [id])
      return run
    })
    await Promise.all([moveOne(1), moveOne(2)])
    assert.equal(runs, 3, 'one of the two ran again')
    assert.deepEqual(await counts(pool), [1, 1])
  })

  test('a failure of any other kind is not run again; a retryable one is run again a few times only', async (t) => {
    const pool = await pairPool(t, server())
    let runs = 0
    await assert.rejects(inTransaction(pool, async client => {
      runs++
      await client.query('UPDATE pair SET n = n + 1 WHERE id = 1')
      await client.query('INSERT INTO pair VALUES (2, 0)')
    }), (err: Error & { code?: string }) => err.code === '23505')
    assert.equal(runs, 1, 'a unique violation is the caller\'s at once')

    runs = 0
    await assert.rejects(inTransaction(pool, async client => {
      runs++
      await client.query('UPDATE pair SET n = n + 1 WHERE id = 1')
      await client.query("DO $$ BEGIN RAISE EXCEPTION 'always' USING ERRCODE = 'deadlock_detected'; END $$")
    }), (err: Error & { code?: string }) => err.code === '40P01')
    assert.equal(runs, 1 + TRANSACTION_RETRIES)
    assert.deepEqual(await counts(pool), [0, 0], 'every run was rolled back')
  })

  test('a write of one statement that a concurrent update ends (REPEATABLE READ, 40001) runs again: a token is revoked', async (t) => {
    const url = await server().createDatabase()
    const pool = await openPostgres(`${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent('-c default_transaction_isolation=repeatable\\ read')}`)
    t.after(() => pool.end())
    assert.equal((await pool.query<{ level: string }>("SELECT current_setting('transaction_isolation') AS level")).rows[0]!.level, 'repeatable read')
    const tokens = new PostgresTokenStore(pool)
    await tokens.create('lab', ['upload'])
    // another node's flush holds the row when the revoke reaches it
    const other = await pool.connect()
    let revoked: Promise<boolean>
    try {
      await other.query('BEGIN')
      await other.query("UPDATE tokens SET last_used_at = now() WHERE name = 'lab'")
      revoked = tokens.revoke('lab')
      // the revoke waits for the row
      await waitFor(async () => ((await pool.query("SELECT 1 FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'")).rowCount ?? 0) > 0)
      await other.query('COMMIT')
    } finally {
      // held, the connection would keep pool.end() waiting
      other.release()
    }
    // the revoke's first run ended with 40001 once the update committed; its second saw the new row
    assert.equal(await revoked, true)
    const [info] = await tokens.list()
    assert.notEqual(info!.revokedAt, null)
    assert.notEqual(info!.lastUsedAt, null, 'the other transaction\'s write is kept')
  })
})
