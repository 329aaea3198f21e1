import { KERNEL_TROUBLE_FLAGS, type Flag } from '../../../ingest/vocabulary.ts'
import { apiPaths, type RunResponse, type RunResults } from '../api.ts'
import { testPageHref } from '../compare-view.ts'
import { countChips } from '../counts.ts'
import { externalLink, h, replace, type Child } from '../dom.ts'
import { INCOMPLETE_GLYPH, formatBytes, isFailing, shortDate, statusBadge } from '../format.ts'
import { LogViewer, parseLineAnchor, type LogSpan } from '../log-viewer.ts'
import { pageHeader, section, setTitle, type PageContext } from '../page.ts'

type TestResult = RunResults['tests'][number]
type SubtestResult = TestResult['subtests'][number]

/** One uploaded log: what ran where, its results as a tree, and the raw log with line anchors. */
export async function runPage (ctx: PageContext, match: RegExpExecArray): Promise<void> {
  const id = Number(match[1])
  const [run, results] = await Promise.all([ctx.api.run(id), ctx.api.results(id)])
  setTitle(`Run ${run.id}: ${run.version.label} on ${run.machine.name}`)
  const spans: LogSpan[] = results.tests.map(t => ({ from: t.lines[0], to: t.lines[1], status: t.status, label: `${t.collection}: ${t.name}` }))
  const viewer = new LogViewer(ctx.api, run.id, run.logLines, spans)
  // the results come a page at a time (a run may hold a million tests): the next page on demand
  const tree = new ResultsTree(run.series.id)
  tree.add(results.tests)
  const more = h('p', { class: 'results-more' })
  const offerMore = (page: RunResults): void => {
    replace(more, page.nextCursor === null ? null : [h('button', {
      type: 'button',
      on: {
        click: (event: Event) => {
          const button = event.currentTarget as HTMLButtonElement
          button.disabled = true
          ctx.api.results(run.id, page.nextCursor!).then(next => {
            tree.add(next.tests)
            offerMore(next)
          }, (err: unknown) => {
            button.disabled = false
            button.textContent = `Could not load more tests (${err instanceof Error ? err.message : String(err)}); try again`
          })
        },
      },
    }, `Show more tests (${tree.count} of ${run.summary.total} shown)`)])
  }
  offerMore(results)

  replace(ctx.main,
    h('p', { class: 'crumbs' }, h('a', { href: `/series/${run.series.id}` }, run.series.name), ' › ',
      h('a', { href: `/series/${run.series.id}?head=${encodeURIComponent(run.version.label)}` }, run.version.label)),
    pageHeader(`Run ${run.id}: ${run.version.label} on ${run.machine.name}`, apiPaths.run(run.id)),
    h('p', null, countChips(run.summary)),
    run.completeness.complete ? null : h('div', { class: 'incomplete-note warn', role: 'note', data: { 'not-run': String(run.completeness.notRun) } },
      h('strong', null, `${INCOMPLETE_GLYPH} This run stopped early`),
      run.completeness.notRun > 0 ? ` (${run.completeness.notRun} planned tests never ran)` : '',
      h('ul', null, run.completeness.reasons.map(reason => h('li', null, reason.detail)))),
    metadata(run),
    troubleList(results.tests),
    run.warnings.length ? h('div', { class: 'warnings', role: 'note' }, h('strong', null, 'Parser warnings'),
      h('ul', null, run.warnings.map(w => h('li', null, w))),
      run.warningCount > run.warnings.length ? h('p', { class: 'small muted' }, `${run.warningCount - run.warnings.length} more warnings: see the run's JSON`) : null) : null,
    section('Results', 'results', tree.element, more, h('p', { class: 'small' }, h('a', { href: apiPaths.results(run.id) }, '{ } results JSON'))),
    section('Raw log', 'log', h('p', { class: 'small muted' },
      `${run.logLines} lines, ${formatBytes(run.logBytes)} · `, h('a', { href: apiPaths.logText(run.id) }, 'download log.txt'),
      ' · click a line number to link to it, shift-click for a range'), viewer.element),
  )
  window.addEventListener('hashchange', () => { void viewer.show(parseLineAnchor(location.hash)) }, { signal: ctx.signal })
  await viewer.show(parseLineAnchor(location.hash))
}

function metadata (run: RunResponse): HTMLElement {
  const row = (term: string, ...value: Array<Child | Child[]>) => [h('dt', null, term), h('dd', null, ...value)]
  const flags = run.flags.length ? run.flags : run.machine.flags
  return h('dl', { class: 'meta' },
    ...row('Series', h('a', { href: `/series/${run.series.id}` }, run.series.name)),
    ...row('Version', run.version.label, run.version.loreUrl ? [' · ', externalLink(run.version.loreUrl, 'cover letter on lore')] : null),
    ...row('Machine', run.machine.name, h('span', { class: 'muted' }, ` · ${run.arch ?? run.machine.arch ?? 'arch unknown'}`)),
    ...row('CPU', run.cpu ?? run.machine.cpu ?? '–'),
    ...row('CPU flags', flags.length ? flags.map(f => h('span', { class: 'flag' }, f)) : h('span', { class: 'muted' }, 'none')),
    ...row('Kernel', run.kernel ?? '–'),
    ...row('Commit', run.commit ? h('code', null, run.commit) : '–', run.version.baseCommit ? [h('span', { class: 'muted' }, ' on base '), h('code', null, run.version.baseCommit.slice(0, 12))] : null),
    ...row('Job', run.jobUrl ? externalLink(run.jobUrl, run.jobUrl) : '–'),
    ...row('Started', shortDate(run.startedAt), h('span', { class: 'muted' }, ` · uploaded ${shortDate(run.createdAt)}`)),
    ...row('Plans', run.plans.length === 0 ? '–' : run.plans.map(p => h('span', { class: p.seen < p.planned ? 'plan short' : 'plan' },
      `${p.collection ?? '?'}: ${p.seen} of ${p.planned}${p.seen < p.planned ? ' ⚠' : ''}`)),
    run.planCount > run.plans.length ? h('span', { class: 'muted small' }, ` and ${run.planCount - run.plans.length} more`) : null),
  )
}

