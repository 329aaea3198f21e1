import type { MatrixResponse } from './api.ts'
import { testPageHref } from './compare-view.ts'
import { h } from './dom.ts'
import { knownIssueForm } from './known-issue-form.ts'
import { FLAKY_GLYPH, KNOWN_GLYPH, MACHINE_SPECIFIC_GLYPH, STATUSES, STATUS_GLYPH, STATUS_LABEL, TROUBLE_GLYPH, isFailing, worstOf, type Status } from './format.ts'

type Row = MatrixResponse['rows'][number]
type Cell = NonNullable<Row['cells'][number]>
/** A row with the machine sets of the page it came in: cells number them per page. */
interface PageRow { row: Row, machineSets: MatrixResponse['machineSets'] }

/**
 * What a cell shows: its worst status; `~` (flaky) when runs on one machine disagree; `◐`
 * (machine-specific) when it fails on some machines and passes on others, with failing/all machines
 * beside it; a pass and a skip side by side when some machines skipped it; and `⚡` on top of any of
 * them when a result showed kernel trouble or a false pass.
 */
function cellLook (cell: Cell): { glyph: string, cls: string, count: string | null } {
  const worst = worstOf(cell)!
  const failing = cell.fail + cell.xpass + cell.timeout + cell.error
  if (cell.mixedMachines > 0) return { glyph: FLAKY_GLYPH, cls: 'mixed flaky', count: `${failing}/${cell.total}` }
  if (cell.failingMachines > 0 && cell.passingMachines > 0) {
    return { glyph: MACHINE_SPECIFIC_GLYPH, cls: 'mixed machine-specific', count: `${cell.failingMachines}/${cell.machines}` }
  }
  if (!isFailing(worst) && cell.skip > 0 && cell.pass + cell.xfail > 0) {
    // skips must not hide passes, nor passes skips
    return { glyph: `${STATUS_GLYPH.pass}${STATUS_GLYPH.skip}`, cls: 'status-pass with-skip', count: cell.total > 1 ? String(cell.total) : null }
  }
  return { glyph: STATUS_GLYPH[worst], cls: `status-${worst}`, count: cell.total > 1 ? String(cell.total) : null }
}

function cellTitle (row: Row, version: string, cell: Cell, machines: readonly string[]): string {
  const counts = STATUSES.filter(s => cell[s] > 0).map(s => `${cell[s]} ${STATUS_LABEL[s]}`).join(', ')
  const name = row.path.length ? row.path.join(' › ') : row.test
  const notes = [
    cell.mixedMachines > 0 ? `flaky: runs on ${cell.mixedMachines} ${cell.mixedMachines === 1 ? 'machine' : 'machines'} disagree` : '',
    cell.mixedMachines === 0 && cell.failingMachines > 0 && cell.passingMachines > 0 ? `machine-specific: fails on ${cell.failingMachines} of ${cell.machines} machines` : '',
    cell.trouble > 0 ? `kernel trouble or a false pass in ${cell.trouble} ${cell.trouble === 1 ? 'result' : 'results'}` : '',
    cell.known > 0 ? `${cell.explained ? 'known: ' : 'partly known: '}a known issue explains ${cell.known} ${cell.known === 1 ? 'result' : 'results'}` : '',
  ].filter(Boolean)
  return `${name} in ${version}: ${cell.total} ${cell.total === 1 ? 'result' : 'results'} on ${cell.machines} ${cell.machines === 1 ? 'machine' : 'machines'} (${machines.join(', ')}): ${counts}${notes.map(note => `; ${note}`).join('')}`
}

/**
 * The test × version heatmap. Subtest rows fold under their test (closed at first: a big series has
 * thousands); each cell says its counts on hover and focus, and links to the test's history.
 */
export class MatrixView {
  readonly element: HTMLElement
  private readonly body: HTMLTableSectionElement
  private readonly versions: MatrixResponse['versions']
  /** subtest rows of each test: kept as data until first unfolded, so a big matrix costs only its test rows */
  private readonly children = new Map<HTMLTableRowElement, { rows: PageRow[], built: HTMLTableRowElement[] | null }>()
  /** Where "mark as known" from a failing cell opens its form, under the matrix. */
  private readonly triagePanel: HTMLElement

  constructor (first: MatrixResponse, private readonly seriesId: string) {
    this.versions = first.versions
    this.body = h('tbody')
    const head = h('thead', null, h('tr', null,
      h('th', { scope: 'col', class: 'test-col' }, 'Test'),
      ...this.versions.map(v => h('th', { scope: 'col', class: 'version-col' }, v.label))))
    this.triagePanel = h('div', { class: 'matrix-triage' })
    this.element = h('div', null, h('div', { class: 'table-wrap matrix-wrap' }, h('table', { class: 'matrix' }, head, this.body)), this.triagePanel)
    this.add(first)
  }

  /** A page of the matrix, below the rows already shown. */
  add (page: Pick<MatrixResponse, 'rows' | 'machineSets'>): void {
    const fragment = document.createDocumentFragment()
    let parent: HTMLTableRowElement | null = null
    for (const row of page.rows) {
      const entry = { row, machineSets: page.machineSets }
      if (row.path.length > 0 && parent) {
        this.children.get(parent)!.rows.push(entry)
        continue
      }
      parent = this.rowElement(entry)
      this.children.set(parent, { rows: [], built: null })
      fragment.appendChild(parent)
    }
    this.body.appendChild(fragment)
  }

