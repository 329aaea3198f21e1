/** The benchmark's results as one table on standard output. */
import type { BenchResults } from './run.ts'
import type { CpuOfParts } from './postgres-two-nodes.ts'

type Row = [what: string, figure: string, target: string, verdict: string]

const fmt = (value: number, digits = 1) => value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
const verdict = (met: boolean) => (met ? 'met' : 'MISSED')
const mb = (bytes: number) => `${fmt(bytes / 1e6, 0)} MB`

/** A section of the table; `note` is a sentence printed under its rows. */
type Section = { title: string, rows: Row[], note?: string }

export function rowsOf (r: BenchResults): Section[] {
  const t = r.throughput
  const sections: Section[] = []
  const c = r.cliStartup
  sections.push({
    title: `0. start-up of the ${c.compiled ? 'compiled' : 'uncompiled (tsx)'} ksft command, median of ${c.runs}`,
    rows: [
      ['node -e 0', `${fmt(c.nodeMs, 0)} ms`, '', ''],
      ['ksft --help', `${fmt(c.helpMs, 0)} ms (${fmt(c.helpRatio, 2)}× node -e 0)`, '≤ 3× node -e 0', verdict(c.helpRatio <= 3)],
      ['ksft gate --help', `${fmt(c.gateHelpMs, 0)} ms (${fmt(c.gateHelpRatio, 2)}× node -e 0)`, '≤ 3× node -e 0', verdict(c.gateHelpRatio <= 3)],
      ['ksft ingest of a small real log (8 tests)', c.ingestMs === null ? 'fixture absent' : `${fmt(c.ingestMs, 0)} ms`, '≤ 300 ms', c.ingestMs === null ? '' : verdict(c.ingestMs <= 300)],
    ],
  })
  sections.push({
    title: `1. ingest throughput: ${fmt(t.log.bytes / 1e6)} MB log, ${t.log.results.toLocaleString('en-US')} results, median of ${t.rounds}`,
    rows: [
      ['end to end (read, parse, hash, deflate, store, commit)', `${fmt(t.mbPerSecond.ingest)} MB/s, ${t.resultsPerSecond.toLocaleString('en-US')} results/s`, '≥ 90 MB/s', verdict(t.mbPerSecond.ingest >= 90)],
      ['tap-parser alone', `${fmt(t.mbPerSecond.tapParser)} MB/s`, 'ingest ≥ 5×', `${fmt(t.ratios.ingestOverTapParser, 2)}× ${verdict(t.targets.fiveTimesTapParser)}`],
      ['line-split loop', `${fmt(t.mbPerSecond.lineSplit)} MB/s`, 'ingest ≥ 30%', `${fmt(t.ratios.ingestOverLineSplit * 100)}% ${verdict(t.targets.thirtyPercentOfLineSplit)}`],
      ['the parser alone', `${fmt(t.mbPerSecond.parseOnly)} MB/s`, '', ''],
    ],
  })
  for (const shape of ['dense-1k', 'dense-250'] as const) {
    const d = r.dense[shape]
    const i = d.inProcess
    sections.push({
      title: `1b. dense log (${shape === 'dense-1k' ? 'a result every ~1 KB' : 'a result every ~250 B'}): ${fmt(i.log.bytes / 1e6)} MB, ${i.log.results.toLocaleString('en-US')} results, median of ${i.rounds}`,
      rows: [
        ['in-process end to end', `${fmt(i.mbPerSecond.ingest)} MB/s, ${i.resultsPerSecond.toLocaleString('en-US')} results/s`, '≥ 150 000 results/s', verdict(d.targets.resultsPerSecond)],
        ['tap-parser alone', `${fmt(i.mbPerSecond.tapParser)} MB/s`, 'ingest ≥ 5×', `${fmt(i.ratios.ingestOverTapParser, 2)}× ${verdict(d.targets.fiveTimesTapParser)}`],
        ['ksft ingest process', `${fmt(d.processMs, 0)} ms`, '≥ 3× tap-parser', `${fmt(d.processOverTapParser, 2)}× ${verdict(d.targets.processThreeTimesTapParser)}`],
        ['the parser alone', `${fmt(i.mbPerSecond.parseOnly)} MB/s`, '', ''],
      ],
    })
  }
  sections.push({
    title: '2. peak RSS while ingesting',
    rows: r.memory.points.map((point): Row => [
      `${point.via === 'cli' ? 'ksft ingest' : 'POST /api/v1/runs'}, ${fmt(point.logBytes / 1e6, 0)} MB log`,
      `${mb(point.peakRss)}${point.idleRss ? ` (idle ${mb(point.idleRss)})` : ''}, ${fmt(point.mbPerSecond)} MB/s`,
      `< ${fmt(r.memory.limitBytes / 1e6, 0)} MB`,
      verdict(point.peakRss < r.memory.limitBytes),
    ]),
  })
  for (const [name, q] of [['smaller', r.queries.smaller], ['bigger', r.queries.bigger]] as const) {
    sections.push({
      title: `3. query latency, ${name} store: ${fmt(q.results / 1e6, 2)}M results, ${q.runs} runs (p50 / p95 over ${q.queries.trend.calls} calls)`,
      rows: Object.entries(q.queries).map(([kind, stats]): Row => [
        kind, `${fmt(stats.p50, 2)} / ${fmt(stats.p95, 2)} ms`, `p95 ≤ ${stats.targetP95} ms`, verdict(stats.met),
      ]),
    })
  }
  const h = r.http
  sections.push({
    title: `4. HTTP throughput: autocannon, ${h.connections} connections, ${h.seconds} s each`,
    rows: [
      ['hello world', `${h.hello.requestsPerSecond.toLocaleString('en-US')} req/s`, '', ''],
      ['trend (200, body checked)', `${h.trend.requestsPerSecond.toLocaleString('en-US')} req/s`, '≥ 50% of hello', `${fmt(h.ratios.trendOverHello * 100)}% ${verdict(h.targets.halfOfHello)}`],
      ['trend with If-None-Match (304)', `${h.trendNotModified.requestsPerSecond.toLocaleString('en-US')} req/s`, '', `${fmt(h.ratios.trendNotModifiedOverHello * 100)}%`],
    ],
  })
  const u = r.uploads
  sections.push({
    title: `5. concurrent uploads: ${u.clients} clients × ${u.logsPerClient} logs of ${fmt(u.logBytes / 1e6)} MB, ${u.reads.requests} trend reads alongside`,
    rows: [
      ['total ingest throughput', `${fmt(u.mbPerSecond)} MB/s, ${fmt(u.runsPerSecond, 2)} runs/s`, '', ''],
      ['runs stored / distinct / uploads', `${u.runsStored} / ${u.distinctRuns} / ${u.uploads}`, 'no error, loss or duplicate', verdict(u.targets.noErrorNoLossNoDuplicate)],
      ['trend reads during uploads', `p50 ${fmt(u.reads.p50Ms)} ms, max ${fmt(u.reads.maxMs)} ms, ${u.reads.errors} errors`, '', ''],
    ],
  })
  const k = r.knownIssues
  sections.push({
    title: `7. known issues at ingest: ${k.issues.toLocaleString('en-US')} active issues against a ${k.results.toLocaleString('en-US')}-result upload (${k.failingResults.toLocaleString('en-US')} failing), median of ${k.rounds}`,
    rows: [
      ['ingest with no known issue', `${fmt(k.ms.withoutIssues, 0)} ms`, '', ''],
      [`ingest with ${k.issues.toLocaleString('en-US')} known issues (${k.matchedResults} results matched)`, `${fmt(k.ms.withIssues, 0)} ms (×${fmt(k.ratio, 3)})`, '≤ ×1.10', verdict(k.met)],
      ['the first ingest after an issue changed (index rebuilt)', `${fmt(k.ms.firstAfterChange, 0)} ms`, '', ''],
    ],
  })
  const pg = r.postgres
  if (pg !== undefined) sections.push(postgresSection(pg, r.machine.cores))
  const g = r.growth
  sections.push({
    title: `6. growth from ${fmt(g.smallerResults / 1e6, 2)}M to ${fmt(g.biggerResults / 1e6, 2)}M results`,
    rows: [
      ['ingest time per run', `${fmt(g.ingestMsPerRun.smaller, 0)} → ${fmt(g.ingestMsPerRun.bigger, 0)} ms (×${fmt(g.ingestMsPerRun.ratio, 2)})`, 'flat or sub-linear', ''],
      ['trend p95', `${fmt(g.trendP95Ms.smaller, 2)} → ${fmt(g.trendP95Ms.bigger, 2)} ms (×${fmt(g.trendP95Ms.ratio, 2)})`, 'flat or sub-linear', verdict(g.subLinear)],
    ],
  })
  return sections
}

