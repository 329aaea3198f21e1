// ksft migrate-store's copy (storage/postgres/copy-store.ts) on a store built through the real
// ingest path: the demo's SYNTHETIC logs, generated ones, and the real logs of ../shared/fixtures/real
// when they are here (test/helpers/seeded-store.ts).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { inflateSync } from 'node:zlib'
import type { Database } from 'better-sqlite3'
import type pg from 'pg'
import { openPostgres } from '../../../server/storage/postgres/connect.ts'
import { COPY_ORDER, copySqliteToPostgres, verifyCopy, type CopyProgress } from '../../../server/storage/postgres/copy-store.ts'
import { runKsft } from '../../helpers/cli.ts'
import { realFixtureNames, realFixturePath } from '../../helpers/fixtures.ts'
import { describePostgres } from '../../helpers/postgres.ts'
import { seededStore } from '../../helpers/seeded-store.ts'

/** Each table's primary key, as both schemas declare it: the order its rows are compared in. */
async function keysOf (pool: pg.Pool): Promise<Map<string, string[]>> {
  const { rows } = await pool.query<{ table_name: string, key: string[] }>(`
    SELECT c.relname AS table_name, array_agg(a.attname::text ORDER BY k.position) AS key
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
    CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indisprimary AND c.relnamespace = current_schema()::regnamespace GROUP BY c.relname`)
  return new Map(rows.map(row => [row.table_name, row.key]))
}

/**
 * Every row of a table on both sides, by key. results.infrastructure, which PostgreSQL stores and
 * SQLite computes when it reads, is read from SQLite through its SQL function.
 */
async function bothSides (sqlite: Database, pool: pg.Pool, table: string, key: string[]) {
  const order = key.join(', ')
  const extra = table === 'results'
    ? ", (status IN ('fail', 'xpass', 'timeout', 'error') AND ksft_infrastructure(status, exit_code, reason)) AS infrastructure"
    : ''
  return {
    sqlite: sqlite.prepare(`SELECT *${extra} FROM ${table} ORDER BY ${order}`).all() as Array<Record<string, unknown>>,
    postgres: (await pool.query(`SELECT * FROM ${table} ORDER BY ${order}`)).rows as Array<Record<string, unknown>>,
  }
}

/** A log's bytes from its deflated chunks. */
function inflated (chunks: Array<{ content: Buffer }>): Buffer {
  return Buffer.concat(chunks.map(chunk => inflateSync(chunk.content)))
}

