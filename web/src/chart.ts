import uPlot from 'uplot'
import type { TrendResponse } from './api.ts'
import { h } from './dom.ts'
import { INCOMPLETE_GLYPH, NOT_RUN_GLYPH, STATUS_GLYPH, type Status } from './format.ts'

type TrendPoint = TrendResponse['versions'][number]

/** Bottom to top: passing results at the base of each bar, the worst on top where the eye lands. */
const STACK: readonly Status[] = ['pass', 'xfail', 'skip', 'xpass', 'fail', 'timeout', 'error']

/** The palette lives in the stylesheet (light and dark); canvases read it from there. */
function cssColor (name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888'
}

/**
 * Statuses per version as stacked bars (counts over the runs), with the pass rate as a line on
 * its own axis. uPlot has no stacking of its own: each status is drawn as the running total up to
 * it, the tallest first, so every later bar covers the lower part of the one before.
 */
export function trendChart (points: readonly TrendPoint[], signal: AbortSignal): HTMLElement {
  const holder = h('div', { class: 'chart', role: 'img', aria: { label: 'results per version as stacked bars; the table below has the same numbers' } })
  const xs = points.map((_, i) => i)
  const cumulative: number[][] = []
  let running = points.map(() => 0)
  for (const status of STACK) {
    running = running.map((sum, i) => sum + points[i]!.summary[status])
    cumulative.push(running)
  }
  // tests that never ran (the run stopped early) stand on top, hatched: a cut run never looks whole
  const notRun = running.map((sum, i) => sum + points[i]!.notRun)
  const order = STACK.map((status, i) => ({ status, values: cumulative[i]! })).reverse()
  const rate = points.map(p => (p.passRate === null ? null : p.passRate * 100))
  const barPaths = uPlot.paths.bars!({ size: [0.6, 56], align: 0 })
  const axisStroke = cssColor('--muted')
  const gridStroke = cssColor('--grid')

  const options: uPlot.Options = {
    width: 600,
    height: 260,
    padding: [12, 8, 0, 8],
    cursor: { points: { show: false }, drag: { x: false, y: false } },
    legend: { live: true },
    scales: {
      x: { time: false, range: [-0.5, Math.max(points.length - 0.5, 0.5)] },
      y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.05)] },
      pct: { range: [0, 100] },
    },
    axes: [
      {
        stroke: axisStroke,
        grid: { show: false },
        ticks: { show: false },
        splits: () => xs,
        values: (_u, splits) => splits.map(i => {
          const point = points[i]
          if (point === undefined) return ''
          return point.incompleteRuns > 0 ? `${point.label} ${INCOMPLETE_GLYPH}` : point.label
        }),
      },
      { stroke: axisStroke, grid: { stroke: gridStroke }, label: 'results', size: 48 },
      { scale: 'pct', side: 1, stroke: axisStroke, grid: { show: false }, label: 'pass rate %', size: 48, values: (_u, splits) => splits.map(v => `${v}%`) },
    ],
    series: [
      { label: 'version', value: (_u, i) => (i === null ? '–' : points[i]?.label ?? '–') },
      {
        label: `${NOT_RUN_GLYPH} not run`,
        fill: hatch(cssColor('--error')),
        stroke: cssColor('--error'),
        width: 1,
        paths: barPaths,
        points: { show: false },
        value: (_u, _v, _si, i) => (i === null ? '–' : String(points[i]?.notRun ?? '–')),
      },
      ...order.map(({ status }): uPlot.Series => ({
        label: `${STATUS_GLYPH[status]} ${status}`,
        fill: cssColor(`--${status}`),
        stroke: cssColor(`--${status}`),
        width: 0,
        paths: barPaths,
        points: { show: false },
        // the legend shows the count of this status, not the running total drawn
        value: (_u, _v, _si, i) => (i === null ? '–' : String(points[i]?.summary[status] ?? '–')),
      })),
      {
        label: 'pass rate',
        scale: 'pct',
        stroke: cssColor('--rate'),
        width: 2,
        points: { show: true, size: 6, fill: cssColor('--rate') },
        value: (_u, v) => (v === null ? '–' : `${v.toFixed(1)}%`),
      },
    ],
  }
  const data: uPlot.AlignedData = [xs, notRun, ...order.map(o => o.values), rate]
  const plot = new uPlot(options, data, holder)
  fitWidth(plot, holder, 260, signal)
  return holder
}

/** Diagonal stripes of one colour: what the chart fills tests that never ran with. */
function hatch (color: string): CanvasPattern | string {
  const tile = document.createElement('canvas')
  tile.width = 8
  tile.height = 8
  const g = tile.getContext('2d')
  if (g === null) return color
  g.strokeStyle = color
  g.lineWidth = 2
  g.beginPath()
  g.moveTo(0, 8)
  g.lineTo(8, 0)
  g.stroke()
  return g.createPattern(tile, 'repeat') ?? color
}

/** Pass rate per version as a small line, for the series list. */
export function sparkline (points: ReadonlyArray<{ label: string, passRate: number | null }>, signal: AbortSignal): HTMLElement {
  const holder = h('div', { class: 'sparkline', role: 'img', aria: { label: `pass rate per version: ${points.map(p => `${p.label} ${p.passRate === null ? 'none' : `${Math.round(p.passRate * 100)}%`}`).join(', ')}` } })
  const xs = points.map((_, i) => i)
  const rate = points.map(p => (p.passRate === null ? null : p.passRate * 100))
  const plot = new uPlot({
    width: 140,
    height: 32,
    padding: [3, 3, 3, 3],
    cursor: { show: false },
    legend: { show: false },
    scales: { x: { time: false }, y: { range: [0, 100] } },
    axes: [{ show: false }, { show: false }],
    series: [{}, { stroke: cssColor('--rate'), width: 1.5, points: { show: true, size: 4, fill: cssColor('--rate') }, spanGaps: true }],
  }, [xs, rate], holder)
  signal.addEventListener('abort', () => plot.destroy(), { once: true })
  return holder
}

function fitWidth (plot: uPlot, holder: HTMLElement, height: number, signal: AbortSignal): void {
  const resize = () => {
    const width = holder.clientWidth
    if (width > 0 && width !== plot.width) plot.setSize({ width, height })
  }
  const observer = new ResizeObserver(resize)
  observer.observe(holder)
  signal.addEventListener('abort', () => { observer.disconnect(); plot.destroy() }, { once: true })
}