function postgresSection (pg: BenchResults['postgres'], cores: number): Section {
  if ('skipped' in pg) return { title: `8. PostgreSQL: skipped (${pg.skipped})`, rows: [] }
  const i = pg.ingest
  const q = pg.queries
  const rows: Row[] = [
    ['ingest, dense log: SQLite', `${i.resultsPerSecond.sqlite.toLocaleString('en-US')} results/s (store ${fmt(i.storeMs.sqlite, 0)} ms)`, '', ''],
    ['ingest, dense log: PostgreSQL', `${i.resultsPerSecond.postgres.toLocaleString('en-US')} results/s (store ${fmt(i.storeMs.postgres, 0)} ms)`, '≥ 50% of SQLite', `${fmt(i.postgresOverSqlite * 100)}% ${verdict(i.postgresOverSqlite >= 0.5)}`],
    ...twoNodeRows(pg.nodes),
    ['ksft migrate-store of the big store', `${pg.copy.rows.toLocaleString('en-US')} rows in ${fmt(pg.copy.seconds)} s`, '', ''],
  ]
  for (const kind of Object.keys(q.queries) as Array<keyof typeof q.queries>) {
    const stats = q.queries[kind]
    const sqlite = pg.sqliteQueries.queries[kind]
    rows.push([`${kind} on PostgreSQL (SQLite: ${fmt(sqlite.p50, 2)} / ${fmt(sqlite.p95, 2)} ms)`, `${fmt(stats.p50, 2)} / ${fmt(stats.p95, 2)} ms`, `p95 ≤ ${stats.targetP95} ms`, verdict(stats.met)])
  }
  return {
    title: `8. PostgreSQL: a dense log of ${fmt(i.log.bytes / 1e6)} MB (${i.log.results.toLocaleString('en-US')} results) stored in each backend, median of ${i.samples.postgres.length}; concurrent uploads through one node and through two; query latency on the big store (${q.results.toLocaleString('en-US')} results) copied (p50 / p95 over ${Object.values(q.queries)[0]?.calls ?? 0} calls)`,
    rows,
    note: twoNodeNote(pg.nodes, cores),
  }
}

