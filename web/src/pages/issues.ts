import { apiPaths, type IssueList } from '../api.ts'
import { h, replace } from '../dom.ts'
import { KNOWN_GLYPH, shortDate } from '../format.ts'
import { pageHeader, section, setTitle, type PageContext } from '../page.ts'

type Issue = IssueList['issues'][number]

function matcherText (issue: Issue): string {
  const m = issue.matcher
  return [
    m.testGlob,
    m.reasonRegex === null ? '' : `reason ~ /${m.reasonRegex}/`,
    m.logRegex === null ? '' : `log ~ /${m.logRegex}/`,
    m.exitCode === null ? '' : `exit ${m.exitCode}`,
    m.statuses.length === 0 ? '' : m.statuses.join('|'),
  ].filter(Boolean).join(', ')
}

function scopeText (issue: Issue): string {
  const s = issue.scope
  const parts = [
    s.series.length === 0 ? '' : `series ${s.series.join(', ')}`,
    s.machines.length === 0 ? '' : s.machines.join(', '),
    s.arch ?? '',
    s.cpuFlags.length === 0 ? '' : `flags ${s.cpuFlags.join('+')}`,
    s.kernelGlob === null ? '' : `kernel ${s.kernelGlob}`,
    s.versionsFrom === null && s.versionsTo === null ? '' : `versions ${s.versionsFrom ?? '…'}..${s.versionsTo ?? '…'}`,
  ].filter(Boolean)
  return parts.length === 0 ? 'everywhere' : parts.join('; ')
}

function titleLink (issue: Issue): HTMLElement {
  return h('span', null, h('a', { href: `/issues/${issue.id}` }, `#${issue.id} ${issue.title}`),
    issue.url === null ? null : h('span', { class: 'small' }, ' (', h('a', { href: issue.url, class: 'external' }, 'report'), ')'))
}

/** Every known issue, active first: what it matches, where, and how much. */
export async function issuesPage (ctx: PageContext): Promise<void> {
  setTitle('Known issues')
  const list = await ctx.api.issues()
  const header = pageHeader(`${KNOWN_GLYPH} Known issues`, apiPaths.issues())
  if (list.issues.length === 0) {
    replace(ctx.main, header, h('p', null, 'No known issue is recorded. Mark a failure as known from a comparison or the heatmap (an admin token is needed), or with ',
      h('code', null, 'ksft issue add'), '.'))
    return
  }
  const rows = list.issues.map(issue => h('tr', { class: issue.active ? 'active' : 'resolved muted', data: { issue: String(issue.id) } },
    h('th', { scope: 'row' }, titleLink(issue)),
    h('td', null, issue.active ? 'active' : `resolved ${shortDate(issue.resolvedAt!)}`),
    h('td', null, issue.culprit, issue.intermittent ? h('span', { class: 'muted small' }, ' (intermittent)') : null),
    h('td', { class: 'small' }, h('code', null, matcherText(issue))),
    h('td', { class: 'small' }, scopeText(issue)),
    h('td', { class: 'num', data: { field: 'matched' } }, issue.matchedResults)))
  replace(ctx.main, header,
    h('div', { class: 'table-wrap' }, h('table', { class: 'issues' },
      h('thead', null, h('tr', null, ...['Issue', 'State', 'Culprit', 'Matcher', 'Scope', 'Results matched'].map(c => h('th', { scope: 'col' }, c)))),
      h('tbody', null, ...rows))))
}

/** One known issue: its matches per version and machine, where it is perhaps fixed, and its audit trail. */
export async function issuePage (ctx: PageContext, match: RegExpExecArray): Promise<void> {
  const id = Number(match[1])
  const detail = await ctx.api.issue(id)
  const issue = detail.issue
  setTitle(`#${issue.id} ${issue.title}`)
  replace(ctx.main,
    h('p', { class: 'crumbs' }, h('a', { href: '/issues' }, 'Known issues')),
    pageHeader(`${KNOWN_GLYPH} #${issue.id} ${issue.title}`, apiPaths.issue(id)),
    h('p', null, issue.active ? 'Active' : `Resolved ${shortDate(issue.resolvedAt!)}`, ` · culprit: ${issue.culprit}`,
      issue.intermittent ? ' · intermittent' : '', issue.url === null ? null : h('span', null, ' · ', h('a', { href: issue.url }, issue.url))),
    h('p', null, 'Matches ', h('code', null, matcherText(issue)), `; scope: ${scopeText(issue)}.`),
    detail.perhapsFixed.length === 0 ? null : section('Perhaps fixed', 'perhaps-fixed',
      h('ul', null, ...detail.perhapsFixed.map(place => h('li', { data: { machine: place.machine } },
        h('a', { href: `/series/${place.seriesId}/compare?base=${encodeURIComponent(place.lastMatchedVersion)}&head=${encodeURIComponent(place.version)}&machine=${encodeURIComponent(place.machine)}` },
          `${place.series}: on ${place.machine}, ${place.version} passes where ${place.lastMatchedVersion} matched`))))),
    section('Where it matched', 'matches', detail.matches.length === 0
      ? h('p', { class: 'muted' }, 'Nothing stored matches it.')
      : h('div', { class: 'table-wrap' }, h('table', { class: 'issue-matches' },
        h('thead', null, h('tr', null, ...['Series', 'Version', 'Machine', 'Results', 'Runs'].map(c => h('th', { scope: 'col' }, c)))),
        h('tbody', null, ...detail.matches.map(m => h('tr', null,
          h('td', null, h('a', { href: `/series/${m.seriesId}` }, m.series)), h('td', null, m.version), h('td', null, m.machine),
          h('td', { class: 'num' }, h('a', { href: `/runs/${m.lastRunId}` }, String(m.results))), h('td', { class: 'num' }, m.runs))))))),
    section('History', 'audit', h('ul', { class: 'audit' }, ...detail.audit.map(entry => h('li', null,
      `${shortDate(entry.at)} ${entry.actor} ${entry.action}`,
      Object.keys(entry.changes).length === 0 ? null : h('span', { class: 'small muted' }, `: ${Object.entries(entry.changes).map(([field, change]) => `${field} ${JSON.stringify(change.from)} → ${JSON.stringify(change.to)}`).join('; ')}`))))),
  )
}
