import type { CompareResponse } from './api.ts'
import { h } from './dom.ts'
import { statusBadge, testTitle } from './format.ts'

type Entry = CompareResponse['entries'][number]
export type Bucket = Entry['bucket']

export const BUCKET_ORDER: readonly Bucket[] = ['regression', 'fixed', 'still_failing', 'new_failure', 'new', 'missing', 'flaky']

/** Each bucket with a symbol, so the list reads without colour too. */
export const BUCKET_LABEL: Readonly<Record<Bucket, [symbol: string, one: string, many: string]>> = {
  regression: ['▼', 'regression', 'regressions'],
  new_failure: ['✗', 'new failure', 'new failures'],
  missing: ['∅', 'missing', 'missing'],
  fixed: ['▲', 'fixed', 'fixed'],
  still_failing: ['=', 'still failing', 'still failing'],
  new: ['+', 'new', 'new'],
  flaky: ['~', 'flaky', 'flaky'],
}

export function bucketName (bucket: Bucket, count: number): string {
  const [symbol, one, many] = BUCKET_LABEL[bucket]
  return `${symbol} ${count} ${count === 1 ? one : many}`
}

/** The bucket counts of a comparison, regressions first; each links to its bucket on the comparison page. */
export function bucketChips (compare: CompareResponse, hrefFor: (bucket: Bucket | null) => string, active: Bucket | null = null): HTMLElement {
  const chips = BUCKET_ORDER.filter(bucket => compare.counts[bucket] > 0 || bucket === active).map(bucket =>
    h('a', { class: `chip bucket bucket-${bucket}`, href: hrefFor(bucket), data: { bucket, count: String(compare.counts[bucket]) }, aria: active === bucket ? { current: 'true' } : undefined },
      bucketName(bucket, compare.counts[bucket])))
  return h('p', { class: 'bucket-chips' },
    ...chips,
    h('span', { class: 'chip muted', data: { bucket: 'unchanged', count: String(compare.counts.unchanged) } }, `${compare.counts.unchanged} unchanged`),
    active ? h('a', { class: 'chip', href: hrefFor(null) }, 'show all') : null,
  )
}

export function testPageHref (seriesId: number | string, entry: { collection: string, test: string, path: readonly string[] }): string {
  const query = new URLSearchParams({ collection: entry.collection, test: entry.test })
  for (const name of entry.path) query.append('subtest', name)
  query.set('series', String(seriesId))
  return `/tests?${query.toString()}`
}

function side (s: Entry['base']): HTMLElement {
  const counts = s.counts
  const mixed = s.status !== null && counts.total > 1 && counts.pass > 0 && counts.pass < counts.total
  return h('span', { class: 'side' }, statusBadge(s.status, counts.total > 1 ? ` ×${counts.total}` : ''), mixed ? h('span', { class: 'muted small' }, ` (${counts.pass} pass)`) : null)
}

/** One row per entry: what changed, where, and links to the test's history and to the log lines. */
export function compareTable (compare: CompareResponse, seriesId: number | string): HTMLElement {
  if (compare.entries.length === 0) {
    return h('p', { class: 'muted' }, `Nothing changed between ${compare.base.label} and ${compare.head.label}: every test has the same outcome on both.`)
  }
  const rows = compare.entries.map(entry => {
    const headRun = entry.head.runs[0]
    const baseRun = entry.base.runs[0]
    return h('tr', { class: `bucket-row bucket-${entry.bucket}`, data: { bucket: entry.bucket } },
      h('td', null, h('span', { class: `chip bucket bucket-${entry.bucket}` }, BUCKET_LABEL[entry.bucket][0], ' ', BUCKET_LABEL[entry.bucket][1])),
      h('th', { scope: 'row' }, h('a', { href: testPageHref(seriesId, entry), class: 'test-link' }, testTitle(entry.collection, entry.test, entry.path))),
      h('td', null, entry.machine, entry.sameMachine ? null : h('span', { class: 'warn small', title: 'this machine ran only one of the two versions: the other side counts every machine that ran it' }, ' ⚠ machines differ')),
      h('td', null, side(entry.base), baseRun ? h('a', { class: 'log-link small', href: baseRun.url, title: `${compare.base.label} log lines ${baseRun.lines[0]}-${baseRun.lines[1]}` }, ' log') : null),
      h('td', { class: 'arrow', aria: { hidden: 'true' } }, '→'),
      h('td', null, side(entry.head), headRun ? h('a', { class: 'log-link small', href: headRun.url, title: `${compare.head.label} log lines ${headRun.lines[0]}-${headRun.lines[1]}` }, ' log') : null),
    )
  })
  return h('div', { class: 'table-wrap' }, h('table', { class: 'compare' },
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Change'), h('th', { scope: 'col' }, 'Test'), h('th', { scope: 'col' }, 'Machine'),
      h('th', { scope: 'col' }, compare.base.label), h('th', { scope: 'col', aria: { label: 'to' } }, ''), h('th', { scope: 'col' }, compare.head.label))),
    h('tbody', null, ...rows)))
}
