import { apiPaths, type CompareResponse, type Params, type TrendResponse } from '../api.ts'
import { trendChart } from '../chart.ts'
import { bucketChips, compareNotes, compareTable } from '../compare-view.ts'
import { copyText } from '../counts.ts'
import { externalLink, h, replace } from '../dom.ts'
import { INCOMPLETE_GLYPH, NOT_RUN_GLYPH, STATUSES, STATUS_GLYPH, percent, plural } from '../format.ts'
import { MatrixView, matrixLegend } from '../matrix.ts'
import { identityPanel } from '../identity-form.ts'
import { errorBox, fill, isAbort, pageHeader, section, setTitle, type PageContext } from '../page.ts'
import { flakyList } from './flaky.ts'

/** Filters the series page keeps in its query string, named as the API names them. */
const FILTERS = ['collection', 'machine', 'arch'] as const
const COMPARE_PREVIEW = 50
const MATRIX_PAGE = 100

export async function seriesPage (ctx: PageContext, match: RegExpExecArray): Promise<void> {
  const id = decodeURIComponent(match[1]!)
  const q = ctx.url.searchParams
  const filters = Object.fromEntries(FILTERS.map(name => [name, q.get(name) ?? undefined])) as Record<(typeof FILTERS)[number], string | undefined>
  const trend = await ctx.api.trend(id, filters)
  const seriesId = String(trend.series.id)
  setTitle(trend.series.name)

  const labels = trend.versions.map(v => v.label)
  const head = pick(q.get('head'), labels, labels.length - 1)
  // by default a version is compared with the one before it
  const base = pick(q.get('base'), labels, (head === null ? labels.length : labels.indexOf(head)) - 1)
  const runs = trend.versions.reduce((sum, v) => sum + v.runs, 0)

  const identitySlot = h('div', { class: 'identity-slot' })
  const filterSlot = h('div', { class: 'filters-slot' })
  const compareSlot = h('div')
  const matrixSlot = h('div')
  const flakySlot = h('div')
  replace(ctx.main,
    pageHeader(trend.series.name, apiPaths.trend(seriesId, filters)),
    h('p', { class: 'muted' }, `${plural(trend.versions.length, 'version')} · ${plural(runs, 'run')} counted`,
      activeFilters(filters) ? ` · filtered to ${activeFilters(filters)}` : ''),
    identitySlot,
    filterSlot,
    section('Results per version', 'trend', trendChart(trend.versions, ctx.signal), incompleteNote(trend), trendTable(trend)),
    section('What changed', 'compare', comparePicker(ctx, seriesId, labels, base, head, filters), compareSlot),
    section('Tests × versions', 'matrix', matrixLegend(), matrixSlot),
    section('Flaky tests', 'flaky', flakySlot),
  )

  const machinesLoad = ctx.api.machines({ limit: 1000 })
  const collectionsLoad = ctx.api.collections(seriesId)
  const matrixParams: Params = { ...filters, limit: MATRIX_PAGE }
  const matrixLoad = ctx.api.matrix(seriesId, matrixParams)
  await Promise.all([
    fill(identitySlot, async () => {
      const item = await ctx.api.series(seriesId)
      const others = item.names.filter(name => name !== item.name)
      return [
        others.length > 0 || item.changeIds.length > 0
          ? h('p', { class: 'series-names muted small' },
            others.length > 0 ? `Also uploaded as: ${others.map(name => `“${name}”`).join(', ')}` : '',
            others.length > 0 && item.changeIds.length > 0 ? ' · ' : '',
            item.changeIds.length > 0 ? `b4 change-id: ${item.changeIds.join(', ')}` : '')
          : null,
        // a rename stays on this page (drawn again); a merge goes to the series merged into
        identityPanel({ kind: 'series', id: item.id, name: item.name }, href => { if (href === ctx.url.pathname) void seriesPage(ctx, match); else ctx.navigate(href) }),
      ]
    }),
    // the filters keep a version pair the reader chose, not the default one
    fill(filterSlot, async () => filterForm(ctx, seriesId, filters, q.get('base'), q.get('head'), (await machinesLoad).machines,
      (await collectionsLoad).collections.map(c => c.name))),
    fill(compareSlot, async () => {
      if (base === null || head === null || base === head) return h('p', { class: 'muted' }, 'A comparison needs two versions of the series.')
      const params = { base, head, ...filters, limit: COMPARE_PREVIEW }
      const compare = await ctx.api.compare(seriesId, params)
      return compareSummary(ctx, seriesId, compare, params)
    }),
    fill(matrixSlot, async () => {
      const params = matrixParams
      const first = await matrixLoad
      if (first.rows.length === 0) return h('p', { class: 'muted' }, 'No tests with these filters.')
      const view = new MatrixView(first, seriesId)
      const more = h('p')
      const addMore = (cursor: string | null) => {
        if (cursor === null) return replace(more)
        const button = h('button', { type: 'button' }, 'Load more tests')
        button.addEventListener('click', () => {
          button.disabled = true
          ctx.api.matrix(seriesId, { ...params, cursor })
            .then(page => { view.add(page); addMore(page.nextCursor) })
            .catch((err: unknown) => { if (!isAbort(err)) replace(more, errorBox(err)) })
        })
        replace(more, button)
      }
      addMore(first.nextCursor)
      return [view.element, more, h('p', { class: 'small' }, h('a', { href: apiPaths.matrix(seriesId, params) }, '{ } matrix JSON'))]
    }),
    fill(flakySlot, async () => flakyList(await ctx.api.flaky(seriesId, filters), seriesId)),
  ])
}

