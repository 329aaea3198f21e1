import type { FlakyResponse } from '../api.ts'
import { testPageHref } from '../compare-view.ts'
import { h } from '../dom.ts'
import { testTitle } from '../format.ts'

/** Tests whose runs disagree within a version, with the pass:runs ratio per version (as kernel test robot writes it). */
export function flakyList (flaky: FlakyResponse, seriesId: string): HTMLElement {
  if (flaky.entries.length === 0) {
    return h('p', { class: 'muted' }, 'No flaky tests: every test gave the same result in every run of a version on a machine, and none flipped back and forth.')
  }
  return h('div', { class: 'table-wrap' }, h('table', { class: 'flaky' },
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Test'), h('th', { scope: 'col' }, 'Machine'),
      h('th', { scope: 'col', class: 'num' }, 'Mixed versions'), h('th', { scope: 'col', class: 'num' }, 'Flips'), h('th', { scope: 'col' }, 'Passed:runs per version'))),
    h('tbody', null, ...flaky.entries.map(entry => h('tr', { data: { test: entry.test } },
      h('th', { scope: 'row' }, h('a', { href: testPageHref(seriesId, entry) }, testTitle(entry.collection, entry.test, entry.path))),
      h('td', null, entry.machine),
      h('td', { class: 'num' }, entry.mixedVersions),
      h('td', { class: 'num' }, entry.flips),
      h('td', { class: 'ratios' }, ...entry.versions.map(v => h('span', { class: `ratio${v.mixed ? ' mixed' : v.fail > 0 ? ' failing' : ''}`, title: `${v.version}: ${v.pass} passed, ${v.fail} failed, ${v.skip} skipped of ${v.runs}` },
        `${v.version} ${v.passRatio}${v.mixed ? ' ±' : ''}`))))))))
}