describePostgres('ksft migrate-store: a SQLite store copied into PostgreSQL', server => {
  test('every table copied row for row, ids kept, the aggregates verified equal, a raw log byte-exact', async (t) => {
    const seeded = await seededStore(t)
    const pool = await openPostgres(await server().createDatabase())
    t.after(() => pool.end())
    const progress: CopyProgress[] = []
    const stats = await copySqliteToPostgres(seeded.db, pool, { batchRows: 250, onProgress: p => progress.push(p) })

    const report = await verifyCopy(seeded.db, pool)
    assert.deepEqual(report.differences, [])
    assert.equal(report.equal, true)
    assert.deepEqual(report.tables.map(row => row.table), [...COPY_ORDER])
    for (const table of report.tables) assert.ok(table.sqlite > 0, `the seeded store has rows in ${table.table}: the test covers it`)
    assert.equal(stats.rows, report.tables.reduce((sum, table) => sum + table.sqlite, 0), 'every row, store_state\'s write_counter taken over')
    assert.ok(progress.filter(p => p.table === 'results').length > 1, 'results went in batches, each reported')
    assert.ok(progress.every(p => p.copied <= p.total))
    for (const table of COPY_ORDER) {
      const reports = progress.filter(p => p.table === table)
      assert.deepEqual(reports.map(p => p.done), [...reports.slice(1).map(() => false), true], `${table}: its last report, and only that, says done`)
      assert.equal(reports.at(-1)!.copied, reports.at(-1)!.total)
    }

    const keys = await keysOf(pool)
    for (const table of COPY_ORDER) {
      const { sqlite, postgres } = await bothSides(seeded.db, pool, table, keys.get(table)!)
      assert.deepEqual(postgres, sqlite, `${table}: the same rows`)
    }
    const infrastructure = (await pool.query('SELECT count(*)::int AS n FROM results WHERE infrastructure = 1')).rows[0].n as number
    assert.ok(infrastructure > 0, 'some results have infrastructure evidence: the computed column is tested')

    // a real log (when present) and a generated one, byte for byte from PostgreSQL's chunks
    const readBack = async (runId: number) => inflated((await pool.query('SELECT content FROM log_chunks WHERE run_id = $1 ORDER BY seq', [runId])).rows)
    for (const runId of [seeded.runIds[0]!, seeded.runIds.at(-1)!]) {
      assert.ok((await readBack(runId)).equals(Buffer.concat([...seeded.store.readLog(runId)])), `run ${runId}: the same bytes`)
    }
    if (seeded.realLogs > 0) {
      const lastReal = realFixtureNames().at(-1)!
      assert.ok((await readBack(seeded.runIds.at(-1)!)).equals(readFileSync(realFixturePath(lastReal))), `${lastReal}: the file's bytes`)
    }

    // the sequences were moved past the copied ids: the next row the database numbers takes a new id
    for (const table of ['series', 'runs', 'tokens', 'known_issues']) {
      const { rows: [next] } = await pool.query(`SELECT nextval(pg_get_serial_sequence('${table}', 'id')) AS id, (SELECT max(id) FROM ${table}) AS max`)
      assert.equal(next.id, next.max + 1, `${table}: the next id follows the copied ones`)
    }
  })

  test('copying again changes nothing; a copy cut short goes on where it stopped', async (t) => {
    const seeded = await seededStore(t, { realLogs: false })
    const pool = await openPostgres(await server().createDatabase())
    t.after(() => pool.end())
    // cut short in the middle of results, after two committed batches
    let batches = 0
    await assert.rejects(copySqliteToPostgres(seeded.db, pool, {
      batchRows: 100,
      onProgress: p => { if (p.table === 'results' && ++batches === 2) throw new Error('interrupted') },
    }), /interrupted/)
    const partial = await verifyCopy(seeded.db, pool)
    assert.equal(partial.equal, false)
    assert.deepEqual(partial.tables.find(row => row.table === 'results')!.postgres, 200)

    const resumed = await copySqliteToPostgres(seeded.db, pool, { batchRows: 100 })
    const results = resumed.tables.find(row => row.table === 'results')!
    assert.equal(results.copied, results.rows - 200, 'results went on after the 200 copied')
    assert.ok(resumed.tables.filter(row => COPY_ORDER.indexOf(row.table as typeof COPY_ORDER[number]) < COPY_ORDER.indexOf('results')).every(row => row.skipped),
      'the tables before it were complete and were skipped')
    assert.equal((await verifyCopy(seeded.db, pool)).equal, true)

    const keys = await keysOf(pool)
    const snapshot = async () => Promise.all(COPY_ORDER.map(async table => (await pool.query(`SELECT * FROM ${table} ORDER BY ${keys.get(table)!.join(', ')}`)).rows))
    const before = await snapshot()
    const again = await copySqliteToPostgres(seeded.db, pool)
    assert.equal(again.rows, 0)
    assert.deepEqual(again.tables.filter(row => !row.skipped).map(row => row.table), ['store_state'], 'only the counters are read again')
    assert.deepEqual(await snapshot(), before)

    // rows lost on the PostgreSQL side after the last key of each table (a run and all it had) come back
    await pool.query('DELETE FROM runs WHERE id = (SELECT max(id) FROM runs)')
    assert.equal((await verifyCopy(seeded.db, pool)).equal, false)
    await copySqliteToPostgres(seeded.db, pool)
    assert.deepEqual(await snapshot(), before)
  })

  test('a PostgreSQL store with data of its own is refused, not mixed with the copy', async (t) => {
    const seeded = await seededStore(t, { realLogs: false })
    const pool = await openPostgres(await server().createDatabase())
    t.after(() => pool.end())
    await pool.query("INSERT INTO series (name, created_at) VALUES ('another store''s series', now())")
    await assert.rejects(copySqliteToPostgres(seeded.db, pool), /not empty and not a copy of this SQLite store: its series row 1 \("another store's series"\)/)
    assert.deepEqual((await pool.query('SELECT count(*)::int AS n FROM runs')).rows, [{ n: 0 }])
  })

  test('what differs is reported, table by table and version by version', async (t) => {
    const seeded = await seededStore(t, { realLogs: false })
    const pool = await openPostgres(await server().createDatabase())
    t.after(() => pool.end())
    // batches as large as the runs table: its one batch is full, and only the next read finds the end
    const runs = seeded.db.prepare('SELECT count(*) FROM runs').pluck().get() as number
    const progress: CopyProgress[] = []
    await copySqliteToPostgres(seeded.db, pool, { batchRows: runs, onProgress: p => progress.push(p) })
    assert.deepEqual(progress.filter(p => p.table === 'runs').map(p => [p.copied, p.done]), [[runs, false], [runs, true]])
    const { rows: [cell] } = await pool.query('SELECT version_id, machine_id, case_id FROM case_stats ORDER BY version_id DESC, machine_id, case_id LIMIT 1')
    await pool.query('UPDATE case_stats SET pass = pass + 1 WHERE version_id = $1 AND machine_id = $2 AND case_id = $3', [cell.version_id, cell.machine_id, cell.case_id])
    await pool.query('DELETE FROM tokens WHERE name = $1', ['old-lab'])
    const report = await verifyCopy(seeded.db, pool)
    assert.equal(report.equal, false)
    assert.deepEqual(report.differences.map(d => `${d.what} [${d.key}]`), [
      'tokens rows []',
      'case_stats sums []',
      `case_stats sums per version [${cell.version_id}]`,
    ])
    assert.deepEqual(report.aggregates.filter(a => !a.equal).map(a => a.name), ['case_stats sums', 'case_stats sums per version'])
  })

  test('a value PostgreSQL refuses stops the copy, naming the table and the rows; U+0000 goes across as U+FFFD', async (t) => {
    const seeded = await seededStore(t, { realLogs: false })
    // SQLite's text holds U+0000, PostgreSQL's cannot: written as U+FFFD (postgres/connect.ts storableText)
    const [runId, seq] = seeded.db.prepare("SELECT run_id, seq FROM results WHERE status = 'fail' ORDER BY run_id, seq LIMIT 1").raw().get() as [number, number]
    seeded.db.prepare("UPDATE results SET reason = 'a' || char(0) || 'b' WHERE run_id = ? AND seq = ?").run(runId, seq)
    const pool = await openPostgres(await server().createDatabase())
    t.after(() => pool.end())
    await copySqliteToPostgres(seeded.db, pool, { batchRows: 1_000_000 })
    const { rows } = await pool.query<{ reason: string }>('SELECT reason FROM results WHERE run_id = $1 AND seq = $2', [runId, seq])
    assert.deepEqual(rows, [{ reason: 'a\uFFFDb' }])

    // a case name longer than a B-tree index entry may be (about 2.7 kB): SQLite's index takes it, PostgreSQL's cannot
    const other = await seededStore(t, { realLogs: false })
    const caseId = other.db.prepare('SELECT max(id) FROM cases').pluck().get() as number
    other.db.prepare('UPDATE cases SET test = ? WHERE id = ?').run(randomBytes(4096).toString('hex'), caseId)
    const refusing = await openPostgres(await server().createDatabase())
    t.after(() => refusing.end())
    await assert.rejects(copySqliteToPostgres(other.db, refusing, { batchRows: 1_000_000 }),
      /^Error: cases: the \d+ rows from \(id\) = \(1\): .*index row/)
  })

  test('the CLI copies, prints its progress and the verification, and ends with 1 when the stores differ', async (t) => {
    const seeded = await seededStore(t, { realLogs: false })
    seeded.db.close()
    const url = await server().createDatabase()
    const first = await runKsft(['migrate-store', '--from', seeded.path, '--to', url, '--batch-rows', '300'])
    assert.equal(first.code, 0, first.stderr)
    assert.match(first.stderr, /^results: \d+\/\d+ rows \(100%\)$/m)
    assert.match(first.stderr, /^copied \d+ rows in [\d.]+ s \(\d+ rows\/s\)$/m)
    assert.match(first.stdout, /^results: (\d+) rows in SQLite, \1 in PostgreSQL$/m)
    assert.match(first.stdout, /^case_stats sums per version \(\d+ groups\): equal$/m)
    assert.match(first.stdout, /^verified: /m)

    const again = await runKsft(['migrate-store', '--from', seeded.path, '--to', url])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stderr, /^results: \d+ rows, copied before$/m)
    assert.match(again.stderr, /^machine_names: no rows$|^machine_names: \d+ rows, copied before$/m)
    assert.match(again.stderr, /^copied 0 rows/m)

    const pool = await openPostgres(url)
    t.after(() => pool.end())
    // a count the copy cannot see differ (the table has all its rows): only the verification finds it
    await pool.query('UPDATE case_stats SET fail = fail + 1 WHERE (version_id, machine_id, case_id) = (SELECT version_id, machine_id, case_id FROM case_stats LIMIT 1)')
    const differs = await runKsft(['migrate-store', '--from', seeded.path, '--to', url])
    assert.equal(differs.code, 1)
    assert.match(differs.stdout, /^case_stats sums \(1 group\): DIFFERS$/m)
    assert.match(differs.stdout, /^differs: case_stats sums: SQLite \[/m)
    assert.match(differs.stderr, /the PostgreSQL store differs from .* in \d+ places/)

    const missing = await runKsft(['migrate-store', '--from', `${seeded.path}.nothing`, '--to', url])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /no such SQLite store/)
  })
})
