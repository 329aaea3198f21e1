import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { generateLog, scaledLogSpec } from '../../server/demo/log-generator.ts'
import { openPostgres } from '../../server/storage/postgres/connect.ts'
import { PostgresStore } from '../../server/storage/postgres/postgres-store.ts'
import { postgresAggregates, postgresRecount } from '../helpers/aggregates.ts'
import { startServer, startUpload } from '../helpers/cli.ts'
import { createUploadTokens, describePostgres, waitFor } from '../helpers/postgres.ts'

/**
 * Issue 15: two `ksft serve` processes on one PostgreSQL database behave as one server. Eight
 * uploaders split across the two nodes, some sending the same log to both at once, while readers
 * ask both for the series' trend: every log is stored once, both nodes answer alike, an ETag one
 * node gave changes after an upload to the other, and the aggregates equal a recount of the results.
 */

const SERIES = 'mm: two nodes'
const VERSIONS = ['v1', 'v2', 'v3']
const MACHINES = ['m1', 'm2', 'm3', 'm4']
const UPLOADERS = 8
const UPLOADS_EACH = 3

interface Upload { meta: Record<string, string>, text: string }

/** Generated logs: the same tests (so concurrent uploads add to the same aggregate cells), different outcomes per seed. */
function upload (seed: number, version: string, machine: string): Upload {
  const spec = scaledLogSpec({ seed, targetBytes: 0, tests: 30, failRate: 0.2, skipRate: 0.2, timeoutRate: 0.05, extraSubtests: 3 })
  return { meta: { series: SERIES, version, machine, arch: 'x86_64', kernel: `6.15.0-${version}` }, text: generateLog(spec) }
}