function kernelFlags (flags: readonly Flag[]): Flag[] {
  return flags.filter(f => KERNEL_TROUBLE_FLAGS.includes(f))
}

/** Kernel trouble deserves its own line at the top: a panic or warning matters more than any one test. */
function troubleList (tests: readonly TestResult[]): HTMLElement | null {
  const troubled = tests.filter(t => kernelFlags(t.flags).length > 0 || t.flags.includes('false_pass'))
  if (troubled.length === 0) return null
  return h('div', { class: 'trouble', role: 'note' },
    h('strong', null, '⚠ Kernel trouble'),
    h('ul', null, troubled.map(t => h('li', null,
      h('a', { href: `#L${t.lines[0]}-L${t.lines[1]}` }, `${t.collection}: ${t.name}`), ' ',
      ...t.flags.filter(f => KERNEL_TROUBLE_FLAGS.includes(f) || f === 'false_pass').map(f => h('span', { class: 'flag trouble-flag' }, f)),
      ' ', statusBadge(t.status)))))
}

/** The results per collection, grown a page at a time; elements are appended in loops, never spread into one call. */
class ResultsTree {
  readonly element = h('div', { class: 'tree' })
  count = 0
  private readonly collections = new Map<string, { list: HTMLElement, chips: HTMLElement, summary: RunResponse['summary'] }>()

  constructor (private readonly seriesId: number) {}

  add (tests: readonly TestResult[]): void {
    const touched = new Set<string>()
    for (const test of tests) {
      let collection = this.collections.get(test.collection)
      if (!collection) {
        const list = h('ul', null)
        const chips = h('span', null)
        const details = h('details', { class: 'collection' }, h('summary', null, h('strong', null, test.collection), ' ', chips), list)
        details.open = true
        this.element.appendChild(details)
        collection = { list, chips, summary: { total: 0, pass: 0, fail: 0, skip: 0, xfail: 0, xpass: 0, timeout: 0, error: 0 } }
        this.collections.set(test.collection, collection)
      }
      collection.list.appendChild(testItem(test, this.seriesId))
      collection.summary.total++
      collection.summary[test.status]++
      touched.add(test.collection)
      this.count++
    }
    for (const name of touched) {
      const collection = this.collections.get(name)!
      replace(collection.chips, countChips(collection.summary))
    }
  }
}

function testItem (test: TestResult, seriesId: number): HTMLElement {
  const failing = countFailing(test.subtests)
  const line = h('div', { class: 'test-line' },
    statusBadge(test.status), ' ',
    h('a', { href: testPageHref(seriesId, { collection: test.collection, test: test.name, path: [] }), class: 'test-link' }, test.name),
    test.exitCode !== null ? h('span', { class: 'muted small' }, ` exit=${test.exitCode}`) : null,
    test.timeoutSeconds !== null ? h('span', { class: 'muted small' }, ` after ${test.timeoutSeconds} s`) : null,
    ...test.flags.map(f => h('span', { class: `flag${KERNEL_TROUBLE_FLAGS.includes(f) ? ' trouble-flag' : ''}` }, f)),
    ' ', h('a', { class: 'lines small', href: `#L${test.lines[0]}-L${test.lines[1]}` }, `L${test.lines[0]}–${test.lines[1]}`),
    test.subtests.length ? h('span', { class: 'muted small' }, ` · ${test.subtests.length} subtests${failing ? `, ${failing} failing` : ''}`) : null,
    test.reason ? h('div', { class: 'reason small' }, test.reason) : null,
  )
  if (test.subtests.length === 0) return h('li', { data: { test: test.name } }, line)
  const details = h('details', null, h('summary', null, line), subtestList(test, test.subtests, [], seriesId))
  details.open = failing > 0
  return h('li', { data: { test: test.name } }, details)
}

function countFailing (subtests: readonly SubtestResult[]): number {
  return subtests.reduce((n, s) => n + (isFailing(s.status) ? 1 : 0) + countFailing(s.subtests), 0)
}

function subtestList (test: TestResult, subtests: readonly SubtestResult[], path: string[], seriesId: number): HTMLElement {
  return h('ul', { class: 'subtests' }, subtests.map(s => h('li', null,
    statusBadge(s.status), ' ',
    h('a', { href: testPageHref(seriesId, { collection: test.collection, test: test.name, path: [...path, s.name] }), class: 'test-link' }, s.name), ' ',
    h('a', { class: 'lines small', href: `#L${s.lines[0]}-L${s.lines[1]}` }, `L${s.lines[0]}–${s.lines[1]}`),
    s.reason ? h('div', { class: 'reason small' }, s.reason) : null,
    s.subtests.length ? subtestList(test, s.subtests, [...path, s.name], seriesId) : null)))
}
