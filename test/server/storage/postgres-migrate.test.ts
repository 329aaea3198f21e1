import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import pg from 'pg'
import { openDatabase } from '../../../server/storage/sqlite/database.ts'
import { openPostgres } from '../../../server/storage/postgres/connect.ts'
import { loadMigrations, migrate } from '../../../server/storage/postgres/migrate.ts'
import { describePostgres } from '../../helpers/postgres.ts'
import { ingestText } from '../../helpers/store.ts'
import { openStore } from '../../../server/storage/store.ts'
import type { PostgresStore } from '../../../server/storage/postgres/postgres-store.ts'

/** Columns PostgreSQL has that SQLite has not, each for a reason given in 001-schema.sql. */
const POSTGRES_ONLY = new Set(['results.infrastructure', 'schema_migrations.version', 'schema_migrations.name', 'schema_migrations.applied_at'])

/** Every table.column of a database, sorted. */
async function postgresColumns (pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ column: string }>(`
    SELECT table_name || '.' || column_name AS column FROM information_schema.columns
    WHERE table_schema = current_schema() ORDER BY 1`)
  return rows.map(row => row.column)
}

/** The catalog's description of the schema: tables, columns with their types, constraints, indexes, triggers. */
async function schemaFingerprint (pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ line: string }>(`
    SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || coalesce(collation_name, '') || ' ' || is_nullable AS line
      FROM information_schema.columns WHERE table_schema = current_schema()
    UNION ALL SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
      WHERE connamespace = current_schema()::regnamespace
    UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()
    UNION ALL SELECT tgrelid::regclass || ' ' || tgname FROM pg_trigger WHERE NOT tgisinternal
    ORDER BY 1`)
  return rows.map(row => row.line).join('\n')
}

async function appliedVersions (pool: pg.Pool): Promise<number[]> {
  return (await pool.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map(row => row.version)
}

/** Numbered migrations written to a fresh directory, removed when the test ends. */
function migrationsDir (t: { after: (fn: () => void) => void }, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ksft-migrations-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql)
  return dir
}

