import type { Api } from './api.ts'
import { h, replace } from './dom.ts'
import { STATUS_GLYPH, type Status } from './format.ts'

export interface LogSpan {
  from: number
  to: number
  status: Status
  label: string
}

/** Lines loaded at a time: enough around any anchor to read a test's whole output in most logs. */
const WINDOW = 2000
const STEP = 1000
/** The API's own cap on one request. */
const MAX_REQUEST = 10_000

export function parseLineAnchor (hash: string): [number, number] | null {
  const m = /^#L(\d+)(?:-L?(\d+))?$/.exec(hash)
  if (!m) return null
  const a = Number(m[1])
  const b = m[2] === undefined ? a : Number(m[2])
  return a <= b ? [a, b] : [b, a]
}

/**
 * The raw log with line numbers, a window of it at a time (logs run to millions of lines). A
 * `#L120-L164` anchor loads the lines around it, highlights the range and scrolls to it; a click on a
 * line number anchors that line, shift-click extends to a range. Each test's span is marked.
 */
export class LogViewer {
  readonly element: HTMLElement
  private readonly box: HTMLElement
  private readonly lines: HTMLElement
  private readonly before: HTMLElement
  private readonly after: HTMLElement
  private loaded: [number, number] | null = null
  private highlighted: [number, number] | null = null
  private readonly spanStarts = new Map<number, LogSpan>()
  private readonly lineSpan: (line: number) => LogSpan | null

  constructor (private readonly api: Api, private readonly runId: number, private readonly totalLines: number, spans: readonly LogSpan[]) {
    const sorted = [...spans].sort((a, b) => a.from - b.from)
    for (const span of sorted) this.spanStarts.set(span.from, span)
    this.lineSpan = (line) => {
      // spans are few and sorted: a binary search finds the one holding a line
      let lo = 0
      let hi = sorted.length - 1
      while (lo <= hi) {
        const mid = (lo + hi) >> 1
        const span = sorted[mid]!
        if (line < span.from) hi = mid - 1
        else if (line > span.to) lo = mid + 1
        else return span
      }
      return null
    }
    this.before = h('div', { class: 'log-more' })
    this.after = h('div', { class: 'log-more' })
    this.lines = h('div', { class: 'log-lines', role: 'log', aria: { label: `raw log of run ${runId}` } })
    this.lines.addEventListener('click', event => this.onLineNumberClick(event))
    this.box = h('div', { class: 'log-box', tabindex: 0, aria: { label: 'raw log; scroll with the arrow keys' } }, this.before, this.lines, this.after)
    this.element = h('div', { class: 'log-viewer' }, this.box)
  }

  /** Shows and highlights a range (or the start of the log), loading the lines around it if needed. */
  async show (range: [number, number] | null, options: { scroll?: boolean } = {}): Promise<void> {
    if (this.totalLines === 0) {
      replace(this.lines, h('p', { class: 'muted' }, 'The log is empty.'))
      return
    }
    const target: [number, number] | null = range === null ? null
      : [Math.min(Math.max(1, range[0]), this.totalLines), Math.min(Math.max(1, range[1]), this.totalLines)]
    if (target === null) {
      if (this.loaded === null) await this.load(1, Math.min(this.totalLines, WINDOW))
    } else if (this.loaded === null || target[0] < this.loaded[0] || target[1] > this.loaded[1]) {
      const from = Math.max(1, target[0] - 100)
      const to = Math.min(this.totalLines, Math.max(from + WINDOW - 1, Math.min(target[1] + 100, from + MAX_REQUEST - 1)))
      await this.load(from, to)
    }
    this.highlight(target)
    if (target && options.scroll !== false) {
      const first = this.lineElement(target[0])
      if (first) {
        first.scrollIntoView({ block: 'center' })
        first.querySelector<HTMLAnchorElement>('a.ln')?.focus({ preventScroll: true })
      }
    }
  }

  private async load (from: number, to: number): Promise<void> {
    const slice = await this.api.log(this.runId, from, to)
    this.loaded = [slice.from, slice.to]
    const fragment = document.createDocumentFragment()
    this.appendLines(fragment, slice.from, slice.lines)
    this.lines.replaceChildren(fragment)
    this.updateMore()
  }

