import { COMPARE_BUCKETS, entryWhy, TRIAGED_BUCKETS } from '../../server/queries/verdict.ts'
import type { CompareResponse } from './api.ts'
import { h } from './dom.ts'
import { INFRASTRUCTURE_GLYPH, KNOWN_GLYPH, MACHINE_SPECIFIC_GLYPH, NOT_RUN_GLYPH, TROUBLE_GLYPH, isFailing, statusBadge, testTitle } from './format.ts'
import { markKnownButton } from './known-issue-form.ts'
import { suspectsNote } from './patch-delta-view.ts'

type Entry = CompareResponse['entries'][number]
export type Bucket = Entry['bucket']

export const BUCKET_ORDER: readonly Bucket[] = COMPARE_BUCKETS

/** Each bucket with a symbol, so the list reads without colour too. */
export const BUCKET_LABEL: Readonly<Record<Bucket, [symbol: string, one: string, many: string]>> = {
  regression: ['▼', 'regression', 'regressions'],
  new_failure: ['✗', 'new failure', 'new failures'],
  not_run: [NOT_RUN_GLYPH, 'not run (run stopped early)', 'not run (run stopped early)'],
  new_kernel_trouble: [TROUBLE_GLYPH, 'new kernel trouble', 'new kernel trouble'],
  infrastructure: [INFRASTRUCTURE_GLYPH, 'infrastructure (not the kernel)', 'infrastructure (not the kernel)'],
  known: [KNOWN_GLYPH, 'known issue', 'known issues'],
  still_kernel_trouble: [TROUBLE_GLYPH, 'kernel trouble, as in base', 'kernel trouble, as in base'],
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
export function compareTable (compare: CompareResponse, seriesId: number | string, onTriaged: () => void = () => {}): HTMLElement {
  if (compare.entries.length === 0) {
    return h('p', { class: 'muted' }, `Nothing changed between ${compare.base.label} and ${compare.head.label}: every test has the same outcome on both.`)
  }
  const rows = compare.entries.map(entry => {
    const headRun = entry.head.runs[0]
    const baseRun = entry.base.runs[0]
    return h('tr', { class: `bucket-row bucket-${entry.bucket}`, data: { bucket: entry.bucket } },
      h('td', null, h('span', { class: `chip bucket bucket-${entry.bucket}` }, BUCKET_LABEL[entry.bucket][0], ' ', BUCKET_LABEL[entry.bucket][1])),
      h('th', { scope: 'row' }, h('a', { href: testPageHref(seriesId, entry), class: 'test-link' }, testTitle(entry.collection, entry.test, entry.path))),
      h('td', null, entry.machine, entry.machineSpecific
        ? h('span', { class: 'machine-specific small', title: `in ${compare.head.label} this test fails on some machines and passes on others: the machines differ, not the runs` }, ` ${MACHINE_SPECIFIC_GLYPH} machine-specific`)
        : null),
      h('td', null, side(entry.base), baseRun ? h('a', { class: 'log-link small', href: baseRun.url, title: `${compare.base.label} log lines ${baseRun.lines[0]}-${baseRun.lines[1]}` }, ' log') : null),
      h('td', { class: 'arrow', aria: { hidden: 'true' } }, '→'),
      h('td', null, side(entry.head), headRun ? h('a', { class: 'log-link small', href: headRun.url, title: `${compare.head.label} log lines ${headRun.lines[0]}-${headRun.lines[1]}` }, ' log') : null,
        troubleNote(entry)),
      h('td', { class: 'reason small' }, entryWhy(entry) ?? '', triageCell(entry, compare, onTriaged), suspectsNote(entry, compare)),
    )
  })
  return h('div', { class: 'table-wrap' }, h('table', { class: 'compare' },
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Change'), h('th', { scope: 'col' }, 'Test'), h('th', { scope: 'col' }, 'Machine'),
      h('th', { scope: 'col' }, compare.base.label), h('th', { scope: 'col', aria: { label: 'to' } }, ''), h('th', { scope: 'col' }, compare.head.label),
      h('th', { scope: 'col' }, 'Why'))),
    h('tbody', null, ...rows)))
}

/**
 * What triage says of the entry: the known issues (linked to their pages), the infrastructure
 * evidence, a fix a known issue may share; and, for a failure nobody triaged, "mark as known".
 */
function triageCell (entry: Entry, compare: CompareResponse, onTriaged: () => void): HTMLElement | null {
  const parts: Array<HTMLElement | string> = []
  if (entry.bucket === 'infrastructure') parts.push(`${INFRASTRUCTURE_GLYPH} ${entry.infrastructure ?? 'the harness or the lab failed'}`)
  if (entry.knownIssues.length > 0) {
    parts.push(entry.perhapsFixed ? 'perhaps fixed: ' : entry.bucket === 'known' ? `${KNOWN_GLYPH} ` : 'partly explained by ')
    entry.knownIssues.forEach((issue, i) => {
      if (i > 0) parts.push(', ')
      parts.push(h('a', { href: `/issues/${issue.id}`, class: 'known-issue-link', data: { issue: String(issue.id) } }, `#${issue.id} ${issue.title}`))
    })
  }
  if (entry.triagedFrom !== null) parts.push(` (would be ${entry.triagedFrom.replace(/_/g, ' ')})`)
  const untriaged = TRIAGED_BUCKETS.includes(entry.bucket) && entry.knownIssues.length === 0
  if (parts.length === 0 && !untriaged) return null
  return h('div', { class: 'triage small', data: { triage: entry.bucket } }, ...parts,
    untriaged
      ? markKnownButton({
        collection: entry.collection, test: entry.test, path: entry.path, reason: entryWhy(entry), machines: [entry.machine], seriesId: compare.series.id,
        troubleOnly: entry.head.status !== null && !isFailing(entry.head.status),
      }, onTriaged)
      : null)
}

/** Which kernel trouble the head shows, and whether base showed it already. */
function troubleNote (entry: Entry): HTMLElement | null {
  if (entry.head.kernelTrouble.length === 0) return null
  const fresh = entry.newKernelTrouble
  const text = fresh.length > 0 ? `new: ${fresh.join(', ')}` : `${entry.head.kernelTrouble.join(', ')} (also in base)`
  return h('span', { class: `trouble small${fresh.length > 0 ? ' new' : ''}`, data: { trouble: entry.head.kernelTrouble.join(',') } }, ` ${TROUBLE_GLYPH} ${text}`)
}


/** Machines left out of the comparison, and versions whose runs stopped early, said under the chips. */
export function compareNotes (compare: CompareResponse): HTMLElement | null {
  const notes: string[] = []
  if (compare.unpaired.base.length > 0) notes.push(`Ran only ${compare.base.label}, not compared: ${compare.unpaired.base.join(', ')}.`)
  if (compare.unpaired.head.length > 0) notes.push(`Ran only ${compare.head.label}, not compared: ${compare.unpaired.head.join(', ')}.`)
  if (compare.incomplete.head.length > 0) notes.push(`${compare.head.label} stopped early on ${compare.incomplete.head.join(', ')}: what it never ran is "not run".`)
  if (compare.incomplete.base.length > 0) notes.push(`${compare.base.label} stopped early on ${compare.incomplete.base.join(', ')}.`)
  return notes.length === 0 ? null : h('p', { class: 'compare-notes warn small' }, notes.join(' '))
}
