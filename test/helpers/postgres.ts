import { execFile, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe } from 'node:test'
import { promisify } from 'node:util'
import pg from 'pg'

/**
 * A real PostgreSQL server for the tests: the one KSFT_TEST_DATABASE_URL names, or a throwaway
 * cluster of Debian's PostgreSQL binaries, or none (the tests skip with one line saying so).
 */

const execFileAsync = promisify(execFile)

const SKIP_MESSAGE = "PostgreSQL tests skipped: install Debian's postgresql package or set KSFT_TEST_DATABASE_URL"
const DEBIAN_POSTGRES = '/usr/lib/postgresql'
/** Signals that end a test process: a cluster it started must not outlive it. */
const EXIT_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

export interface TestPostgres {
  /** A fresh, empty database: the test file's own. */
  url: string
  /** Another fresh, empty database on the same server, for a test that needs one of its own. */
  createDatabase (): Promise<string>
  /** Drops the databases made here or, for a cluster started here, stops it and removes its files. */
  stop (): Promise<void>
}

/** Resolves once `condition` holds (a lock waited for, a row written by another connection), asked every 10 ms for 5 s at most. */
export async function waitFor (condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await condition()) return
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  throw new Error('the condition never held')
}

/** Why the PostgreSQL tests cannot run here, or false: known without starting anything. */
export function postgresSkip (): string | false {
  if (process.env.KSFT_TEST_DATABASE_URL) return false
  return postgresBin() === null ? SKIP_MESSAGE : false
}

/**
 * A node:test suite whose tests share one server (started before the first, stopped after the
 * last): `server()` gives it to them. Without PostgreSQL the whole suite is one skipped line.
 */
export function describePostgres (name: string, body: (server: () => TestPostgres) => void): void {
  describe(name, { skip: postgresSkip() }, () => {
    let server: TestPostgres | null = null
    before(async () => { server = await startPostgres() })
    after(async () => { await server?.stop() })
    body(() => {
      if (server === null) throw new Error('no PostgreSQL server: the suite should have been skipped')
      return server
    })
  })
}

/** A server with a fresh database on it, or why there is none (the benchmark's PostgreSQL sections). */
export async function startPostgresOrSkip (): Promise<TestPostgres | { skipped: string }> {
  const skip = postgresSkip()
  if (skip !== false) return { skipped: skip }
  return (await startPostgres())!
}

/**
 * Upload tokens made in the database itself rather than through a node, so that every node on it
 * takes them: one a name, in order.
 */
export async function createUploadTokens (url: string, names: readonly string[]): Promise<string[]> {
  const { PostgresStore } = await import('../../server/storage/postgres/postgres-store.ts')
  const store = await PostgresStore.open(url)
  try {
    const made: string[] = []
    for (const name of names) made.push((await store.tokens.create(name, ['upload'])).token)
    return made
  } finally {
    await store.close()
  }
}

/** A server with a fresh database on it, or null when there is none to be had (see postgresSkip). */
export async function startPostgres (): Promise<TestPostgres | null> {
  const serverUrl = process.env.KSFT_TEST_DATABASE_URL
  if (serverUrl) return databasesOn(serverUrl, { dropAtStop: true, stopServer: async () => {} })
  const bin = postgresBin()
  if (bin === null) return null
  const cluster = await startCluster(bin)
  try {
    // the cluster goes whole at stop: dropping its databases one by one first would only cost time
    return await databasesOn(cluster.url, { dropAtStop: false, stopServer: cluster.stop })
  } catch (err) {
    await cluster.stop()
    throw err
  }
}

/** Databases made on demand on the server `serverUrl` names, through a connection to that database. */
async function databasesOn (serverUrl: string, options: { dropAtStop: boolean, stopServer: () => Promise<void> }): Promise<TestPostgres> {
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  const made: string[] = []
  const createDatabase = async (): Promise<string> => {
    // the process id and randomness: several test files (and CI jobs) share one server at once
    const name = `ksft_test_${process.pid}_${randomBytes(6).toString('hex')}`
    const url = withDatabase(serverUrl, name)
    await admin.query(`CREATE DATABASE ${name}`)
    made.push(name)
    return url
  }
  try {
    const url = await createDatabase()
    return {
      url,
      createDatabase,
      stop: async () => {
        try {
          // FORCE: a pool a failed test left open must not keep its database
          if (options.dropAtStop) for (const name of made) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
        } finally {
          await admin.end()
          await options.stopServer()
        }
      },
    }
  } catch (err) {
    await admin.end()
    throw err
  }
}

