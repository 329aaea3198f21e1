import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { test } from 'node:test'
import { buildApp } from '../../../server/app.ts'
import { PostgresStore } from '../../../server/storage/postgres/postgres-store.ts'
import { SqliteStore } from '../../../server/storage/sqlite/sqlite-store.ts'
import { openStore, redacted, StoreLocationError } from '../../../server/storage/store.ts'
import { runKsft } from '../../helpers/cli.ts'
import { describePostgres } from '../../helpers/postgres.ts'
import { tempDir } from '../../helpers/store.ts'

test('a path opens (and creates) a SQLite store, which answers through the store interface', async (t) => {
  const path = join(tempDir(t), 'nested', 'ksft.db')
  const store = await openStore(path)
  t.after(() => store.close())
  assert.ok(store instanceof SqliteStore)
  assert.ok(existsSync(path))
  assert.deepEqual(await store.health(), { backend: 'sqlite', writeCounter: 0 })
  assert.equal(await store.runs.getRun(1), null)
  assert.deepEqual(await store.trends.listSeries(10, null), [])
  assert.equal(store.exports.workerLocation(), path)
})

test(':memory:, sqlite: and file: URLs open SQLite too', async (t) => {
  const dir = tempDir(t)
  for (const [location, file] of [
    [':memory:', null],
    ['sqlite::memory:', null],
    [`sqlite:${join(dir, 'a.db')}`, join(dir, 'a.db')],
    [`sqlite://${join(dir, 'b.db')}`, join(dir, 'b.db')],
    [pathToFileURL(join(dir, 'c.db')).href, join(dir, 'c.db')],
  ] as const) {
    const store = await openStore(location)
    try {
      assert.ok(store instanceof SqliteStore, location)
      // an in-memory store has no other connection a worker could open
      assert.equal(store.exports.workerLocation(), file, location)
      if (file !== null) assert.ok(existsSync(file), location)
    } finally {
      await store.close()
    }
  }
})

test('a PostgreSQL URL that cannot be opened is refused in one line, without its password', async () => {
  // nothing listens on port 1: refused at once, wherever the test runs
  for (const url of ['postgres://ksft:s3cret@127.0.0.1:1/ksft', 'postgresql://127.0.0.1:1/ksft']) {
    await assert.rejects(openStore(url), (err: Error) => {
      assert.ok(err instanceof StoreLocationError)
      assert.match(err.message, /^postgres(ql)?:\/\/.*127\.0\.0\.1:1\/ksft: .*ECONNREFUSED/)
      assert.doesNotMatch(err.message, /s3cret/)
      assert.doesNotMatch(err.message, /\n/)
      return true
    })
  }
})

test('a URL said in a message hides every form of its password', () => {
  const cases: Array<[string, string]> = [
    ['postgres://ksft:s3cret@db/ksft', 'postgres://ksft:***@db/ksft'],
    // a raw '@', '/' or '?' in the password: hidden whole, up to the last '@'
    ['postgres://ksft:p@s3cret@db/ksft', 'postgres://ksft:***@db/ksft'],
    ['postgresql://ksft:a/b?s3cret@db:5432/ksft', 'postgresql://ksft:***@db:5432/ksft'],
    // pg reads a password from the query string too
    ['postgres://ksft@db/ksft?sslmode=require&password=s3cret', 'postgres://ksft@db/ksft?sslmode=require&password=***'],
    ['postgres://u:s3cret@/ksft?host=/run/postgresql', 'postgres://u:***@/ksft?host=/run/postgresql'],
    ['postgres://db/ksft', 'postgres://db/ksft'],
  ]
  for (const [url, said] of cases) assert.equal(redacted(url), said)
})

