import { apiPaths, type MachineList } from '../api.ts'
import { h, replace } from '../dom.ts'
import { plural, shortDate } from '../format.ts'
import { identityPanel } from '../identity-form.ts'
import { pageHeader, setTitle, type PageContext } from '../page.ts'
import { firstRunGuide } from './series-list.ts'

export async function machinesPage (ctx: PageContext): Promise<void> {
  setTitle('Machines')
  const params = { limit: ctx.url.searchParams.get('limit') ?? undefined, cursor: ctx.url.searchParams.get('cursor') ?? undefined }
  const list = await ctx.api.machines(params)
  const header = pageHeader('Machines', apiPaths.machines(params))
  if (list.machines.length === 0 && !params.cursor) {
    replace(ctx.main, header, h('p', null, 'No machine has uploaded a run yet.'), firstRunGuide())
    return
  }
  const rows = list.machines.map(m => h('tr', { data: { machine: m.name } },
    h('th', { scope: 'row' }, m.name),
    h('td', null, m.arch ?? '–'),
    h('td', { class: 'small' }, m.cpu ?? '–'),
    h('td', null, m.flags.length ? m.flags.map(f => h('span', { class: 'flag' }, f)) : h('span', { class: 'muted' }, 'none')),
    h('td', { class: 'small' }, m.kernel ?? '–'),
    h('td', { class: 'num', data: { field: 'runs' } }, m.runs),
    h('td', { class: 'small' }, shortDate(m.lastSeenAt), h('div', { class: 'muted' }, `since ${shortDate(m.firstSeenAt)}`)),
    h('td', { class: 'versions' }, versionsRun(m),
      identityPanel({ kind: 'machine', name: m.name }, () => { void machinesPage(ctx) }))))
  replace(ctx.main, header,
    h('div', { class: 'table-wrap' }, h('table', { class: 'machines' },
      h('thead', null, h('tr', null, ...['Machine', 'Arch', 'CPU', 'Flags', 'Latest kernel', 'Runs', 'Last upload', 'Versions run'].map(c =>
        h('th', { scope: 'col', class: c === 'Runs' ? 'num' : undefined }, c)))),
      h('tbody', null, ...rows))),
    list.nextCursor ? h('p', null, h('a', { href: `/machines?cursor=${encodeURIComponent(list.nextCursor)}` }, 'More machines →')) : null,
  )
}

/** Each series the machine ran, linked to its page narrowed to the machine, with the version labels. */
function versionsRun (machine: MachineList['machines'][number]): HTMLElement[] {
  // its runs were all deleted by an admin
  if (machine.seriesCount === 0) return [h('span', { class: 'muted' }, 'none')]
  const shown = machine.series.map(s => h('div', { data: { series: String(s.id) } },
    h('a', { href: `/series/${s.id}?machine=${encodeURIComponent(machine.name)}`, title: s.name }, shorten(s.name, 40)), ': ',
    h('span', { class: 'labels' }, s.versions.join(' '))))
  const more = machine.seriesCount - machine.series.length
  if (more > 0) shown.push(h('div', { class: 'muted small' }, `and ${plural(more, 'older series', 'older series')}`))
  return shown
}

function shorten (text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}