function pick (wanted: string | null, labels: readonly string[], fallback: number): string | null {
  if (wanted && labels.includes(wanted)) return wanted
  return labels[fallback] ?? null
}

function activeFilters (filters: Record<string, string | undefined>): string {
  return Object.entries(filters).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(', ')
}

function filterForm (ctx: PageContext, seriesId: string, filters: Record<string, string | undefined>, base: string | null, head: string | null,
  machines: ReadonlyArray<{ name: string, arch: string | null, flags: string[] }>, collections: string[]): HTMLElement {
  const select = (name: string, label: string, options: Array<[value: string, text: string]>) => {
    const current = filters[name] ?? ''
    if (current && !options.some(([value]) => value === current)) options.push([current, current])
    return h('label', null, label, ' ',
      h('select', { name }, h('option', { value: '' }, 'all'), ...options.map(([value, text]) => h('option', { value, selected: value === current }, text))))
  }
  const arches = [...new Set(machines.map(m => m.arch).filter((a): a is string => a !== null))].sort()
  const form = h('form', { class: 'filters', method: 'get', action: `/series/${seriesId}` },
    select('collection', 'Collection', collections.map(c => [c, c])),
    select('machine', 'Machine', machines.map(m => [m.name, `${m.name}${m.flags.length ? ` (${m.flags.join(', ')})` : ''}`])),
    select('arch', 'Arch', arches.map(a => [a, a])),
    h('button', { type: 'submit' }, 'Apply'),
    Object.values(filters).some(Boolean) ? h('a', { href: withParams(seriesId, { base, head }) }, 'clear filters') : null,
  )
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const data = new FormData(form)
    ctx.navigate(withParams(seriesId, { collection: data.get('collection') as string, machine: data.get('machine') as string, arch: data.get('arch') as string, base, head }))
  })
  return form
}

function withParams (seriesId: string, params: Record<string, string | null | undefined>): string {
  const query = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) if (value) query.set(key, value)
  const text = query.toString()
  return `/series/${seriesId}${text ? `?${text}` : ''}`
}

function trendTable (trend: TrendResponse): HTMLElement {
  return h('details', { class: 'trend-table' },
    h('summary', null, 'The numbers'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'numbers' },
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Version'), h('th', { scope: 'col', class: 'num' }, 'Runs'), h('th', { scope: 'col', class: 'num' }, 'Machines'),
        ...STATUSES.map(s => h('th', { scope: 'col', class: `num status-${s}` }, `${STATUS_GLYPH[s]} ${s}`)),
        h('th', { scope: 'col', class: 'num not-run' }, `${NOT_RUN_GLYPH} not run`),
        h('th', { scope: 'col', class: 'num' }, 'Stopped early'),
        h('th', { scope: 'col', class: 'num' }, 'Pass rate'))),
      h('tbody', null, ...trend.versions.map(v => h('tr', { data: { version: v.label } },
        h('th', { scope: 'row' }, v.loreUrl ? externalLink(v.loreUrl, v.label) : v.label),
        h('td', { class: 'num', data: { field: 'runs' } }, v.runs),
        h('td', { class: 'num', data: { field: 'machines' } }, v.machines),
        ...STATUSES.map(s => h('td', { class: 'num', data: { field: s } }, v.summary[s])),
        h('td', { class: 'num', data: { field: 'notRun' } }, v.notRun),
        h('td', { class: 'num', data: { field: 'incompleteRuns' } }, v.incompleteRuns),
        h('td', { class: 'num', data: { field: 'passRate' } }, percent(v.passRate))))))))
}

