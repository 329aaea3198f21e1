import assert from 'node:assert/strict'
import { existsSync, readdirSync } from 'node:fs'
import { test } from 'node:test'
import { assertSqliteIntact, readStore, TEST_BACKEND, testStoreLocation } from '../helpers/backend.ts'
import { spoolDirOf } from '../../server/services/upload-ingest.ts'
import { runKsft, startServer, startUpload } from '../helpers/cli.ts'
import { waitFor } from '../helpers/postgres.ts'

// a synthetic log of about 6 MB, sent in pieces so that a fault can land in the middle
function syntheticLog (tests = 200, linesPerTest = 600): string[] {
  const pieces = [`TAP version 13\n1..${tests}\n`]
  for (let i = 1; i <= tests; i++) {
    let piece = `# selftests: kvm: test_${i}\n`
    for (let j = 0; j < linesPerTest; j++) piece += `# output ${j} of test ${i} ${'.'.repeat(20)}\n`
    pieces.push(`${piece}ok ${i} selftests: kvm: test_${i}\n`)
  }
  return pieces
}

/** The spool dir of server process `pid` of the store at `db` (services/upload-ingest.ts). */
async function spoolDirOfServer (db: string, pid: number): Promise<string> {
  return spoolDirOf(await readStore(db, async (_tables, store) => store.spoolRoot), pid)
}

/** Whether a spool dir holds an upload being received. */
function receivingUpload (spoolDir: string): boolean {
  return existsSync(spoolDir) && readdirSync(spoolDir).some(name => name.startsWith('upload-'))
}

function countRuns (db: string): Promise<number> {
  return readStore(db, async (tables, store) => {
    assertSqliteIntact(store)
    return (await tables.all<{ n: number }>('SELECT count(*) AS n FROM runs'))[0]!.n
  })
}

async function tokenFor (db: string): Promise<string> {
  const res = await runKsft(['token', 'create', '--name', `t${Math.random()}`, '--db', db])
  return res.stdout.trim().split('\n').at(-1)!
}

const QUERY = 'series=KVM%3A%20guest_memfd&version=v3&machine=tdx-host-1'

test('SIGKILL in the middle of an upload: the restarted server has no trace of it, and the retry lands once', async (t) => {
  const db = await testStoreLocation(t)
  const token = await tokenFor(db)
  const pieces = syntheticLog()
  const first = await startServer(t, [], { KSFT_DB: db })
  const upload = startUpload(first.url, token, QUERY)
  upload.done.catch(() => {})
  for (const piece of pieces.slice(0, pieces.length / 2)) await upload.send(piece)
  first.child.kill('SIGKILL')
  await new Promise(resolve => first.child.once('exit', resolve))
  assert.equal(await countRuns(db), 0)

  const second = await startServer(t, [], { KSFT_DB: db })
  const body = pieces.join('')
  const post = () => fetch(`${second.url}/api/v1/runs?${QUERY}`, { method: 'POST', body, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  assert.equal((await post()).status, 201)
  assert.equal((await post()).status, 200)
  second.child.kill('SIGTERM')
  await new Promise(resolve => second.child.once('exit', resolve))
  assert.equal(await countRuns(db), 1)
})

test('SIGTERM: no new connections, the upload in flight finishes and is stored, the database closes cleanly', async (t) => {
  const db = await testStoreLocation(t)
  const token = await tokenFor(db)
  const pieces = syntheticLog(50, 400)
  const server = await startServer(t, [], { KSFT_DB: db, KSFT_SHUTDOWN_TIMEOUT_MS: '20000' })
  const exited = new Promise<number | null>(resolve => server.child.once('exit', code => resolve(code)))
  const upload = startUpload(server.url, token, QUERY)
  for (const piece of pieces.slice(0, 10)) await upload.send(piece)
  // in flight for the server too: its spool holds the upload. Bytes it has not read yet are a
  // connection with no request, which closing drops (on a loaded machine the signal came first)
  const spoolDir = await spoolDirOfServer(db, server.child.pid!)
  await waitFor(async () => receivingUpload(spoolDir))
  server.child.kill('SIGTERM')
  await new Promise(resolve => setTimeout(resolve, 300))
  await assert.rejects(fetch(`${server.url}/healthz`), 'new connections are refused while closing')
  for (const piece of pieces.slice(10)) await upload.send(piece)
  upload.end()
  const res = await upload.done
  assert.equal(res.status, 201, res.body)
  assert.equal(await exited, 0)
  // SQLite checkpoints and removes the write-ahead log only when the last connection closes cleanly
  if (TEST_BACKEND === 'sqlite') assert.equal(existsSync(`${db}-wal`), false)
  assert.equal(await countRuns(db), 1)
})