  private appendLines (target: Node, from: number, texts: readonly string[]): void {
    for (const [i, content] of texts.entries()) {
      const n = from + i
      const start = this.spanStarts.get(n)
      if (start) {
        target.appendChild(h('div', { class: `span-label status-${start.status}`, data: { from: String(start.from), to: String(start.to) } },
          h('a', { href: `#L${start.from}-L${start.to}` }, `${STATUS_GLYPH[start.status]} ${start.label}`),
          h('span', { class: 'muted' }, ` · ${start.status} · lines ${start.from}–${start.to}`)))
      }
      const span = this.lineSpan(n)
      const row = h('div', { class: span ? `line in-span status-${span.status}` : 'line', id: `L${n}`, data: { n: String(n) } },
        h('a', { class: 'ln', href: `#L${n}`, aria: { label: `line ${n}` } }, String(n)),
        h('span', { class: 'lt' }, content))
      target.appendChild(row)
    }
  }

  private async extend (direction: -1 | 1): Promise<void> {
    if (!this.loaded) return
    const [from, to] = this.loaded
    if (direction < 0) {
      const start = Math.max(1, from - STEP)
      const slice = await this.api.log(this.runId, start, from - 1)
      const fragment = document.createDocumentFragment()
      this.appendLines(fragment, slice.from, slice.lines)
      // keep the reader's place while lines are added above
      const anchor = this.lines.firstElementChild
      const offset = anchor ? anchor.getBoundingClientRect().top : 0
      this.lines.prepend(fragment)
      if (anchor) this.box.scrollTop += anchor.getBoundingClientRect().top - offset
      this.loaded = [slice.from, to]
    } else {
      const end = Math.min(this.totalLines, to + STEP)
      const slice = await this.api.log(this.runId, to + 1, end)
      const fragment = document.createDocumentFragment()
      this.appendLines(fragment, slice.from, slice.lines)
      this.lines.appendChild(fragment)
      this.loaded = [from, slice.to]
    }
    this.highlight(this.highlighted)
    this.updateMore()
  }

  private updateMore (): void {
    const [from, to] = this.loaded ?? [1, 0]
    const button = (label: string, direction: -1 | 1) => {
      const b = h('button', { type: 'button' }, label)
      b.addEventListener('click', () => {
        b.disabled = true
        this.extend(direction).catch((err: unknown) => {
          b.disabled = false
          b.textContent = `Could not load the lines (${err instanceof Error ? err.message : String(err)}); try again`
        })
      })
      return b
    }
    replace(this.before, from > 1 ? [button(`▲ ${Math.min(STEP, from - 1)} earlier lines`, -1), h('span', { class: 'muted small' }, ` (lines 1–${from - 1} not shown)`)] : null)
    replace(this.after, to < this.totalLines ? [button(`▼ ${Math.min(STEP, this.totalLines - to)} later lines`, 1), h('span', { class: 'muted small' }, ` (lines ${to + 1}–${this.totalLines} not shown)`)] : null)
  }

  private lineElement (n: number): HTMLElement | null {
    return this.lines.querySelector<HTMLElement>(`#L${n}`)
  }

  private highlight (range: [number, number] | null): void {
    for (const el of this.lines.querySelectorAll('.line.hl')) el.classList.remove('hl')
    this.highlighted = range
    if (!range || !this.loaded) return
    const from = Math.max(range[0], this.loaded[0])
    const to = Math.min(range[1], this.loaded[1])
    for (let n = from; n <= to; n++) this.lineElement(n)?.classList.add('hl')
  }

  private onLineNumberClick (event: MouseEvent): void {
    const a = (event.target as Element).closest('a.ln')
    if (!a || !event.shiftKey || !this.highlighted) return
    // shift-click: a range from the anchored line to this one, as code hosts do it
    event.preventDefault()
    const n = Number(a.textContent)
    const from = Math.min(this.highlighted[0], n)
    const to = Math.max(this.highlighted[0], n)
    location.hash = `#L${from}-L${to}`
  }
}
