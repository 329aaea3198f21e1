import { apiPaths, type HistoryResponse } from '../api.ts'
import { countChips } from '../counts.ts'
import { h, replace } from '../dom.ts'
import { KNOWN_GLYPH, statusBadge, statusGlyph, testTitle } from '../format.ts'
import { pageHeader, section, setTitle, type PageContext } from '../page.ts'

type Entry = HistoryResponse['entries'][number]

/** One test (or subtest) across every version, machine and run, with the reasons its logs gave. */
export async function testPage (ctx: PageContext): Promise<void> {
  const q = ctx.url.searchParams
  const collection = q.get('collection')
  const test = q.get('test')
  if (!collection || !test) {
    setTitle('Test')
    replace(ctx.main, pageHeader('Test history', null),
      h('p', null, 'Pick a test from a series page; this page needs ', h('code', null, '?collection=…&test=…'), '.'))
    return
  }
  const params = {
    collection, test, subtest: q.getAll('subtest'), series: q.get('series') ?? undefined, machine: q.get('machine') ?? undefined,
    limit: q.get('limit') ?? undefined, cursor: q.get('cursor') ?? undefined,
  }
  const history = await ctx.api.history(params)
  const title = testTitle(history.collection, history.test, history.path)
  setTitle(title)
  const seriesNames = new Map(history.entries.map(e => [e.series.id, e.series.name]))
  const crumbSeries = params.series ? history.entries[0]?.series : undefined
  const nextHref = history.nextCursor ? `/tests?${new URLSearchParams([...q.entries()].filter(([k]) => k !== 'cursor').concat([['cursor', history.nextCursor]])).toString()}` : null

  replace(ctx.main,
    crumbSeries ? h('p', { class: 'crumbs' }, h('a', { href: `/series/${crumbSeries.id}` }, crumbSeries.name)) : null,
    pageHeader(title, apiPaths.history(params)),
    h('p', null, countChips(history.counts), ' ',
      h('span', { class: 'muted' }, `over ${seriesNames.size === 1 ? 'one series' : `${seriesNames.size} series`}`,
        params.machine ? ` on ${params.machine}` : '', history.path.length ? '' : ' (the test itself; its subtests have their own pages)')),
    history.entries.length === 0 ? h('p', { class: 'muted' }, 'No results for this test with these filters.') : null,
    knownIssuesNote(history.entries),
    history.entries.length ? section('Across versions and machines', 'grid', historyGrid(history.entries)) : null,
    history.entries.length ? section('Reasons in the logs', 'reasons', reasonsList(history.entries)) : null,
    history.entries.length ? section('Every result', 'results', resultsTable(history.entries)) : null,
    nextHref ? h('p', null, h('a', { href: nextHref }, 'More results →')) : null,
  )
}

/** The known issues that explain some of these results, each with how many, linked to its page. */
function knownIssuesNote (entries: readonly Entry[]): HTMLElement | null {
  const byIssue = new Map<number, { issue: Entry['knownIssues'][number], results: number }>()
  for (const e of entries) for (const issue of e.knownIssues) byIssue.set(issue.id, { issue, results: (byIssue.get(issue.id)?.results ?? 0) + 1 })
  if (byIssue.size === 0) return null
  return h('p', { class: 'known-issues-note' }, `${KNOWN_GLYPH} Known issues: `,
    ...[...byIssue.values()].flatMap(({ issue, results }, i) => [i > 0 ? '; ' : '',
      h('a', { href: `/issues/${issue.id}`, class: 'known-issue-link', data: { issue: String(issue.id) } }, `#${issue.id} ${issue.title}`),
      ` (${results} ${results === 1 ? 'result' : 'results'} here)`]))
}

/** Machines down, versions across (per series), one glyph per run linking to its log lines. */
function historyGrid (entries: readonly Entry[]): HTMLElement {
  const columns: Array<{ key: string, label: string, series: string }> = []
  const seen = new Set<string>()
  for (const e of entries) {
    const key = `${e.series.id}\u0000${e.version.label}`
    if (!seen.has(key)) { seen.add(key); columns.push({ key, label: e.version.label, series: e.series.name }) }
  }
  const machines = [...new Set(entries.map(e => e.machine))].sort()
  const cells = new Map<string, Entry[]>()
  for (const e of entries) {
    const key = `${e.machine}\u0000${e.series.id}\u0000${e.version.label}`
    cells.set(key, [...(cells.get(key) ?? []), e])
  }
  const manySeries = new Set(columns.map(c => c.series)).size > 1
  return h('div', { class: 'table-wrap' }, h('table', { class: 'history-grid' },
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Machine'),
      ...columns.map(c => h('th', { scope: 'col', title: c.series }, manySeries ? `${c.label} (${c.series.slice(0, 20)})` : c.label)))),
    h('tbody', null, ...machines.map(machine => h('tr', null, h('th', { scope: 'row' }, machine),
      ...columns.map(c => {
        const here = cells.get(`${machine}\u0000${c.key}`) ?? []
        return h('td', { class: 'runs' }, ...here.map(e => h('a', { href: e.url, class: 'run-glyph', title: `${c.label} on ${machine}, run ${e.runId}: ${e.status}${e.reason ? `: ${e.reason}` : ''}${e.knownIssues.map(issue => `; known issue #${issue.id} ${issue.title}`).join('')}` },
          statusGlyph(e.status, `${e.status} in run ${e.runId}`))))
      }))))))
}

/** Each distinct reason once, with how often and where it was seen, worst first. */
function reasonsList (entries: readonly Entry[]): HTMLElement {
  const byReason = new Map<string, Entry[]>()
  for (const e of entries) if (e.reason) byReason.set(e.reason, [...(byReason.get(e.reason) ?? []), e])
  if (byReason.size === 0) return h('p', { class: 'muted' }, 'The logs give no reason: every result passed or gave none.')
  return h('ul', { class: 'reasons' }, ...[...byReason.entries()].sort((a, b) => b[1].length - a[1].length).map(([reason, seen]) => {
    const versions = [...new Set(seen.map(e => e.version.label))]
    const machines = [...new Set(seen.map(e => e.machine))]
    const first = seen[0]!
    return h('li', null,
      statusBadge(first.status), ' ', h('code', { class: 'reason' }, reason),
      h('div', { class: 'muted small' }, `${seen.length}× in ${versions.join(', ')} on ${machines.join(', ')} · `,
        h('a', { href: first.url }, `log of run ${first.runId}, lines ${first.lines[0]}-${first.lines[1]}`)))
  }))
}

function resultsTable (entries: readonly Entry[]): HTMLElement {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'results' },
    h('thead', null, h('tr', null, ...['Version', 'Machine', 'Run', 'Kernel', 'Status', 'Reason'].map(c => h('th', { scope: 'col' }, c)))),
    h('tbody', null, ...entries.map(e => h('tr', { data: { run: String(e.runId) } },
      h('td', null, e.version.label),
      h('td', null, e.machine),
      h('td', null, h('a', { href: e.url }, `#${e.runId}`), h('span', { class: 'muted small' }, ` L${e.lines[0]}-${e.lines[1]}`)),
      h('td', { class: 'small' }, e.kernel ?? '–'),
      h('td', null, statusBadge(e.status), e.exitCode !== null ? h('span', { class: 'muted small' }, ` exit=${e.exitCode}`) : null,
        e.timeoutSeconds !== null ? h('span', { class: 'muted small' }, ` after ${e.timeoutSeconds} s`) : null,
        ...e.flags.map(f => h('span', { class: 'flag' }, f))),
      h('td', { class: 'reason' }, e.reason ?? ''))))))
}
