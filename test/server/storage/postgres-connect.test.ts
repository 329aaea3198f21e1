import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type pg from 'pg'
import { isPostgresUrl, openPostgres } from '../../../server/storage/postgres/connect.ts'
import { describePostgres } from '../../helpers/postgres.ts'

test('only a postgres:// or postgresql:// URL names a PostgreSQL database, and a refusal does not repeat the URL', async () => {
  assert.equal(isPostgresUrl('postgres://ksft@db.example/ksft'), true)
  assert.equal(isPostgresUrl('postgresql://ksft@/ksft?host=/run/postgresql'), true)
  assert.equal(isPostgresUrl('./data/ksft.db'), false)
  assert.equal(isPostgresUrl('/var/lib/postgres.db'), false)
  await assert.rejects(openPostgres('mysql://user:secret@host/db'), (err: Error) => {
    assert.match(err.message, /postgres:\/\/ or postgresql:\/\//)
    assert.doesNotMatch(err.message, /secret/)
    return true
  })
})

describePostgres('PostgreSQL pool', server => {
  let pool: pg.Pool
  before(async () => { pool = await openPostgres(server().url) })
  after(() => pool.end())

  test('bigint, bigint[] and timestamptz read back as the SQLite store hands them: numbers and ISO strings', async () => {
    const stamped = '2026-12-01T10:00:00.123Z'
    const { rows } = await pool.query(
      'SELECT 9007199254740991::bigint AS id, count(*) AS rows, ARRAY[1, NULL, 3]::bigint[] AS ids, $1::timestamptz AS at, NULL::timestamptz AS never',
      [stamped])
    assert.deepEqual(rows, [{ id: Number.MAX_SAFE_INTEGER, rows: 1, ids: [1, null, 3], at: stamped, never: null }])
  })

  test('a time is one instant whatever the session\'s time zone', async () => {
    const client = await pool.connect()
    try {
      await client.query("SET TIME ZONE 'America/Los_Angeles'")
      const { rows } = await client.query("SELECT '2026-12-01T10:00:00.000Z'::timestamptz AS at")
      assert.equal(rows[0].at, '2026-12-01T10:00:00.000Z')
    } finally {
      await client.query('RESET TIME ZONE')
      client.release()
    }
  })
})

describePostgres('PostgreSQL pool opened read-only', server => {
  test('refuses to write whatever options its URL carries', async (t) => {
    const url = await server().createDatabase()
    await (await openPostgres(url)).end()
    // the URL's own options reach the server (statement_timeout shows they do), read-only is not one of them
    const options = encodeURIComponent('-c default_transaction_read_only=off -c statement_timeout=4321')
    const reader = await openPostgres(`${url}${url.includes('?') ? '&' : '?'}options=${options}`, { readonly: true })
    t.after(() => reader.end())
    assert.equal((await reader.query('SHOW statement_timeout')).rows[0].statement_timeout, '4321ms')
    await assert.rejects(reader.query("INSERT INTO store_state (key, value) VALUES ('written', 1)"), /read-only transaction/)
    // nor inside a transaction, on a connection the pool opened for it
    const client = await reader.connect()
    try {
      await client.query('BEGIN')
      await assert.rejects(client.query("UPDATE store_state SET value = value + 1 WHERE key = 'write_counter'"), /read-only transaction/)
    } finally {
      await client.query('ROLLBACK')
      client.release()
    }
  })
})
