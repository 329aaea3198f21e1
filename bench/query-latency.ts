/**
 * Measurement 3 (and the query half of 6): latency of the trend API on the big store, through the
 * real app listening on 127.0.0.1 (routing, validation, the handler's SQL, serialization, the
 * socket), from the request to the answer's last byte, over a kept-alive connection; the answer is
 * not parsed, which is the client's work. app.inject, which this used before, copies an answer
 * three times on its way to the caller (about 19 ms of a 2.1 MB matrix page's 77).
 * Each kind of query is sent with a spread of parameters in a shuffled order, without If-None-Match,
 * and every call carries a query parameter of its own that the routes ignore: the server keeps
 * bodies per URL and write counter (server/plugins/etag.ts), and what is timed here is the query,
 * not a kept body or a 304.
 *
 * A SQLite store's file is read once first, so that every run measures it from the page cache, as
 * a server that has been answering holds it. Built in the run, the store is there already; reused
 * from bench/out, it was found partly out (539 of 714 MB), and history's p95 went from 3.5 to 8.7 ms
 * for that alone. A PostgreSQL store is measured right after ksft migrate-store wrote it.
 */
import { createReadStream, existsSync } from 'node:fs'
import { Agent, get as httpGet } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../server/app.ts'
import { percentile, round } from './stats.ts'
import { STORE_SERIES, machinesOf, versionLabels, type StoreShape } from './store-shape.ts'
import { shuffled } from './workloads.ts'

export type QueryKind = 'trend' | 'history' | 'compare' | 'matrix'

/** p95 targets in ms, from the issue. */
export const LATENCY_TARGETS: Record<QueryKind, number> = { trend: 10, history: 10, compare: 100, matrix: 100 }

export interface LatencyStats {
  calls: number
  urls: number
  p50: number
  p95: number
  max: number
  targetP95: number
  met: boolean
}

export interface LatencyResult {
  results: number
  runs: number
  queries: Record<QueryKind, LatencyStats>
}

export async function measureQueryLatency (dbPath: string, shape: StoreShape, store: { runs: number, results: number }, calls: number): Promise<LatencyResult> {
  // a path, not a postgres:// URL
  if (existsSync(dbPath)) await readThrough(dbPath)
  const app = await buildApp({ dbPath, logger: false, security: { readsPerMinute: 0, uploadsPerMinute: 0 } })
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  try {
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as AddressInfo
    const urls = await queryUrls(app, shape)
    const queries = {} as Record<QueryKind, LatencyStats>
    for (const kind of Object.keys(urls) as QueryKind[]) {
      const list = urls[kind]
      // the first calls pay for compiling the handlers and warming SQLite's cache
      for (const [i, url] of list.slice(0, 3).entries()) await get(app, uncached(url, -1 - i))
      const samples: number[] = []
      const order = shuffled(list, 17)
      for (let i = 0; i < calls; i++) {
        const url = uncached(order[i % order.length]!, i)
        const start = performance.now()
        await timedGet(agent, port, url)
        samples.push(performance.now() - start)
      }
      const p95 = percentile(samples, 95)
      queries[kind] = {
        calls,
        urls: list.length,
        p50: round(percentile(samples, 50), 2),
        p95: round(p95, 2),
        max: round(Math.max(...samples), 2),
        targetP95: LATENCY_TARGETS[kind],
        met: p95 <= LATENCY_TARGETS[kind],
      }
    }
    return { results: store.results, runs: store.runs, queries }
  } finally {
    agent.destroy()
    await app.close()
  }
}

/** Reads a file to its end, keeping nothing: it is then in the page cache. */
async function readThrough (path: string): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) void chunk
}

/** Resolves at the last byte of a 200 answer, which is read and dropped; anything else is an error. */
function timedGet (agent: Agent, port: number, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    httpGet({ host: '127.0.0.1', port, path: url, agent }, res => {
      const refused: Buffer[] = []
      res.on('data', (chunk: Buffer) => { if (res.statusCode !== 200) refused.push(chunk) })
      res.on('end', () => res.statusCode === 200
        ? resolve()
        : reject(new Error(`GET ${url} answered ${res.statusCode}: ${Buffer.concat(refused).toString().slice(0, 300)}`)))
      res.on('error', reject)
    }).on('error', reject)
  })
}

function uncached (url: string, call: number): string {
  return `${url}${url.includes('?') ? '&' : '?'}bench-call=${call}`
}

async function get (app: FastifyInstance, url: string): Promise<unknown> {
  const res = await app.inject({ method: 'GET', url })
  if (res.statusCode !== 200) throw new Error(`GET ${url} answered ${res.statusCode}: ${res.body.slice(0, 300)}`)
  return res.json()
}

/** A spread of URLs per kind of query, made from what the store holds. */
async function queryUrls (app: FastifyInstance, shape: StoreShape): Promise<Record<QueryKind, string[]>> {
  const list = await get(app, '/api/v1/series?limit=500') as { series: Array<{ id: number, name: string }> }
  const series = list.series.find(item => item.name === STORE_SERIES)
  if (!series) throw new Error('the big store has no bench series')
  const base = `/api/v1/series/${series.id}`
  const versions = versionLabels(shape)
  const machines = machinesOf(shape)

  const trend = [`${base}/trend`, `${base}/trend?collection=kvm`, `${base}/trend?collection=memfd`,
    `${base}/trend?arch=x86_64`, `${base}/trend?arch=aarch64`,
    ...machines.map(machine => `${base}/trend?machine=${encodeURIComponent(machine.name)}`)]

  const compare: string[] = []
  for (let i = 1; i < versions.length; i++) {
    compare.push(`${base}/compare?base=${versions[i - 1]}&head=${versions[i]}`)
    compare.push(`${base}/compare?base=base&head=${versions[i]}&machine=${encodeURIComponent(machines[i % machines.length]!.name)}`)
  }

  // the first pages, then pages further in by following the cursor
  const matrix = [`${base}/matrix`, `${base}/matrix?collection=kvm`, `${base}/matrix?collection=memfd`,
    `${base}/matrix?machine=${encodeURIComponent(machines[0]!.name)}`]
  let cursor: string | null = null
  for (let page = 0; page < 6; page++) {
    const url: string = `${base}/matrix${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`
    const body = await get(app, url) as { rows: Array<{ collection: string, test: string, path: string[] }>, nextCursor: string | null }
    if (page > 0) matrix.push(url)
    cursor = body.nextCursor
    if (!cursor) break
  }

  // tests and subtests named on the matrix's first pages: every one of them has a result per run
  const names: Array<{ collection: string, test: string, path: string[] }> = []
  for (const url of matrix.slice(0, 3)) {
    const body = await get(app, url) as { rows: Array<{ collection: string, test: string, path: string[] }> }
    names.push(...body.rows)
  }
  const history = shuffled(names, 5).slice(0, 24).map(({ collection, test, path }) => {
    const query = new URLSearchParams({ collection, test })
    for (const name of path) query.append('subtest', name)
    return `/api/v1/tests/history?${query.toString()}`
  })
  return { trend, history, compare, matrix }
}