describePostgres('PostgreSQL migrations', server => {
  test('a fresh database gets the whole schema: every table and column the SQLite migrations make', async (t) => {
    const pool = await openPostgres(await server().createDatabase())
    t.after(() => pool.end())
    assert.deepEqual(await appliedVersions(pool), loadMigrations().map(migration => migration.version))

    const sqlite = openDatabase(':memory:')
    t.after(() => sqlite.close())
    const sqliteColumns = (sqlite.prepare(`
      SELECT t.name || '.' || c.name AS column FROM sqlite_schema t, pragma_table_info(t.name) c
      WHERE t.type = 'table' AND t.name NOT LIKE 'sqlite_%' ORDER BY 1`).pluck().all() as string[])
    const columns = await postgresColumns(pool)
    assert.deepEqual(columns.filter(column => !POSTGRES_ONLY.has(column)).sort(), sqliteColumns.sort())
    assert.deepEqual((await pool.query("SELECT value FROM store_state WHERE key = 'write_counter'")).rows, [{ value: 0 }])
  })

  test('text compares bytewise, as SQLite compares it: every text column is COLLATE "C"', async (t) => {
    const pool = await openPostgres(await server().createDatabase())
    t.after(() => pool.end())
    const { rows } = await pool.query<{ column: string }>(`
      SELECT table_name || '.' || column_name AS column FROM information_schema.columns
      WHERE table_schema = current_schema() AND data_type = 'text' AND table_name <> 'schema_migrations'
        AND collation_name IS DISTINCT FROM 'C'`)
    assert.deepEqual(rows, [])
  })

  test('results and case_stats have no per-row foreign key, and still go with their run and version (002)', async (t) => {
    const store = await openStore(await server().createDatabase()) as PostgresStore
    t.after(() => store.close())
    const log = 'TAP version 13\n1..2\n# selftests: kvm: a_test\nok 1 selftests: kvm: a_test\n# selftests: kvm: b_test\nnot ok 2 selftests: kvm: b_test # exit=1\n'
    const first = await ingestText(store, log, { series: 'KVM: cascades', version: 'v1', machine: 'host-a' })
    const second = await ingestText(store, log, { series: 'KVM: cascades', version: 'v2', machine: 'host-a' })
    const count = async (sql: string, values: unknown[]) => Number((await store.pool.query<{ n: string }>(sql, values)).rows[0]!.n)
    const { rows: keys } = await store.pool.query<{ name: string }>(`
      SELECT conname AS name FROM pg_constraint WHERE contype = 'f' AND conrelid IN ('results'::regclass, 'case_stats'::regclass) ORDER BY 1`)
    assert.deepEqual(keys.map(key => key.name), [], 'no check per result row')

    assert.equal(await count('SELECT count(*) AS n FROM results WHERE run_id = $1', [first.runId]), 2)
    await store.pool.query('DELETE FROM runs WHERE id = $1', [first.runId])
    assert.equal(await count('SELECT count(*) AS n FROM results WHERE run_id = $1', [first.runId]), 0)
    assert.equal(await count('SELECT count(*) AS n FROM results WHERE run_id = $1', [second.runId]), 2, "another run's results stay")

    const { rows: [version] } = await store.pool.query<{ id: number }>("SELECT id FROM versions WHERE label = 'v2'")
    assert.equal(await count('SELECT count(*) AS n FROM case_stats WHERE version_id = $1', [version!.id]), 2)
    await store.pool.query('DELETE FROM versions WHERE id = $1', [version!.id])
    assert.equal(await count('SELECT count(*) AS n FROM case_stats WHERE version_id = $1', [version!.id]), 0)
    assert.equal(await count('SELECT count(*) AS n FROM results WHERE run_id = $1', [second.runId]), 0, "the version's runs went, and their results with them")
  })

  test('a store written before 003 migrates on its data: history and compare cells read the same from the rebuilt index', async (t) => {
    const url = await server().createDatabase()
    const written = await openStore(url) as PostgresStore
    let writtenOpen = true
    // closed below before the store is opened again; here only if an assertion stops the test first
    t.after(() => writtenOpen ? written.close() : undefined)
    // a skip with a reason among results without one: the reason is read from the table, the rest from the index
    const log = 'TAP version 13\n1..3\n# selftests: kvm: a_test\nok 1 selftests: kvm: a_test\n# selftests: kvm: b_test\n' +
      'not ok 2 selftests: kvm: b_test # exit=1\n# selftests: kvm: c_test\nok 3 selftests: kvm: c_test # SKIP no /dev/kvm\n'
    for (const version of ['v1', 'v2']) {
      for (const machine of ['host-a', 'host-b']) await ingestText(written, log, { series: 'KVM: migration 003', version, machine })
    }
    const ids = async (store: PostgresStore, sql: string) => (await store.pool.query<{ id: number }>(sql)).rows.map(row => Number(row.id))
    const reads = async (store: PostgresStore) => {
      const cases = await ids(store, 'SELECT id FROM cases ORDER BY id')
      const machines = await ids(store, 'SELECT id FROM machines ORDER BY id')
      const [version] = await ids(store, "SELECT id FROM versions WHERE label = 'v2'")
      return {
        history: await Promise.all(cases.map(caseId => store.trends.history(caseId, { seriesId: null, machineId: null }, null, 100))),
        cells: await store.trends.cellResults(version!, machines.flatMap(machineId => cases.map(caseId => ({ machineId, caseId })))),
      }
    }
    const before = await reads(written)
    assert.equal(before.history.flat().length, 12)
    assert.deepEqual([...new Set(before.history.flat().map(row => row.reason))].sort(), ['no /dev/kvm', null])
    // v2's three cases on both machines, the skip's reason among them
    assert.equal(before.cells.length, 6)
    assert.equal(before.cells.filter(cell => cell.result.reason === 'no /dev/kvm').length, 2)

    // back to the schema of 002, as a store written before 003 was
    await written.pool.query(`
      DROP INDEX results_with_reason;
      DROP INDEX results_by_case;
      CREATE INDEX results_by_case ON results (case_id, run_id, seq);
      DELETE FROM schema_migrations WHERE version = 3;`)
    await written.close()
    writtenOpen = false

    const upgraded = await openStore(url) as PostgresStore
    t.after(() => upgraded.close())
    assert.deepEqual(await appliedVersions(upgraded.pool), loadMigrations().map(migration => migration.version))
    const fresh = await openPostgres(await server().createDatabase())
    t.after(() => fresh.end())
    assert.equal(await schemaFingerprint(upgraded.pool), await schemaFingerprint(fresh))
    assert.deepEqual(await reads(upgraded), before)
  })

  test('migrating again changes nothing', async (t) => {
    const url = await server().createDatabase()
    const first = await openPostgres(url)
    t.after(() => first.end())
    const before = await schemaFingerprint(first)
    const recorded = (await first.query('SELECT * FROM schema_migrations ORDER BY version')).rows
    assert.deepEqual(await migrate(first), [])
    const second = await openPostgres(url)
    t.after(() => second.end())
    assert.equal(await schemaFingerprint(second), before)
    assert.deepEqual((await second.query('SELECT * FROM schema_migrations ORDER BY version')).rows, recorded)
  })

  test('pools migrating at the same moment, fresh and to upgrade, apply each migration exactly once', async (t) => {
    const url = await server().createDatabase()
    const pools = Array.from({ length: 4 }, () => new pg.Pool({ connectionString: url }))
    t.after(() => Promise.all(pools.map(pool => pool.end())))
    // each migration counts its own runs: a second run would make a second row
    const dir = migrationsDir(t, {
      '001-first.sql': 'CREATE TABLE applied (version integer NOT NULL); INSERT INTO applied VALUES (1);',
      '002-second.sql': 'INSERT INTO applied VALUES (2); SELECT pg_sleep(0.2);',
      '003-third.sql': 'INSERT INTO applied VALUES (3);',
    })
    const fresh = await Promise.all(pools.map(pool => migrate(pool, loadMigrations(dir))))
    assert.deepEqual(fresh.flat().sort(), [1, 2, 3])
    // an upgrade: the nodes restart together on a newer release
    writeFileSync(join(dir, '004-fourth.sql'), 'INSERT INTO applied VALUES (4); SELECT pg_sleep(0.2);')
    writeFileSync(join(dir, '005-fifth.sql'), 'INSERT INTO applied VALUES (5);')
    const upgrade = await Promise.all(pools.map(pool => migrate(pool, loadMigrations(dir))))
    assert.deepEqual(upgrade.flat().sort(), [4, 5])
    assert.deepEqual((await pools[0]!.query('SELECT version FROM applied ORDER BY version')).rows.map(row => row.version), [1, 2, 3, 4, 5])
    assert.deepEqual(await appliedVersions(pools[0]!), [1, 2, 3, 4, 5])
  })

  test('nodes opening a fresh database together build the real schema once', async (t) => {
    const url = await server().createDatabase()
    const pools = await Promise.all([openPostgres(url), openPostgres(url), openPostgres(url)])
    t.after(() => Promise.all(pools.map(pool => pool.end())))
    assert.deepEqual(await appliedVersions(pools[0]!), loadMigrations().map(migration => migration.version))
  })

  test('a failed migration leaves the database as the one before it left it', async (t) => {
    const pool = new pg.Pool({ connectionString: await server().createDatabase() })
    t.after(() => pool.end())
    const dir = migrationsDir(t, {
      '001-first.sql': 'CREATE TABLE kept (id integer);',
      '002-broken.sql': 'CREATE TABLE half (id integer); SELECT no_such_function();',
    })
    await assert.rejects(migrate(pool, loadMigrations(dir)), /no_such_function/)
    assert.deepEqual(await appliedVersions(pool), [1])
    const { rows } = await pool.query("SELECT to_regclass('kept') IS NOT NULL AS kept, to_regclass('half') IS NOT NULL AS half")
    assert.deepEqual(rows, [{ kept: true, half: false }])
  })

  test('a database of a newer schema version is refused, and left as it is', async (t) => {
    const url = await server().createDatabase()
    const first = await openPostgres(url)
    t.after(() => first.end())
    await first.query("INSERT INTO schema_migrations (version, name) VALUES (999, '999-from-the-future.sql')")
    const newest = loadMigrations().at(-1)!.version
    await assert.rejects(openPostgres(url), new RegExp(`^Error: the database is at schema version 999, newer than this ksft-dashboard \\(${newest}\\); upgrade ksft-dashboard$`))
    assert.deepEqual(await appliedVersions(first), [...loadMigrations().map(migration => migration.version), 999])
  })
})
