import { CULPRITS, testPathOf } from '../../server/domain/known-issues.ts'
import { adminTokenInput, rememberAdminToken } from './admin-token.ts'
import { ApiError, createIssue } from './api.ts'
import { h } from './dom.ts'
import { KNOWN_GLYPH } from './format.ts'

export interface KnownIssueSeed {
  collection: string
  test: string
  path: readonly string[]
  /** The failure's reason, for the title. */
  reason: string | null
  machines: readonly string[]
  seriesId: number
  /** The result did not fail, only showed kernel trouble: the issue must claim it to match anything. */
  troubleOnly: boolean
}

/**
 * "Mark as known" from a failing test: a form prefilled from it (the test path as the glob, its
 * machines and series as the scope, its reason as the title) that records a known issue through the
 * public API with an admin token. Read-only users see the button and get the API's own refusal.
 */
export function markKnownButton (seed: KnownIssueSeed, onRecorded: () => void): HTMLElement {
  const holder = h('span', { class: 'mark-known' })
  const button = h('button', { type: 'button', class: 'small mark-known-button', data: { action: 'mark-known' }, title: 'record this failure as a known issue' }, `${KNOWN_GLYPH} mark as known`)
  button.addEventListener('click', (event) => {
    event.preventDefault()
    event.stopPropagation()
    if (holder.querySelector('form')) return
    holder.appendChild(knownIssueForm(seed, () => { holder.replaceChildren(); onRecorded() }, () => holder.replaceChildren(button)))
    button.remove()
  })
  holder.appendChild(button)
  return holder
}

export function field (label: string, input: HTMLElement): HTMLElement {
  return h('label', { class: 'field small' }, h('span', null, label), input)
}

export function knownIssueForm (seed: KnownIssueSeed, onRecorded: () => void, onCancel: () => void): HTMLFormElement {
  const testPath = testPathOf(seed.collection, seed.test, seed.path)
  const firstLine = seed.reason?.split('\n', 1)[0]?.trim() ?? ''
  const title = h('input', { name: 'title', value: `${testPath}: ${firstLine || 'fails'}`.slice(0, 300) })
  const glob = h('input', { name: 'testGlob', value: testPath })
  const reasonRegex = h('input', { name: 'reasonRegex', placeholder: 'optional regular expression on the reason' })
  const url = h('input', { name: 'url', placeholder: 'https://… bug report or lore thread' })
  const machines = h('input', { name: 'machines', value: seed.machines.join(', '), placeholder: 'every machine' })
  const kernelTrouble = h('input', { name: 'kernelTrouble', type: 'checkbox', checked: seed.troubleOnly })
  const culprit = h('select', { name: 'culprit' }, ...CULPRITS.map(name => h('option', { value: name, selected: name === 'unknown' }, name)))
  const token = adminTokenInput()
  const status = h('p', { class: 'form-status small', role: 'status' })
  const form = h('form', { class: 'known-issue-form', data: { testPath } },
    field('Title', title), field('Test glob', glob), field('Reason regex', reasonRegex), field('URL', url),
    field('Machines', machines), field('Culprit', culprit),
    field('Kernel trouble', h('span', null, kernelTrouble, ' also explains WARNING, BUG, Oops in these results (unchecked, a new one stays the series\' to answer for)')),
    field('Admin token', token),
    h('button', { type: 'submit' }, 'Record known issue'), ' ',
    h('button', { type: 'button', on: { click: onCancel } }, 'Cancel'),
    status)
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const value = (input: HTMLInputElement | HTMLSelectElement) => input.value.trim()
    rememberAdminToken(value(token))
    const machineList = value(machines).split(',').map(name => name.trim()).filter(name => name !== '')
    status.textContent = 'Recording…'
    createIssue({
      title: value(title),
      url: value(url) || null,
      culprit: value(culprit) as (typeof CULPRITS)[number],
      matcher: { testGlob: value(glob), reasonRegex: value(reasonRegex) || null, kernelTrouble: kernelTrouble.checked },
      scope: { series: [seed.seriesId], machines: machineList },
    }, value(token)).then(issue => {
      status.textContent = `Recorded known issue #${issue.id}: it matched ${issue.matchedResults} ${issue.matchedResults === 1 ? 'result' : 'results'}.`
      onRecorded()
    }, (err: unknown) => {
      status.textContent = err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)
      status.classList.add('warn')
    })
  })
  return form
}