/**
 * The URL of another database on the same server. By hand, not with URL: `postgresql://user@/db`
 * (a socket, no host) is a libpq URL that WHATWG's parser refuses.
 */
function withDatabase (serverUrl: string, database: string): string {
  const m = /^(postgres(?:ql)?:\/\/[^/?#]*)(?:\/[^?#]*)?(.*)$/i.exec(serverUrl)
  if (m === null) throw new Error('KSFT_TEST_DATABASE_URL is not a postgres:// or postgresql:// URL')
  return `${m[1]}/${database}${m[2]}`
}

/** Debian's newest PostgreSQL bin directory (/usr/lib/postgresql/<major>/bin), or null. */
function postgresBin (): string | null {
  if (!existsSync(DEBIAN_POSTGRES)) return null
  const majors = readdirSync(DEBIAN_POSTGRES)
    .filter(major => /^\d+(?:\.\d+)?$/.test(major) && existsSync(join(DEBIAN_POSTGRES, major, 'bin', 'initdb')))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
  return majors.length === 0 ? null : join(DEBIAN_POSTGRES, majors[0]!, 'bin')
}

/**
 * A cluster of its own in a fresh temp dir, reached through a socket in that dir only (no TCP
 * port, so nothing to collide with another cluster), made for speed rather than durability: a test
 * database dies with the test. initdb refuses to run as root: as root, the cluster belongs to
 * Debian's `postgres` user.
 */
async function startCluster (bin: string): Promise<{ url: string, stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'ksft-pg-'))
  const data = join(dir, 'data')
  const log = join(dir, 'postgres.log')
  const owner = process.getuid?.() === 0 ? postgresUser() : null
  if (owner !== null) chownSync(dir, owner.uid, owner.gid)
  // as the cluster's owner, from a directory it may enter
  const command = (program: string, args: string[]): [string, string[]] =>
    owner === null ? [join(bin, program), args] : ['runuser', ['-u', 'postgres', '--', join(bin, program), ...args]]
  const stopArgs = ['stop', '-D', data, '-m', 'immediate']
  // a test process that ends without stop() (a failed before hook, process.exit, the test runner's
  // SIGTERM at a timeout, ^C) leaves nothing behind: no server running on, no files
  const stopAtExit = (): void => {
    spawnSync(...command('pg_ctl', stopArgs), { cwd: dir, stdio: 'ignore' })
    rmSync(dir, { recursive: true, force: true })
  }
  const stopAtSignal = (signal: NodeJS.Signals): void => {
    forgetExit()
    stopAtExit()
    // then die of the signal, as the process would have without this listener
    process.kill(process.pid, signal)
  }
  const forgetExit = (): void => {
    process.off('exit', stopAtExit)
    for (const signal of EXIT_SIGNALS) process.off(signal, stopAtSignal)
  }
  process.on('exit', stopAtExit)
  for (const signal of EXIT_SIGNALS) process.on(signal, stopAtSignal)
  try {
    await execFileAsync(...command('initdb', [
      '-D', data, '--username=postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync', '--no-instructions',
    ]), { cwd: dir })
    const server = [
      `-k '${dir}'`, "-c listen_addresses=''",
      // durability is not wanted here: a crashed test cluster is thrown away anyway
      '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off',
    ].join(' ')
    await execFileAsync(...command('pg_ctl', ['start', '-D', data, '-l', log, '-w', '-o', server]), { cwd: dir })
  } catch (err) {
    const serverLog = existsSync(log) ? readFileSync(log, 'utf8') : ''
    forgetExit()
    stopAtExit()
    throw new Error(`could not start a PostgreSQL cluster with ${bin}: ${(err as Error).message}\n${serverLog}`)
  }
  return {
    // the socket's directory as `host`, as libpq takes it; `localhost` only makes the URL parse
    url: `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(dir)}`,
    stop: async () => {
      forgetExit()
      try {
        await execFileAsync(...command('pg_ctl', stopArgs), { cwd: dir })
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}

/** The uid and gid of Debian's `postgres` user, which its package creates. */
function postgresUser (): { uid: number, gid: number } {
  const id = (flag: string): number => {
    const out = spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' })
    if (out.status !== 0) throw new Error(`running as root, the test cluster needs the postgres user: ${out.stderr.trim()}`)
    return Number(out.stdout)
  }
  return { uid: id('-u'), gid: id('-g') }
}
