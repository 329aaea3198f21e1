import { apiPaths } from '../api.ts'
import { sparkline } from '../chart.ts'
import { commandBlock, countChips } from '../counts.ts'
import { h, replace } from '../dom.ts'
import { INCOMPLETE_GLYPH, percent, plural, shortDate } from '../format.ts'
import { passRate } from '../../../server/queries/verdict.ts'
import { pageHeader, setTitle, type PageContext } from '../page.ts'

export async function seriesListPage (ctx: PageContext): Promise<void> {
  setTitle('Series')
  const q = ctx.url.searchParams
  const params = { limit: q.get('limit') ?? undefined, cursor: q.get('cursor') ?? undefined, q: q.get('q') ?? undefined }
  const list = await ctx.api.seriesList(params)
  const header = pageHeader('Patch series', apiPaths.seriesList(params))
  if (list.series.length === 0 && !params.cursor && !params.q) {
    ctx.main.replaceChildren(header, firstRunGuide())
    return
  }
  const rows = list.series.map((series) => {
    const latest = series.latestVersion
    const rate = passRate(latest.summary, latest.notRun)
    const others = series.names.filter(name => name !== series.name)
    return h('tr', { data: { series: String(series.id) } },
      h('th', { scope: 'row' }, h('a', { href: series.url }, series.name),
        others.length > 0 ? h('div', { class: 'muted small series-names' }, `also: ${others.join(' · ')}`) : null,
        h('div', { class: 'muted small' }, `${plural(series.versions, 'version')} · ${plural(series.runs, 'run')} · ${plural(series.machines, 'machine')} · since ${shortDate(series.createdAt).slice(0, 10)}`)),
      h('td', { data: { field: 'latest' } }, h('a', { href: series.url }, latest.label),
        h('div', { class: 'muted small' }, `${plural(latest.runs, 'run')} on ${plural(latest.machines, 'machine')}`),
        latest.incompleteRuns > 0
          ? h('div', { class: 'warn small', data: { field: 'incomplete' } }, `${INCOMPLETE_GLYPH} ${plural(latest.incompleteRuns, 'run')} stopped early, ${latest.notRun} not run`)
          : null),
      h('td', { class: 'spark-cell' }, sparkline(series.passRates, ctx.signal)),
      h('td', { class: 'num', data: { field: 'rate' } }, percent(rate)),
      h('td', null, countChips(latest.summary)),
    )
  })
  const search = h('input', { type: 'search', name: 'q', value: params.q ?? '', placeholder: 'any title a series was uploaded under', aria: { label: 'search series by name' } })
  const form = h('form', { class: 'filters series-search', method: 'get', action: '/' }, search, h('button', { type: 'submit' }, 'Search'),
    params.q ? h('a', { href: '/' }, 'all series') : null)
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const text = search.value.trim()
    ctx.navigate(text === '' ? '/' : `/?q=${encodeURIComponent(text)}`)
  })
  replace(ctx.main, header, form,
    list.series.length === 0 ? h('p', { class: 'muted' }, `No series has a name containing “${params.q}”.`) : null,
    h('div', { class: 'table-wrap' }, h('table', { class: 'series-list' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Series'), h('th', { scope: 'col' }, 'Latest'), h('th', { scope: 'col' }, 'Pass rate per version'),
        h('th', { scope: 'col', class: 'num' }, 'Latest pass rate'), h('th', { scope: 'col' }, 'Latest results'))),
      h('tbody', null, ...rows))),
    list.nextCursor ? h('p', null, h('a', { href: `/?${new URLSearchParams({ ...(params.q ? { q: params.q } : {}), cursor: list.nextCursor }).toString()}` }, 'More series →')) : null,
  )
}

/** What a fresh install shows: how to get the first run in, not a blank page. */
export function firstRunGuide (): HTMLElement {
  const origin = location.origin
  return h('div', { class: 'empty-state' },
    h('h2', null, 'No runs yet'),
    h('p', null, 'Run the selftests on a test machine and send the log here. Each upload names its patch series and version (',
      h('code', null, 'base'), ' for the unpatched tree), so versions line up side by side.'),
    h('h3', null, 'From a test machine, with the upload hook (POSIX sh and curl)'),
    h('p', null, 'Make an upload token on the server first: ', h('code', null, 'ksft token create --name my-lab'), ', then export it as ', h('code', null, 'KSFT_TOKEN'), '.'),
    commandBlock(`make -C tools/testing/selftests TARGETS="memfd kvm" run_tests 2>&1 | tee ksft.log\n` +
      `curl -fsS ${origin}/hook.sh | sh -s -- --server ${origin} --series "my series" --version v1 ksft.log`),
    h('h3', null, 'On the server itself'),
    commandBlock('npx ksft ingest ksft.log --series "my series" --version v1 --machine "$(uname -n)" --arch "$(uname -m)" --kernel "$(uname -r)"'),
    h('h3', null, 'Or look around with demo data first'),
    commandBlock('npx ksft demo'),
    h('p', { class: 'muted' }, 'Then reload this page. The API is described at ', h('a', { href: '/docs' }, '/docs'), '.'),
  )
}
