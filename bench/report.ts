/**
 * docs/performance.md's numbers and chart, from bench/results.json: the tables between the
 * `bench:results` markers are rewritten, the prose around them is left alone, and
 * docs/performance.svg is drawn from the same results. `npm run bench` calls this at its end;
 * `node --import tsx bench/report.ts` redraws from the last results.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { BenchResults } from './run.ts'
import { rowsOf } from './table.ts'

const ROOT = join(import.meta.dirname, '..')
const DOC = join(ROOT, 'docs', 'performance.md')
const CHART = join(ROOT, 'docs', 'performance.svg')
const START = '<!-- bench:results:start (written by bench/report.ts from bench/results.json) -->'
const END = '<!-- bench:results:end -->'

export async function writeReport (results: BenchResults): Promise<void> {
  writeFileSync(CHART, chart(results))
  const generated = `${START}\n${tables(results)}\n${END}`
  const doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : `# Performance\n\n${START}\n${END}\n`
  const from = doc.indexOf(START)
  const to = doc.indexOf(END)
  if (from === -1 || to === -1) throw new Error(`${DOC} has lost its bench:results markers`)
  writeFileSync(DOC, `${doc.slice(0, from)}${generated}${doc.slice(to + END.length)}`)
}

function tables (r: BenchResults): string {
  const m = r.machine
  const out = [
    `Measured ${r.date.slice(0, 10)} on ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}, SQLite ${m.sqlite}, ` +
      `a machine shared with other work (load average ${m.loadAverage.start[0]} at the start, ${m.loadAverage.end[0]} at the end); ` +
      `the whole benchmark took ${Math.floor(r.totalSeconds / 60)} min ${r.totalSeconds % 60} s` +
      `${r.store.reused ? ` with the big store reused from an earlier run (building it took ${Math.round(r.store.buildMs / 1000)} s)` : `, building the big store included (${Math.round(r.store.buildMs / 1000)} s)`}.`,
    '',
    '![Ingest throughput, ingest time per run as the store grows, and query latency](performance.svg)',
  ]
  for (const section of rowsOf(r)) {
    out.push('', `**${section.title}**`, '', '| | measured | target | |', '|---|---|---|---|')
    for (const row of section.rows) out.push(`| ${row.map(cell => cell.replace(/\|/g, '\\|')).join(' | ')} |`)
    if (section.note !== undefined) out.push('', section.note)
  }
  return out.join('\n')
}

/** 1, 2 or 5 times a power of ten, at least `rough`. */
function niceStep (rough: number): number {
  const power = 10 ** Math.floor(Math.log10(rough))
  return ([1, 2, 5, 10].find(m => m * power >= rough) ?? 10) * power
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** Three panels: throughput bars, ingest time per run against store size, query p95 against targets. */
export function chart (r: BenchResults): string {
  const width = 1320
  const height = 390
  const parts: string[] = []
  const text = (x: number, y: number, content: string, attrs = '') =>
    parts.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${escape(content)}</text>`)
  const line = (x1: number, y1: number, x2: number, y2: number, attrs: string) =>
    parts.push(`<line x1="${x1.toFixed(1)}" y1="${y1.toFixed(1)}" x2="${x2.toFixed(1)}" y2="${y2.toFixed(1)}" ${attrs}/>`)
  const rect = (x: number, y: number, w: number, h: number, fill: string) =>
    parts.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(0, w).toFixed(1)}" height="${h.toFixed(1)}" fill="${fill}"/>`)

  // panel 1: MB/s on the same 100 MB log
  {
    const x0 = 175
    const w = 220
    const t = r.throughput.mbPerSecond
    const bars: Array<[string, number, string]> = [
      ['line-split loop', t.lineSplit, '#9e9e9e'],
      ['parser alone', t.parseOnly, '#6fa8dc'],
      ['ingest, end to end', t.ingest, '#1f5fa8'],
      ['tap-parser alone', t.tapParser, '#e69138'],
    ]
    const max = Math.max(...bars.map(bar => bar[1]))
    text(20, 36, `Ingest of a ${Math.round(r.throughput.log.bytes / 1e6)} MB log, MB/s`, 'font-weight="bold"')
    bars.forEach(([label, value, color], i) => {
      const y = 70 + i * 62
      text(x0 - 8, y + 22, label, 'text-anchor="end"')
      rect(x0, y, (value / max) * w, 34, color)
      text(x0 + (value / max) * w + 6, y + 22, value.toFixed(1))
    })
    const fiveTimes = Math.min(max, t.tapParser * 5)
    const thirty = t.lineSplit * 0.3
    for (const [value, label, dy] of [[fiveTimes, '5× tap-parser', 0], [thirty, '30% of line split', 16]] as const) {
      const x = x0 + (value / max) * w
      line(x, 60, x, 320, 'stroke="#c00" stroke-dasharray="4 3"')
      text(x + 3, 336 + dy, label, 'fill="#c00" font-size="11"')
    }
  }

  // panel 2: median ingest time per run, against results already stored
  {
    const x0 = 530
    const y0 = 320
    const w = 330
    const h = 250
    const curve = r.growth.curve
    const maxX = Math.max(...curve.map(point => point.resultsM), 1)
    const step = niceStep(Math.max(...curve.map(point => point.medianMs), 1) / 4)
    const maxY = step * Math.ceil(Math.max(...curve.map(point => point.medianMs), 1) * 1.1 / step)
    text(x0 - 40, 36, 'Ingest time per 10k-result run as the store grows', 'font-weight="bold"')
    line(x0, y0, x0 + w, y0, 'stroke="#333"')
    line(x0, y0, x0, y0 - h, 'stroke="#333"')
    for (let value = 0; value <= maxY; value += step) {
      const y = y0 - (value / maxY) * h
      line(x0 - 4, y, x0 + w, y, 'stroke="#ddd"')
      text(x0 - 8, y + 4, value.toFixed(0), 'text-anchor="end" font-size="11"')
    }
    for (let i = 0; i <= 5; i++) {
      const value = (maxX * i) / 5
      text(x0 + (w * i) / 5, y0 + 16, `${value.toFixed(1)}M`, 'text-anchor="middle" font-size="11"')
    }
    text(x0 + w / 2, y0 + 34, 'results stored', 'text-anchor="middle" font-size="12"')
    text(x0 - 44, y0 - h - 8, 'ms a run (median of each tenth)', 'font-size="12"')
    const points = curve.map(point => `${(x0 + (point.resultsM / maxX) * w).toFixed(1)},${(y0 - (point.medianMs / maxY) * h).toFixed(1)}`)
    parts.push(`<polyline points="${points.join(' ')}" fill="none" stroke="#1f5fa8" stroke-width="2.5"/>`)
    for (const point of points) {
      const [x, y] = point.split(',').map(Number) as [number, number]
      parts.push(`<circle cx="${x}" cy="${y}" r="3.5" fill="#1f5fa8"/>`)
    }
  }

  // panel 3: p95 latency per query on both stores, log scale, with the targets
  {
    const x0 = 975
    const y0 = 320
    const w = 300
    const h = 250
    const kinds = ['trend', 'history', 'compare', 'matrix'] as const
    const small = r.queries.smaller.queries
    const big = r.queries.bigger.queries
    const all = kinds.flatMap(kind => [small[kind].p95, big[kind].p95, small[kind].targetP95])
    const lo = 0.1
    const hi = 10 ** Math.ceil(Math.log10(Math.max(...all) * 1.5))
    const scale = (ms: number) => y0 - (Math.log10(Math.max(ms, lo) / lo) / Math.log10(hi / lo)) * h
    text(x0 - 40, 36, 'Query latency p95, ms (log scale)', 'font-weight="bold"')
    line(x0, y0, x0 + w, y0, 'stroke="#333"')
    for (let decade = lo; decade <= hi; decade *= 10) {
      const y = scale(decade)
      line(x0 - 4, y, x0 + w, y, 'stroke="#ddd"')
      text(x0 - 8, y + 4, decade >= 1 ? decade.toFixed(0) : decade.toFixed(1), 'text-anchor="end" font-size="11"')
    }
    const slot = w / kinds.length
    kinds.forEach((kind, i) => {
      const x = x0 + i * slot + 10
      const bw = (slot - 24) / 2
      for (const [j, stats, color] of [[0, small[kind], '#6fa8dc'], [1, big[kind], '#1f5fa8']] as const) {
        const y = scale(stats.p95)
        rect(x + j * bw, y, bw - 2, y0 - y, color)
      }
      const ty = scale(small[kind].targetP95)
      line(x - 4, ty, x + 2 * bw + 2, ty, 'stroke="#c00" stroke-width="2" stroke-dasharray="4 3"')
      text(x + bw, y0 + 16, kind, 'text-anchor="middle" font-size="12"')
    })
    const legend = [[`${(r.queries.smaller.results / 1e6).toFixed(1)}M results`, '#6fa8dc'], [`${(r.queries.bigger.results / 1e6).toFixed(1)}M`, '#1f5fa8']] as const
    legend.forEach(([label, color], i) => {
      rect(x0 + i * 115, y0 + 30, 12, 12, color)
      text(x0 + i * 115 + 18, y0 + 40, label, 'font-size="12"')
    })
    line(x0 + 200, y0 + 36, x0 + 218, y0 + 36, 'stroke="#c00" stroke-width="2" stroke-dasharray="4 3"')
    text(x0 + 224, y0 + 40, 'target', 'font-size="12"')
  }

  const m = r.machine
  text(20, height - 8, `${m.cores} cores, Node ${m.node}, SQLite ${m.sqlite}, ${r.date.slice(0, 10)}; bench/results.json`, 'font-size="11" fill="#666"')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">\n` +
    `<rect width="${width}" height="${height}" fill="#fff"/>\n${parts.join('\n')}\n</svg>\n`
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await writeReport(JSON.parse(readFileSync(join(import.meta.dirname, 'results.json'), 'utf8')) as BenchResults)
}