/** Said in words under the chart: which versions have runs that stopped early, so no bar reads as whole when it is not. */
function incompleteNote (trend: TrendResponse): HTMLElement | null {
  const stopped = trend.versions.filter(v => v.incompleteRuns > 0)
  if (stopped.length === 0) return null
  return h('p', { class: 'incomplete-note warn' },
    `${INCOMPLETE_GLYPH} Incomplete: `,
    ...stopped.flatMap((v, i) => [
      i > 0 ? '; ' : '',
      h('span', { data: { version: v.label, 'incomplete-runs': String(v.incompleteRuns), 'not-run': String(v.notRun) } },
        `${v.label}: ${plural(v.incompleteRuns, 'run')} of ${v.runs} stopped early (a panic, a hang or a cut log), ${v.notRun} planned ${v.notRun === 1 ? 'test' : 'tests'} never ran`),
    ]),
    '. Hatched bars are tests that never ran; they count against the pass rate.')
}

function comparePicker (ctx: PageContext, seriesId: string, labels: readonly string[], base: string | null, head: string | null, filters: Record<string, string | undefined>): HTMLElement {
  if (labels.length < 2) return h('span')
  const select = (name: string, current: string | null) => h('select', { name, aria: { label: `${name} version` } },
    ...labels.map(label => h('option', { value: label, selected: label === current }, label)))
  const form = h('form', { class: 'picker', method: 'get', action: `/series/${seriesId}` },
    h('label', null, 'From ', select('base', base)), ' ', h('label', null, 'to ', select('head', head)), ' ',
    h('button', { type: 'submit' }, 'Compare'))
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const data = new FormData(form)
    ctx.navigate(withParams(seriesId, { ...filters, base: data.get('base') as string, head: data.get('head') as string }))
  })
  return form
}

function compareSummary (ctx: PageContext, seriesId: string, compare: CompareResponse, params: Params): HTMLElement[] {
  const pageParams = {
    base: compare.base.label, head: compare.head.label,
    machine: compare.machine ?? undefined, arch: compare.arch ?? undefined, collection: compare.collection ?? undefined,
  }
  const compareHref = (bucket: string | null) => `/series/${seriesId}/compare?${new URLSearchParams(Object.entries({ ...pageParams, bucket: bucket ?? undefined })
    .filter((e): e is [string, string] => e[1] !== undefined)).toString()}`
  const shown = compare.entries.length
  const total = Object.entries(compare.machineCounts).filter(([k]) => k !== 'unchanged').reduce((sum, [, n]) => sum + n, 0)
  const fallback = h('textarea', { class: 'summary-text', hidden: true, aria: { label: 'summary for a mailing-list reply' } })
  fallback.readOnly = true
  const copy = h('button', { type: 'button', class: 'copy-summary' }, 'Copy summary for a reply')
  copy.addEventListener('click', () => {
    copy.disabled = true
    void ctx.api.summaryText(seriesId, { base: compare.base.label, head: compare.head.label })
      .then(text => copyText(text, fallback))
      .then(ok => { copy.textContent = ok ? 'Copied ✓' : 'Select the text below and copy it' })
      .catch((err: Error) => { copy.textContent = `Could not fetch the summary: ${err.message}` })
      .finally(() => { copy.disabled = false })
  })
  return [
    h('p', { class: 'compare-head' },
      h('strong', null, `${compare.base.label} → ${compare.head.label}`),
      compare.machine ? ` on ${compare.machine}` : '',
      h('span', { class: 'muted' }, ` (${compare.base.machines.length} / ${compare.head.machines.length} machines) `),
      h('a', { href: compareHref(null) }, 'full comparison'), ' · ',
      h('a', { href: apiPaths.compare(seriesId, params) }, '{ } JSON'), ' · ',
      h('a', { href: apiPaths.summaryText(seriesId, { base: compare.base.label, head: compare.head.label }) }, 'summary.txt')),
    compare.delta
      ? h('p', { class: 'delta-summary' }, `The series' patches: ${compare.delta.summary} `, h('a', { href: `${compareHref(null)}#patch-delta` }, 'which patches'))
      : h('span'),
    bucketChips(compare, compareHref),
    compareNotes(compare) ?? h('span'),
    compareTable(compare, seriesId),
    shown < total ? h('p', null, h('a', { href: compareHref(null) }, `All ${total} changes on the comparison page →`)) : h('span'),
    h('p', null, copy),
    fallback,
  ]
}

