// Issue 12: no upload, however small or strange, takes the server's availability with it. Uploads
// parse in worker threads and are stored in steps; /healthz is probed every 50 ms meanwhile.
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { test, type TestContext } from 'node:test'
import { gzipSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
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
  assert.deepEqual(readdirSync(app.uploads.spoolRoot), [])
})

test('the upload spool is the server\'s own directory, and what a killed server left there is removed at start', async (t) => {
  const { cleanSpool } = await import('../../server/services/upload-ingest.ts')
  const { mkdirSync, writeFileSync } = await import('node:fs')
  const { join } = await import('node:path')
  const { app } = await buildTestApp(t)
  const root = app.uploads.spoolRoot
  assert.match(root, /ksft-dashboard-spool-[0-9a-f]{12}$/)
  mkdirSync(join(root, 'upload-left'), { recursive: true })
  writeFileSync(join(root, 'upload-left', 'log.spool'), 'x')
  assert.equal(cleanSpool(root), 1)
  assert.deepEqual(readdirSync(root), [])
})
