import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type pg from 'pg'
import { FLAGS, STATUSES } from '../../../ingest/vocabulary.ts'
import { AUDIT_ACTIONS, CULPRITS } from '../../../server/domain/known-issues.ts'
import { openPostgres } from '../../../server/storage/postgres/connect.ts'
import { checkedColumns, checkedValues } from '../../../server/storage/postgres/vocabulary.ts'
import { TOKEN_SCOPES } from '../../../server/storage/rows.ts'
import { describePostgres } from '../../helpers/postgres.ts'

/** Every column a CHECK holds to a list, with the code's one definition of that list. */
const VOCABULARIES: Record<string, readonly string[]> = {
  'results.status': STATUSES,
  'results.flags': FLAGS,
  'known_issues.culprit': CULPRITS,
  'known_issues.statuses': STATUSES,
  'known_issue_audit.action': AUDIT_ACTIONS,
  'tokens.scopes': TOKEN_SCOPES,
  // 0/1 flags, as SQLite keeps them
  'runs.complete': ['0', '1'],
  'run_collections.complete': ['0', '1'],
  'results.infrastructure': ['0', '1'],
  'known_issues.intermittent': ['0', '1'],
  'known_issues.kernel_trouble': ['0', '1'],
}

describePostgres('PostgreSQL vocabulary', server => {
  let pool: pg.Pool
  before(async () => { pool = await openPostgres(server().url) })
  after(() => pool.end())

  test('every CHECK that lists values lists exactly the code\'s vocabulary, in its order', async (t) => {
    const columns = (await checkedColumns(pool)).map(({ table, column }) => `${table}.${column}`)
    // a new checked column needs its vocabulary here, and a vocabulary here its CHECK
    assert.deepEqual(columns.sort(), Object.keys(VOCABULARIES).sort())
    for (const [name, vocabulary] of Object.entries(VOCABULARIES)) {
      const [table, column] = name.split('.') as [string, string]
      await t.test(name, async () => {
        assert.deepEqual(await checkedValues(pool, table, column), [...vocabulary])
      })
    }
  })

  test('a comma list takes any of its words, none, or (for scopes) at least one, and nothing else', async () => {
    const client = await pool.connect()
    // each insert in a savepoint, so that the refused ones leave the transaction usable; nothing is kept
    await client.query('BEGIN')
    try {
      await commaLists(client)
    } finally {
      await client.query('ROLLBACK')
      client.release()
    }
  })
})

async function commaLists (client: pg.PoolClient): Promise<void> {
  const accepts = async (sql: string, values: unknown[]): Promise<boolean> => {
    await client.query('SAVEPOINT attempt')
    try {
      await client.query(sql, values)
      return true
    } catch (err) {
      if ((err as { code?: string }).code !== '23514') throw err
      await client.query('ROLLBACK TO SAVEPOINT attempt')
      return false
    }
  }
  const token = (scopes: string) => accepts(
    "INSERT INTO tokens (name, secret_sha256, scopes, created_at) VALUES ($1, repeat('0', 64), $2, now())", [`t-${scopes}`, scopes])
  assert.equal(await token('upload'), true)
  assert.equal(await token('upload,admin'), true)
  assert.equal(await token(''), false)
  assert.equal(await token('upload,owner'), false)
  assert.equal(await token('Upload'), false)

  const issue = (statuses: string) => accepts(
    "INSERT INTO known_issues (title, culprit, test_glob, statuses, created_at, created_by, updated_at) VALUES ('i', 'kernel', '*', $1, now(), 'a', now())", [statuses])
  assert.equal(await issue(''), true)
  assert.equal(await issue('fail,timeout'), true)
  assert.equal(await issue('fail,flaky'), false)

  await client.query(`
    WITH s AS (INSERT INTO series (name, created_at) VALUES ('s', now()) RETURNING id),
      v AS (INSERT INTO versions (series_id, label, sort_key, created_at) SELECT id, 'v1', 1, now() FROM s RETURNING id),
      m AS (INSERT INTO machines (name, created_at, updated_at) VALUES ('m', now(), now()) RETURNING id)
    INSERT INTO runs (version_id, machine_id, created_at, content_sha256, dedup_key, log_bytes, log_lines, total, pass, fail, skip, xfail, xpass, timeout, error)
    SELECT v.id, m.id, now(), 'sha', 'key', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 FROM v, m`)
  await client.query("INSERT INTO cases (collection, test) VALUES ('c', 't')")
  let seq = 0
  const result = (flags: string) => accepts(`
    INSERT INTO results (run_id, seq, case_id, status, flags, line_from, line_to)
    VALUES ((SELECT id FROM runs), $1, (SELECT id FROM cases), 'fail', $2, 1, 1)`, [seq++, flags])
  assert.equal(await result(''), true)
  assert.equal(await result('kernel_warning,call_trace'), true)
  assert.equal(await result('kernel_warning,'), false)
  assert.equal(await result('kernel_warning,oops'), false)
}