describePostgres('a PostgreSQL URL', (server) => {
  test('opens (and migrates) a PostgreSQL store, which answers through the store interface', async (t) => {
    const url = await server().createDatabase()
    const store = await openStore(url)
    t.after(() => store.close())
    assert.ok(store instanceof PostgresStore)
    assert.deepEqual(await store.health(), { backend: 'postgres', writeCounter: 0 })
    assert.equal(await store.runs.getRun(1), null)
    assert.deepEqual(await store.trends.listSeries(10, null), [])
    // a worker opens a pool of its own on the same database
    assert.equal(store.exports.workerLocation(), url)
    await assert.rejects(store.admin.backup(join(tempDir(t), 'copy.db')), /pg_dump/)
  })

  test('opened read-only, a database without a store is refused and nothing is written', async (t) => {
    const url = await server().createDatabase()
    await assert.rejects(openStore(url, { readonly: true }), (err: Error) => err instanceof StoreLocationError && /holds no ksft-dashboard store/.test(err.message))
    await (await openStore(url)).close()
    const reader = await openStore(url, { readonly: true })
    t.after(() => reader.close())
    assert.deepEqual(await reader.health(), { backend: 'postgres', writeCounter: 0 })
    await assert.rejects(reader.tokens.create('lab', ['upload']), /read-only transaction/)
  })

  test('names its spool for the database without the password', async (t) => {
    const url = await server().createDatabase()
    const withPassword = url.replace('://postgres@', '://postgres:anything@')
    const [a, b] = [await openStore(url), await openStore(withPassword)]
    t.after(async () => { await a.close(); await b.close() })
    assert.equal(a.spoolRoot, b.spoolRoot)
    assert.doesNotMatch(b.spoolRoot, /anything/)
    const other = await openStore(await server().createDatabase())
    t.after(() => other.close())
    assert.notEqual(other.spoolRoot, a.spoolRoot)
  })

  test('KSFT_DATABASE_URL and --db name a PostgreSQL store for a CLI command; ksft backup points to pg_dump', async (t) => {
    const url = await server().createDatabase()
    const created = await runKsft(['token', 'create', '--name', 'lab', '--scope', 'upload'], { env: { KSFT_DATABASE_URL: url, KSFT_DB: '' } })
    assert.equal(created.code, 0, created.stderr)
    const listed = await runKsft(['token', 'list', '--json', '--db', url], { env: { KSFT_DATABASE_URL: '', KSFT_DB: '' } })
    assert.equal(listed.code, 0, listed.stderr)
    assert.deepEqual((JSON.parse(listed.stdout) as Array<{ name: string }>).map(token => token.name), ['lab'])
    const backup = await runKsft(['backup', join(tempDir(t), 'copy.db'), '--db', url])
    assert.equal(backup.code, 1)
    assert.match(backup.stderr, /^ksft: error: .*pg_dump/)
  })
})

test('a location of no known kind is refused in one clear line', async () => {
  for (const location of ['mysql://db.example.org/ksft', 'http://ksft.example.org/', '', 'sqlite:']) {
    await assert.rejects(openStore(location), (err: Error) => err instanceof StoreLocationError && !err.message.includes('\n'), JSON.stringify(location))
  }
})

test('KSFT_DATABASE_URL is the store of a CLI command without --db; --db wins over it', async (t) => {
  const dir = tempDir(t)
  const fromEnv = join(dir, 'from-env.db')
  const created = await runKsft(['token', 'create', '--name', 'lab', '--scope', 'upload'], { env: { KSFT_DATABASE_URL: `sqlite:${fromEnv}`, KSFT_DB: '' } })
  assert.equal(created.code, 0, created.stderr)
  assert.ok(existsSync(fromEnv), 'the token went to the store KSFT_DATABASE_URL names')
  const listed = await runKsft(['token', 'list', '--json'], { env: { KSFT_DATABASE_URL: fromEnv, KSFT_DB: '' } })
  assert.deepEqual((JSON.parse(listed.stdout) as Array<{ name: string }>).map(token => token.name), ['lab'])
  const other = join(dir, 'other.db')
  const elsewhere = await runKsft(['token', 'list', '--json', '--db', other], { env: { KSFT_DATABASE_URL: fromEnv, KSFT_DB: '' } })
  assert.deepEqual(JSON.parse(elsewhere.stdout), [])
  const postgres = await runKsft(['token', 'list'], { env: { KSFT_DATABASE_URL: 'postgres://ksft:s3cret@127.0.0.1:1/ksft', KSFT_DB: '' } })
  assert.equal(postgres.code, 1)
  assert.match(postgres.stderr, /^ksft: error: postgres:\/\/ksft:\*\*\*@127\.0\.0\.1:1\/ksft: .*ECONNREFUSED/)
})

test('an app built on a store leaves it open when it closes; a store it opened itself it closes', async (t) => {
  const dir = tempDir(t)
  const store = await openStore(join(dir, 'given.db'))
  t.after(() => store.close())
  const app = await buildApp({ store, logger: false })
  assert.equal((await app.inject({ url: '/healthz' })).json().writeCounter, 0)
  await app.close()
  assert.deepEqual(await store.health(), { backend: 'sqlite', writeCounter: 0 }, 'the store still answers')

  const owned = await buildApp({ dbPath: join(dir, 'owned.db'), logger: false })
  const opened = owned.store
  assert.ok(opened instanceof SqliteStore)
  await owned.close()
  assert.equal(opened.db.open, false, 'closed with the app')
})
