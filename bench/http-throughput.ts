/**
 * Measurement 4: requests per second of the trend endpoint on the big store, next to a hello-world
 * route of the same server (same plugins and hooks), measured in the same run with autocannon
 * (10 connections, a fixed duration each, 127.0.0.1 only). The server runs in a process of its
 * own, autocannon in this one. The trend's answer is first checked against the runs table with
 * SQL of its own, and autocannon then counts every response whose body differs from it.
 */
import autocannon from 'autocannon'
import { openDatabase } from '../server/storage/sqlite/database.ts'
import { startServer } from './children.ts'
import { round } from './stats.ts'
import { STORE_SERIES } from './store-shape.ts'

export interface CannonStats {
  url: string
  requestsPerSecond: number
  requests: number
  latencyP50: number
  latencyP99: number
  errors: number
  timeouts: number
  mismatches: number
  statusCodes: Record<string, number>
}

export interface HttpThroughputResult {
  connections: number
  seconds: number
  hello: CannonStats
  trend: CannonStats
  /** The same trend URL asked with If-None-Match: a client that keeps what it was sent. */
  trendNotModified: CannonStats
  ratios: { trendOverHello: number, trendNotModifiedOverHello: number }
  /** Whether the trend's answer matched the runs table, version by version. */
  verified: boolean
  targets: { halfOfHello: boolean }
}

export async function measureHttpThroughput (dbPath: string, seconds: number): Promise<HttpThroughputResult> {
  const server = await startServer(dbPath)
  try {
    const list = await (await fetch(`${server.url}/api/v1/series?limit=500`)).json() as { series: Array<{ id: number, name: string }> }
    const series = list.series.find(item => item.name === STORE_SERIES)
    if (!series) throw new Error('the big store has no bench series')
    const trendUrl = `${server.url}/api/v1/series/${series.id}/trend`
    const first = await fetch(trendUrl)
    const body = await first.text()
    const etag = first.headers.get('etag')
    if (first.status !== 200 || etag === null) throw new Error(`the trend answered ${first.status} (etag ${String(etag)})`)
    verifyTrend(dbPath, series.id, JSON.parse(body) as TrendBody)
    const helloUrl = `${server.url}/bench/hello`
    const helloBody = await (await fetch(helloUrl)).text()

    const hello = await cannon(helloUrl, seconds, { expectBody: helloBody })
    const trend = await cannon(trendUrl, seconds, { expectBody: body })
    const trendNotModified = await cannon(trendUrl, seconds, { headers: { 'if-none-match': etag } })
    for (const stats of [hello, trend]) {
      if (stats.errors > 0 || stats.mismatches > 0 || Object.keys(stats.statusCodes).some(code => code !== '200')) {
        throw new Error(`${stats.url}: ${stats.errors} errors, ${stats.mismatches} wrong bodies, statuses ${JSON.stringify(stats.statusCodes)}`)
      }
    }
    if (trendNotModified.errors > 0 || Object.keys(trendNotModified.statusCodes).some(code => code !== '304')) {
      throw new Error(`conditional trend: ${trendNotModified.errors} errors, statuses ${JSON.stringify(trendNotModified.statusCodes)}`)
    }
    const trendOverHello = trend.requestsPerSecond / hello.requestsPerSecond
    return {
      connections: 10,
      seconds,
      hello,
      trend,
      trendNotModified,
      ratios: {
        trendOverHello: round(trendOverHello, 3),
        trendNotModifiedOverHello: round(trendNotModified.requestsPerSecond / hello.requestsPerSecond, 3),
      },
      verified: true,
      targets: { halfOfHello: trendOverHello >= 0.5 },
    }
  } finally {
    await server.stop()
  }
}

async function cannon (url: string, seconds: number, options: { expectBody?: string, headers?: Record<string, string> }): Promise<CannonStats> {
  const result = await autocannon({
    url,
    connections: 10,
    duration: seconds,
    headers: options.headers,
    expectBody: options.expectBody,
  })
  return {
    url: new URL(url).pathname,
    requestsPerSecond: round(result.requests.average, 0),
    requests: result.requests.total,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, stats]) => [code, stats.count])),
  }
}

interface TrendBody {
  versions: Array<{ label: string, runs: number, machines: number, passRate: number | null, summary: Record<string, number> }>
}

const COUNTS = ['total', 'pass', 'fail', 'skip', 'xfail', 'xpass', 'timeout', 'error'] as const

/** The trend as the runs' own summary columns add up, version by version; throws on any difference. */
function verifyTrend (dbPath: string, seriesId: number, trend: TrendBody): void {
  const db = openDatabase(dbPath, { readonly: true })
  try {
    const rows = db.prepare(`
      SELECT v.label, count(*) AS runs, count(DISTINCT r.machine_id) AS machines,
        ${COUNTS.map(count => `sum(r.${count}) AS ${count}`).join(', ')}
      FROM runs r JOIN versions v ON v.id = r.version_id
      WHERE v.series_id = ? GROUP BY v.id ORDER BY v.sort_key`).all(seriesId) as Array<Record<(typeof COUNTS)[number] | 'runs' | 'machines', number> & { label: string }>
    if (rows.length !== trend.versions.length) throw new Error(`the trend has ${trend.versions.length} versions, the runs ${rows.length}`)
    for (const [i, row] of rows.entries()) {
      const point = trend.versions[i]!
      const expected = { label: row.label, runs: row.runs, machines: row.machines, ...Object.fromEntries(COUNTS.map(count => [count, row[count]])) }
      const actual = { label: point.label, runs: point.runs, machines: point.machines, ...Object.fromEntries(COUNTS.map(count => [count, point.summary[count]])) }
      if (JSON.stringify(actual) !== JSON.stringify(expected)) {
        throw new Error(`the trend of ${row.label} says ${JSON.stringify(actual)}, the runs ${JSON.stringify(expected)}`)
      }
      const ran = row.total - row.skip
      const passRate = ran === 0 ? null : Math.round((row.pass + row.xfail) / ran * 10_000) / 10_000
      if (point.passRate !== passRate) throw new Error(`the pass rate of ${row.label} is ${point.passRate}, not ${passRate}`)
    }
  } finally {
    db.close()
  }
}
