import { apiPaths } from '../api.ts'
import { h, replace } from '../dom.ts'
import { shortDate } from '../format.ts'
import { fill, inBatches, pageHeader, setTitle, type PageContext } from '../page.ts'
import { firstRunGuide } from './series-list.ts'

/** How many series the versions column looks into: it costs one trend request per series and machine. */
const SERIES_SCANNED = 20

export async function machinesPage (ctx: PageContext): Promise<void> {
  setTitle('Machines')
  const params = { limit: ctx.url.searchParams.get('limit') ?? undefined, cursor: ctx.url.searchParams.get('cursor') ?? undefined }
  const list = await ctx.api.machines(params)
  const header = pageHeader('Machines', apiPaths.machines(params))
  if (list.machines.length === 0 && !params.cursor) {
    replace(ctx.main, header, h('p', null, 'No machine has uploaded a run yet.'), firstRunGuide())
    return
  }
  const versionCells = new Map<string, HTMLElement>()
  const rows = list.machines.map(m => {
    const cell = h('td', { class: 'versions' })
    versionCells.set(m.name, cell)
    return h('tr', { data: { machine: m.name } },
      h('th', { scope: 'row' }, m.name),
      h('td', null, m.arch ?? '–'),
      h('td', { class: 'small' }, m.cpu ?? '–'),
      h('td', null, m.flags.length ? m.flags.map(f => h('span', { class: 'flag' }, f)) : h('span', { class: 'muted' }, 'none')),
      h('td', { class: 'small' }, m.kernel ?? '–'),
      h('td', { class: 'num', data: { field: 'runs' } }, m.runs),
      h('td', { class: 'small' }, shortDate(m.lastSeenAt), h('div', { class: 'muted' }, `since ${shortDate(m.firstSeenAt)}`)),
      cell)
  })
  replace(ctx.main, header,
    h('div', { class: 'table-wrap' }, h('table', { class: 'machines' },
      h('thead', null, h('tr', null, ...['Machine', 'Arch', 'CPU', 'Flags', 'Latest kernel', 'Runs', 'Last upload', 'Versions run'].map(c =>
        h('th', { scope: 'col', class: c === 'Runs' ? 'num' : undefined }, c)))),
      h('tbody', null, ...rows))),
    list.nextCursor ? h('p', null, h('a', { href: `/machines?cursor=${encodeURIComponent(list.nextCursor)}` }, 'More machines →')) : null,
  )
  // the machine list does not say which versions ran where; each series' trend, narrowed to the machine, does
  const series = (await ctx.api.seriesList({ limit: SERIES_SCANNED })).series
  await inBatches([...versionCells.entries()], 2, ([machine, cell]) => fill(cell, async () => {
    const found = await inBatches(series, 3, async s => {
      const trend = await ctx.api.trend(String(s.id), { machine })
      return { series: s, labels: trend.versions.filter(v => v.runs > 0).map(v => v.label) }
    })
    const ran = found.filter(f => f.labels.length > 0)
    if (ran.length === 0) return h('span', { class: 'muted' }, 'none of the recent series')
    return ran.map(f => h('div', null,
      h('a', { href: `/series/${f.series.id}?machine=${encodeURIComponent(machine)}`, title: f.series.name }, shorten(f.series.name, 40)), ': ',
      h('span', { class: 'labels' }, f.labels.join(' '))))
  }))
}

function shorten (text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}