type TwoNodes = Exclude<BenchResults['postgres'], { skipped: string }>['nodes']

function twoNodeRows (n: TwoNodes): Row[] {
  const rate = (phase: TwoNodes['oneNode']) => `${phase.resultsPerSecond.toLocaleString('en-US')} results/s, ${fmt(phase.uploadsPerSecond, 2)} uploads/s`
  const uploads = `${n.logs} uploads of ${fmt(n.logBytes / 1e6, 2)} MB (~${n.resultsPerLog.toLocaleString('en-US')} results) from ${n.uploaders} uploaders`
  return [
    [`${uploads} through one ksft serve`, rate(n.oneNode), '', ''],
    ['the same through two ksft serve on the same database', rate(n.twoNodes), '≥ 1.5× one node', `${fmt(n.twoOverOne, 2)}× ${verdict(n.targets.oneAndAHalf)}`],
    ['runs stored / uploads, one node and two', `${n.oneNode.runsStored} / ${n.oneNode.uploads}, ${n.twoNodes.runsStored} / ${n.twoNodes.uploads}`, 'no error or loss', verdict(n.targets.noErrorNoLoss)],
    ...cpuRows(n),
  ]
}

/** CPU seconds a part used per 100 000 results stored (results.json from before the split has none). */
function cpuPer100k (phase: TwoNodes['oneNode']): CpuOfParts | null {
  const cpu = phase.cpuSeconds ?? null
  if (cpu === null || phase.results === 0) return null
  const per = (seconds: number) => seconds / phase.results * 100_000
  return { postgres: per(cpu.postgres), nodes: per(cpu.nodes), uploaders: per(cpu.uploaders) }
}