  private rowElement ({ row, machineSets }: PageRow): HTMLTableRowElement {
    const tr = h('tr', { class: row.path.length > 0 ? 'sub' : 'test', data: { depth: String(row.path.length) } })
    tr.appendChild(this.nameCell(row, tr))
    for (const [i, cell] of row.cells.entries()) tr.appendChild(this.cell(row, i, cell, cell === null ? [] : machineSets[cell.machineSet] ?? []))
    return tr
  }

  private unfold (parent: HTMLTableRowElement, open: boolean): void {
    const entry = this.children.get(parent)
    if (!entry) return
    if (entry.built === null) {
      entry.built = entry.rows.map(pageRow => this.rowElement(pageRow))
      parent.after(...entry.built)
    }
    for (const tr of entry.built) tr.hidden = !open
  }

  private nameCell (row: Row, tr: HTMLTableRowElement): HTMLElement {
    const th = h('th', { scope: 'row', class: 'test-col' })
    if (row.path.length === 0 && row.hasSubtests) {
      const toggle = h('button', { type: 'button', class: 'fold', aria: { expanded: 'false', label: `show the subtests of ${row.test}` } }, '▸')
      toggle.addEventListener('click', () => {
        const open = toggle.getAttribute('aria-expanded') !== 'true'
        toggle.setAttribute('aria-expanded', String(open))
        toggle.textContent = open ? '▾' : '▸'
        this.unfold(tr, open)
      })
      th.appendChild(toggle)
    } else if (row.path.length === 0) {
      th.appendChild(h('span', { class: 'fold-space', aria: { hidden: 'true' } }))
    }
    const label = row.path.length === 0 ? `${row.collection}: ${row.test}` : row.path[row.path.length - 1]!
    th.appendChild(h('a', { href: testPageHref(this.seriesId, row), class: 'test-link' }, label))
    return th
  }

  private cell (row: Row, index: number, cell: Cell | null, machines: readonly string[]): HTMLElement {
    const version = this.versions[index]!.label
    if (cell === null) return h('td', { class: 'cell absent', title: `not run in ${version}` }, '')
    const look = cellLook(cell)
    const title = cellTitle(row, version, cell, machines)
    const worst: Status = worstOf(cell)!
    const troubled = cell.trouble > 0
    // partly known: some of the cell's failures are explained, and the rest still wants triage
    const known = cell.explained
    const partlyKnown = cell.known > 0 && !cell.explained
    const failing = isFailing(worst) || cell.failingMachines + cell.mixedMachines > 0
    return h('td', { class: `cell ${look.cls}${failing ? ' failing' : ''}${troubled ? ' troubled' : ''}${known ? ' known' : ''}${partlyKnown ? ' partly-known' : ''}`, title, data: { total: String(cell.total), worst, trouble: String(cell.trouble), known: String(cell.known) } },
      h('a', { href: testPageHref(this.seriesId, row), aria: { label: title } }, look.glyph,
        troubled ? h('span', { class: 'trouble-mark', aria: { hidden: 'true' } }, TROUBLE_GLYPH) : null,
        known || partlyKnown ? h('span', { class: 'known-mark', aria: { hidden: 'true' } }, KNOWN_GLYPH) : null,
        look.count ? h('span', { class: 'n' }, look.count) : null),
      (failing || troubled) && !known ? this.markKnown(row, version, machines, troubled && !failing) : null)
  }

  /** A small button on a failing cell that opens, under the matrix, a known-issue form prefilled from it. */
  private markKnown (row: Row, version: string, machines: readonly string[], troubleOnly: boolean): HTMLElement {
    return h('button', {
      type: 'button',
      class: 'mark-known-cell',
      title: `mark ${row.path.length ? row.path.join(' › ') : row.test} in ${version} as a known issue`,
      aria: { label: `mark as known: ${row.collection} ${row.test} ${row.path.join(' ')} in ${version}` },
      data: { action: 'mark-known' },
      on: {
        click: () => {
          const seed = { collection: row.collection, test: row.test, path: row.path, reason: null, machines, seriesId: Number(this.seriesId), troubleOnly }
          this.triagePanel.replaceChildren(h('h3', null, `Mark as known: ${row.collection}: ${[row.test, ...row.path].join(' › ')} (${version})`),
            knownIssueForm(seed, () => window.location.reload(), () => this.triagePanel.replaceChildren()))
          this.triagePanel.scrollIntoView({ block: 'nearest' })
        },
      },
    }, KNOWN_GLYPH)
  }
}

export function matrixLegend (): HTMLElement {
  return h('p', { class: 'legend small' },
    ...(['pass', 'fail', 'skip', 'timeout', 'error', 'xfail', 'xpass'] as const).map(s => h('span', { class: `legend-item status-${s}` }, `${STATUS_GLYPH[s]} ${STATUS_LABEL[s]}`)),
    h('span', { class: 'legend-item mixed' }, `${FLAKY_GLYPH} flaky: runs on one machine disagree`),
    h('span', { class: 'legend-item mixed' }, `${MACHINE_SPECIFIC_GLYPH} machine-specific: fails on some machines, passes on others`),
    h('span', { class: 'legend-item troubled' }, `${TROUBLE_GLYPH} kernel trouble or a false pass`),
    h('span', { class: 'legend-item known' }, `${KNOWN_GLYPH} a known issue explains the failure (the button on a failing cell marks one)`),
    h('span', { class: 'legend-item' }, 'small number: results in the cell (runs on all machines); failing/all where they disagree'))
}
