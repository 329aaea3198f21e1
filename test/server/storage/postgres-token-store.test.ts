import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import pg from 'pg'
import { openPostgres } from '../../../server/storage/postgres/connect.ts'
import { PostgresTokenStore } from '../../../server/storage/postgres/token-store.ts'
import { describePostgres } from '../../helpers/postgres.ts'

/** A clock that moves only when told to. */
function manualClock (start = Date.parse('2026-12-01T10:00:00.000Z')) {
  let now = start
  return { clock: () => new Date(now), advance: (ms: number) => { now += ms } }
}

describePostgres('PostgreSQL token store', server => {
  let pool: pg.Pool
  before(async () => { pool = await openPostgres(server().url) })
  after(() => pool.end())

  async function lastUsedInDatabase (name: string): Promise<string | null> {
    return (await pool.query<{ last_used_at: string | null }>('SELECT last_used_at FROM tokens WHERE name = $1', [name])).rows[0]!.last_used_at
  }

  test('a created token verifies, with its scopes; only a hash of its secret is stored', async () => {
    const { clock } = manualClock()
    const tokens = new PostgresTokenStore(pool, clock)
    const { token, info } = await tokens.create('lab-a', ['upload', 'admin'])
    assert.match(token, /^ksft_\d+_[A-Za-z0-9_-]{43}$/)
    assert.deepEqual(info, { id: info.id, name: 'lab-a', scopes: ['upload', 'admin'], createdAt: '2026-12-01T10:00:00.000Z', lastUsedAt: null, revokedAt: null })
    assert.deepEqual(await tokens.verify(token), { ...info, lastUsedAt: '2026-12-01T10:00:00.000Z' })
    const { rows } = await pool.query('SELECT secret_sha256 FROM tokens WHERE id = $1', [info.id])
    assert.match(rows[0].secret_sha256, /^[0-9a-f]{64}$/)
    assert.ok(!token.includes(rows[0].secret_sha256))
  })

  test('a forged, malformed, unknown or revoked token does not verify', async () => {
    const tokens = new PostgresTokenStore(pool)
    const { token, info } = await tokens.create('lab-b', ['upload'])
    const secret = token.split('_')[2]!
    const forged = `${token.slice(0, -2)}${token.endsWith('xx') ? 'yy' : 'xx'}`
    for (const presented of [forged, `ksft_999999_${secret}`, `ksft_${info.id}`, `ksft_${info.id}_${secret}x`, `Bearer ${token}`, '']) {
      assert.equal(await tokens.verify(presented), null, presented)
    }
    assert.equal(await tokens.revoke('lab-b'), true)
    assert.equal(await tokens.revoke('lab-b'), false, 'revoked once')
    assert.equal(await tokens.revoke('no-such-token'), false)
    assert.equal(await tokens.verify(token), null)
    assert.notEqual((await tokens.list()).find(listed => listed.name === 'lab-b')!.revokedAt, null)
  })

  test('a name is taken once, also by two nodes creating it at the same moment', async () => {
    const nodes = [new PostgresTokenStore(pool), new PostgresTokenStore(pool)]
    await assert.rejects(Promise.all([nodes[0]!.create('ci', ['upload']), nodes[1]!.create('ci', ['admin'])]), /a token named "ci" exists already/)
    const named = (await nodes[0]!.list()).filter(listed => listed.name === 'ci')
    assert.equal(named.length, 1)
    await assert.rejects(nodes[1]!.create('ci', ['upload']), /a token named "ci" exists already/)
  })

  test('a use is kept in memory until flushed: list shows it at once, the database after the flush', async () => {
    const { clock, advance } = manualClock()
    const tokens = new PostgresTokenStore(pool, clock)
    const { token } = await tokens.create('lab-c', ['upload'])
    assert.equal(await tokens.flushLastUsed(), 0, 'nothing to write')
    advance(60_000)
    await tokens.verify(token)
    assert.equal((await tokens.list()).find(listed => listed.name === 'lab-c')!.lastUsedAt, '2026-12-01T10:01:00.000Z')
    assert.equal(await lastUsedInDatabase('lab-c'), null)
    assert.equal(await tokens.flushLastUsed(), 1)
    assert.equal(await lastUsedInDatabase('lab-c'), '2026-12-01T10:01:00.000Z')
    assert.equal(await tokens.flushLastUsed(), 0, 'written once')
  })

  test('a flush does not wait for a token row another transaction holds: that use is written by a later flush', { timeout: 10_000 }, async (t) => {
    const { clock, advance } = manualClock()
    const tokens = new PostgresTokenStore(pool, clock)
    const held = await tokens.create('lab-d', ['upload'])
    const free = await tokens.create('lab-e', ['upload'])
    advance(1000)
    await tokens.verify(held.token)
    await tokens.verify(free.token)
    // another node's transaction on lab-d's row, left open
    const other = new pg.Client({ connectionString: server().url })
    await other.connect()
    t.after(() => other.end())
    await other.query('BEGIN')
    await other.query("SELECT * FROM tokens WHERE name = 'lab-d' FOR UPDATE")
    const started = performance.now()
    assert.equal(await tokens.flushLastUsed(), 1)
    assert.ok(performance.now() - started < 1000, 'the flush did not wait for the lock')
    assert.equal(await lastUsedInDatabase('lab-d'), null)
    assert.equal(await lastUsedInDatabase('lab-e'), '2026-12-01T10:00:01.000Z')
    await other.query('ROLLBACK')
    assert.equal(await tokens.flushLastUsed(), 1)
    assert.equal(await lastUsedInDatabase('lab-d'), '2026-12-01T10:00:01.000Z')
  })

  test('a later use another node wrote is not moved back by an earlier one; a use during a flush stays for the next', async () => {
    const early = manualClock(Date.parse('2026-12-01T09:00:00.000Z'))
    const late = manualClock(Date.parse('2026-12-01T11:00:00.000Z'))
    const nodeA = new PostgresTokenStore(pool, early.clock)
    const nodeB = new PostgresTokenStore(pool, late.clock)
    const { token } = await nodeA.create('lab-f', ['upload'])
    await nodeB.verify(token)
    assert.equal(await nodeB.flushLastUsed(), 1)
    await nodeA.verify(token)
    assert.equal(await nodeA.flushLastUsed(), 1)
    assert.equal(await lastUsedInDatabase('lab-f'), '2026-12-01T11:00:00.000Z')

    // a use recorded while a flush is on its way is newer than what that flush writes
    early.advance(3 * 3600_000)
    await nodeA.verify(token)
    const flushing = nodeA.flushLastUsed()
    early.advance(1000)
    await nodeA.verify(token)
    assert.equal(await flushing, 1)
    assert.equal(await lastUsedInDatabase('lab-f'), '2026-12-01T12:00:00.000Z')
    assert.equal(await nodeA.flushLastUsed(), 1)
    assert.equal(await lastUsedInDatabase('lab-f'), '2026-12-01T12:00:01.000Z')
  })

  test('tokens are listed in the order they were created', async () => {
    const tokens = new PostgresTokenStore(pool)
    const names = (await tokens.list()).map(listed => listed.name)
    assert.deepEqual(names, ['lab-a', 'lab-b', 'ci', 'lab-c', 'lab-d', 'lab-e', 'lab-f'])
  })
})