function cpuRows (n: TwoNodes): Row[] {
  const one = cpuPer100k(n.oneNode)
  const two = cpuPer100k(n.twoNodes)
  if (one === null || two === null) return []
  const pair = (part: keyof typeof one) => `${fmt(one[part], 2)} / ${fmt(two[part], 2)} s`
  return [
    ['CPU per 100,000 results, one node / two: PostgreSQL', pair('postgres'), '', ''],
    ['… the ksft serve nodes', pair('nodes'), '', ''],
    ['… the uploaders', pair('uploaders'), '', ''],
  ]
}

/** What bounds the two-node figure: one machine's cores under PostgreSQL, both nodes and the uploaders. */
function twoNodeNote (n: TwoNodes, cores: number): string {
  const busy = (phase: TwoNodes['oneNode']) => `${fmt(phase.cpuBusy * 100, 0)}%`
  return `The two nodes run on this one machine: PostgreSQL, both ksft serve processes and the uploaders share its ${cores} cores, ` +
    `which were ${busy(n.oneNode)} busy with one node and ${busy(n.twoNodes)} with two (load average ${n.loadAverage.start} → ${n.loadAverage.end}). ` +
    'A second process here can only use what the first left idle; the ratio says nothing of a second machine.' +
    cpuBoundNote(n)
}

/**
 * What the CPU split says of nodes on machines of their own. A node with C cores stores at most
 * C / (its CPU a result), and a database with D cores bounds any number of nodes at D / (its CPU a
 * result): on machines of equal cores two nodes gain min(2, node / database) at most, and 1.5×
 * needs D / C >= 1.5 × database / node. Only bounds: they leave out waits on locks and the network.
 */
function cpuBoundNote (n: TwoNodes): string {
  const one = cpuPer100k(n.oneNode)
  if (one === null || one.postgres === 0 || one.nodes === 0) return ''
  const equalCores = Math.min(2, Math.max(1, one.nodes / one.postgres))
  return ` With one node, PostgreSQL used ${fmt(one.postgres / one.nodes, 2)}× the node's CPU a result: were CPU all that bounds them, ` +
    `two nodes and the database on machines of equal cores would store at most ${fmt(equalCores, 2)}× one node, ` +
    `and 1.5× needs a database with ${fmt(1.5 * one.postgres / one.nodes, 1)}× a node's cores.`
}

export function printTable (r: BenchResults): void {
  const m = r.machine
  const out: string[] = [
    `ksft-dashboard benchmark${r.quick ? ' (--quick: small inputs, targets not judged)' : ''}: ${m.cores} cores (${m.cpu}), Node ${m.node}, SQLite ${m.sqlite}, ${r.totalSeconds} s`,
  ]
  const sections = rowsOf(r)
  const widths = [0, 1, 2].map(i => Math.max(...sections.flatMap(section => section.rows.map(row => row[i]!.length))))
  for (const section of sections) {
    out.push('', section.title)
    for (const row of section.rows) {
      out.push(`  ${row[0].padEnd(widths[0]!)}  ${row[1].padEnd(widths[1]!)}  ${row[2].padEnd(widths[2]!)}  ${r.quick ? '' : row[3]}`.trimEnd())
    }
    if (section.note !== undefined) out.push(`  ${section.note}`)
  }
  process.stdout.write(`${out.join('\n')}\n`)
}