describePostgres('two ksft serve processes on one PostgreSQL database', (server) => {
  test('store every log once, answer alike, share ETags and keep aggregates equal to a recount', { timeout: 240_000 }, async (t) => {
    const url = await server().createDatabase()
    const pool = await openPostgres(url, { maxConnections: 2 })
    t.after(() => pool.end())
    const env = { KSFT_DATABASE_URL: '', KSFT_DB: '' }
    const nodes = await Promise.all([startServer(t, ['--db', url], env), startServer(t, ['--db', url], env)])
    const [a, b] = nodes.map(node => node.url) as [string, string]

    // one token per uploader, as a node limits each token's uploads in flight
    const tokens = await createUploadTokens(url, Array.from({ length: UPLOADERS + 1 }, (_, i) => `lab-${i}`))
    const post = async (node: string, { meta, text }: Upload, token = tokens[UPLOADERS]!): Promise<{ status: number, id: number }> => {
      const res = await fetch(`${node}/api/v1/runs?${new URLSearchParams(meta).toString()}`, {
        method: 'POST', body: text, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
      })
      const body = await res.json() as { id: number }
      assert.ok(res.status === 201 || res.status === 200, `${res.status} ${JSON.stringify(body)}`)
      return { status: res.status, id: body.id }
    }

    // each uploader sends its logs to its node; every other uploader also sends each log to the
    // other node at the same moment: those reach both nodes at once
    let reading = true
    const readers = nodes.map(async ({ url: node }) => {
      let answered = 0
      while (reading) {
        const res = await fetch(`${node}/api/v1/series?limit=10`)
        assert.equal(res.status, 200)
        await res.arrayBuffer()
        answered++
      }
      return answered
    })
    const distinct = new Map<string, number[]>()
    await Promise.all(Array.from({ length: UPLOADERS }, async (_, uploader) => {
      const home = uploader % 2 === 0 ? a : b
      const away = home === a ? b : a
      for (let i = 0; i < UPLOADS_EACH; i++) {
        const seed = uploader * 100 + i
        const log = upload(seed, VERSIONS[i % VERSIONS.length]!, MACHINES[uploader % MACHINES.length]!)
        const token = tokens[uploader]!
        const sent = uploader % 2 === 0 && i < 2 ? await Promise.all([post(home, log, token), post(away, log, token)]) : [await post(home, log, token)]
        distinct.set(String(seed), sent.map(one => one.id))
        // the same log on both nodes: one run, created once
        if (sent.length === 2) {
          assert.equal(sent[0]!.id, sent[1]!.id, `seed ${seed}: both nodes answer the same run`)
          assert.deepEqual(sent.map(one => one.status).sort(), [200, 201], `seed ${seed}: one node stored it, the other found it: ${JSON.stringify(sent)}`)
        }
      }
    }))
    reading = false
    assert.ok((await Promise.all(readers)).every(answered => answered > 0), 'both nodes answered readers during the uploads')

    // every log stored exactly once
    const runIds = [...distinct.values()].map(ids => ids[0]!)
    assert.equal(new Set(runIds).size, UPLOADERS * UPLOADS_EACH)
    const { rows: [counted] } = await pool.query<{ runs: number, logs: number }>('SELECT count(*) AS runs, count(DISTINCT content_sha256) AS logs FROM runs')
    assert.deepEqual(counted, { runs: UPLOADERS * UPLOADS_EACH, logs: UPLOADERS * UPLOADS_EACH })

    // both nodes answer alike
    const seriesId = (await (await fetch(`${a}/api/v1/series`)).json() as { series: Array<{ id: number }> }).series[0]!.id
    for (const path of ['trend', 'compare?base=v1&head=v2', 'compare?base=v2&head=v3', 'matrix', 'flaky']) {
      const [fromA, fromB] = await Promise.all([a, b].map(async node => {
        const res = await fetch(`${node}/api/v1/series/${seriesId}/${path}`)
        assert.equal(res.status, 200, `${node} ${path}`)
        return { body: await res.json(), etag: res.headers.get('etag') }
      }))
      assert.deepEqual(fromB, fromA, path)
    }

    // an ETag node B gave stays good until a write on node A
    const trend = `/api/v1/series/${seriesId}/trend`
    const before = await fetch(`${b}${trend}`)
    const etag = before.headers.get('etag')!
    await before.arrayBuffer()
    assert.equal((await fetch(`${b}${trend}`, { headers: { 'if-none-match': etag } })).status, 304)
    await post(a, upload(999, 'v4', 'm1'))
    const after = await fetch(`${b}${trend}`, { headers: { 'if-none-match': etag } })
    assert.equal(after.status, 200, 'node B sees the write made on node A')
    assert.notEqual(after.headers.get('etag'), etag)
    assert.ok((await after.json() as { versions: Array<{ label: string }> }).versions.some(version => version.label === 'v4'), 'with the version node A stored')

    // the aggregates every node added to equal a recount of the results
    assert.deepEqual(await postgresAggregates(pool), await postgresRecount(pool))
  })

  test('nodes on one host spool in directories of their own: a node starting removes what a killed node left, not a running node\'s upload', { timeout: 120_000 }, async (t) => {
    const url = await server().createDatabase()
    const store = await PostgresStore.open(url)
    t.after(() => store.close())
    t.after(() => rmSync(store.spoolRoot, { recursive: true, force: true }))
    const { token } = await store.tokens.create('lab', ['upload'])
    const env = { KSFT_DATABASE_URL: '', KSFT_DB: '' }
    // the nodes' temp dir is this process's: their spool root is the store's here
    const spoolOf = (node: { child: ChildProcess }) => join(store.spoolRoot, String(node.child.pid))
    const uploadsIn = (dir: string) => existsSync(dir) ? readdirSync(dir).filter(name => name.startsWith('upload-')) : []
    // every upload spooled on this host, whichever node's
    const spooled = () => [...uploadsIn(store.spoolRoot), ...readdirSync(store.spoolRoot).flatMap(name => uploadsIn(join(store.spoolRoot, name)))]

    // an upload to node A whose body stops half way: its parse has begun, in A's spool
    const a = await startServer(t, ['--db', url], env)
    const { text } = upload(1, 'v1', 'm1')
    const query = (seed: number) => new URLSearchParams(upload(seed, 'v1', 'm1').meta).toString()
    const toA = startUpload(a.url, token, query(1))
    await toA.send(text.slice(0, text.length >> 1))
    await waitFor(async () => existsSync(store.spoolRoot) && spooled().length === 1)

    // node B starts on the same host meanwhile, cleaning the spool as every node does at start
    const b = await startServer(t, ['--db', url], env)
    assert.equal(spooled().length, 1, 'node A\'s upload is still spooled')
    assert.equal(uploadsIn(spoolOf(a)).length, 1, 'in node A\'s own directory')
    await toA.send(text.slice(text.length >> 1))
    toA.end()
    const stored = await toA.done
    assert.equal(stored.status, 201, stored.body)
    const raw = await fetch(`${b.url}/api/v1/runs/${(JSON.parse(stored.body) as { id: number }).id}/log.txt`)
    assert.equal(await raw.text(), text, 'stored whole, and node B reads it')

    // node B is killed with an upload half way: node C, starting, removes what it left
    const toB = startUpload(b.url, token, query(2))
    toB.done.catch(() => {})
    await toB.send(text.slice(0, 100))
    await waitFor(async () => uploadsIn(spoolOf(b)).length === 1)
    b.child.kill('SIGKILL')
    await new Promise(resolve => b.child.once('exit', resolve))
    assert.equal(uploadsIn(spoolOf(b)).length, 1, 'a killed node leaves its upload spooled')
    await startServer(t, ['--db', url], env)
    assert.equal(existsSync(spoolOf(b)), false, 'node C removed the killed node\'s spool')
    assert.ok(existsSync(spoolOf(a)), 'and left the running node A\'s')
  })
})
