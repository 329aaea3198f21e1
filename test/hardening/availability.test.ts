// Issue 12: no upload, however small or strange, takes the server's availability with it. Uploads
// parse in worker threads and are stored in steps; /healthz is probed every 50 ms meanwhile.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { test, type TestContext } from 'node:test'
import { gzipSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import { cleanSpool } from '../../server/services/upload-ingest.ts'
import { storeTables } from '../helpers/aggregates.ts'
import { buildTestApp, uploadUrl } from '../helpers/app.ts'

const META = { series: 'availability', version: 'v1', machine: 'm1' }

async function listen (t: TestContext, app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  assert.ok(address && typeof address === 'object')
  return `http://127.0.0.1:${address.port}`
}

/** Probes /healthz every 50 ms until `work` settles; the slowest probe's latency, in ms. */
async function probeWhile<T> (url: string, work: Promise<T>): Promise<{ result: T, maxMs: number, probes: number }> {
  let settled = false
  const done = work.finally(() => { settled = true })
  let maxMs = 0
  let probes = 0
  const prober = (async () => {
    while (!settled) {
      const started = performance.now()
      const res = await fetch(`${url}/healthz`)
      assert.equal(res.status, 200)
      await res.arrayBuffer()
      maxMs = Math.max(maxMs, performance.now() - started)
      probes++
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  })()
  const result = await done
  await prober
  return { result, maxMs, probes }
}

function manyTests (count: number): string {
  const lines = ['TAP version 13', `1..${count}`]
  for (let i = 1; i <= count; i++) lines.push(`${i % 10 === 0 ? 'not ok' : 'ok'} ${i} selftests: big: test_${i}`)
  return `${lines.join('\n')}\n`
}

test('the hostile 158-byte gzip (one result line with 100 000 spaces) never stalls /healthz', async (t) => {
  const { app, token } = await buildTestApp(t)
  const url = await listen(t, app)
  const body = gzipSync(`ok 1 selftests: c: a${' '.repeat(100_000)}b\n`, { level: 9 })
  assert.ok(body.length < 200, `the gzip is ${body.length} bytes`)
  const upload = fetch(`${url}${uploadUrl(META)}`, {
    method: 'POST', body, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain', 'content-encoding': 'gzip' },
  }).then(async res => ({ status: res.status, body: await res.json() }))
  const { result, maxMs, probes } = await probeWhile(url, upload)
  t.diagnostic(`upload answered ${result.status}; ${probes} probes, the slowest ${maxMs.toFixed(0)} ms`)
  assert.ok([201, 422].includes(result.status), JSON.stringify(result.body))
  assert.ok(maxMs < 1000, `a /healthz probe waited ${maxMs.toFixed(0)} ms`)
})

test('a 100 000-test upload: /healthz answers within 1 s throughout, and the run appears whole or not at all', async (t) => {
  const { app, token } = await buildTestApp(t)
  const url = await listen(t, app)
  const log = manyTests(100_000)
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  // a reader polling the run while it is stored sees a 404 or the whole run, never a part of it
  const partial: string[] = []
  let stop = false
  const reader = (async () => {
    while (!stop) {
      const res = await fetch(`${url}/api/v1/runs/1`)
      if (res.status === 200) {
        const run = await res.json() as { summary: { total: number } }
        if (run.summary.total !== 100_000) partial.push(`summary.total ${run.summary.total}`)
        const results = await fetch(`${url}/api/v1/runs/1/results?limit=1`)
        assert.equal(results.status, 200)
        await results.arrayBuffer()
      } else {
        assert.equal(res.status, 404)
        await res.arrayBuffer()
      }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  })()
  const upload = fetch(`${url}${uploadUrl(META)}`, {
    method: 'POST', body: log, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
  }).then(async res => ({ status: res.status, body: await res.json() as { summary: { total: number } } }))
  const { result, maxMs, probes } = await probeWhile(url, upload)
  stop = true
  await reader
  delay.disable()
  t.diagnostic(`${(log.length / 1e6).toFixed(1)} MB, 100 000 tests: ${probes} probes, the slowest ${maxMs.toFixed(0)} ms; event loop delay max ${(delay.max / 1e6).toFixed(0)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(0)} ms`)
  assert.equal(result.status, 201, JSON.stringify(result.body))
  assert.equal(result.body.summary.total, 100_000)
  assert.deepEqual(partial, [])
  assert.ok(maxMs < 1000, `a /healthz probe waited ${maxMs.toFixed(0)} ms`)
  const [stored] = await storeTables(app.store).all<{ n: number }>('SELECT count(*) AS n FROM results WHERE run_id = 1')
  assert.equal(stored!.n, 100_000)
})

test('a parse past its deadline is stopped: 422 PARSE_DEADLINE, nothing stored, nothing left in the spool', async (t) => {
  const { app, token } = await buildTestApp(t, { limits: { parseDeadlineMs: 1 } })
  const res = await app.inject({ method: 'POST', url: uploadUrl(META), payload: manyTests(200_000), headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  assert.equal(res.statusCode, 422)
  assert.equal(res.json().error.code, 'PARSE_DEADLINE')
  assert.equal((await app.inject({ url: '/api/v1/runs/1' })).statusCode, 404)
  assert.deepEqual(readdirSync(app.uploads.spoolDir), [])
})

test('each server process spools in a directory of its own; at start it removes what dead processes left, never a running one\'s uploads', async (t) => {
  const { app } = await buildTestApp(t)
  const own = app.uploads.spoolDir
  assert.match(own, new RegExp(`ksft-dashboard-spool-[0-9a-f]{12}/${process.pid}$`))
  const root = dirname(own)
  t.after(() => rmSync(root, { recursive: true, force: true }))
  const upload = (dir: string, name: string): string => {
    mkdirSync(join(dir, name), { recursive: true })
    writeFileSync(join(dir, name, 'log.spool'), 'x')
    return join(dir, name)
  }
  // another server on this host, running: a process that is there until the test ends
  const running = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' })
  t.after(() => running.kill('SIGKILL'))
  const receiving = upload(join(root, String(running.pid)), 'upload-receiving')
  // a server killed mid-upload: its process is gone
  const gone = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await new Promise(resolve => gone.once('exit', resolve))
  const killed = upload(join(root, String(gone.pid)), 'upload-killed')
  // an earlier process that had this one's pid, and a server from before spool dirs (uploads in the root)
  const earlier = upload(own, 'upload-earlier')
  const unversioned = upload(root, 'upload-before-dirs')

  assert.equal(cleanSpool(own), 3)
  assert.ok(existsSync(join(receiving, 'log.spool')), 'the running server\'s upload is left alone')
  for (const left of [killed, earlier, unversioned]) assert.equal(existsSync(left), false, left)
  assert.deepEqual(readdirSync(root), [String(running.pid)])
})

test('a server that closes takes its empty spool dir with it, and the spool root when no other server spools there', async (t) => {
  const uploadTo = async ({ app, token }: Awaited<ReturnType<typeof buildTestApp>>) => {
    const res = await app.inject({ method: 'POST', url: uploadUrl(META), payload: manyTests(3), headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
    assert.equal(res.statusCode, 201)
    assert.deepEqual(readdirSync(app.uploads.spoolDir), [], 'the upload took its own directory')
    return dirname(app.uploads.spoolDir)
  }
  const alone = await buildTestApp(t)
  const aloneRoot = await uploadTo(alone)
  t.after(() => rmSync(aloneRoot, { recursive: true, force: true }))
  await alone.app.close()
  assert.equal(existsSync(aloneRoot), false)

  const beside = await buildTestApp(t)
  const root = await uploadTo(beside)
  t.after(() => rmSync(root, { recursive: true, force: true }))
  // another node of the same store on this host, receiving an upload
  const receiving = join(root, '999999999', 'upload-receiving')
  mkdirSync(receiving, { recursive: true })
  await beside.app.close()
  assert.equal(existsSync(beside.app.uploads.spoolDir), false)
  assert.ok(existsSync(receiving), "the other server's upload is left alone")
})
