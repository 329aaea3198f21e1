import { PATCH_CHANGE_DESCRIPTIONS, SUSPECT_EVIDENCE_DESCRIPTIONS, type PatchChange } from '../../server/queries/patch-delta.ts'
import type { CompareResponse } from './api.ts'
import { externalLink, h } from './dom.ts'
import { plural } from './format.ts'

type Delta = NonNullable<CompareResponse['delta']>
type Patch = NonNullable<Delta['entries'][number]['head']>
type Entry = CompareResponse['entries'][number]
type Suspect = NonNullable<Entry['suspects']>[number]

/** Each kind of change with a symbol, so the list reads without colour too. */
export const CHANGE_LABEL: Readonly<Record<PatchChange, [symbol: string, word: string]>> = {
  modified: ['±', 'modified'],
  added: ['+', 'added'],
  dropped: ['−', 'dropped'],
  reordered: ['↕', 'reordered'],
  unchanged: ['=', 'unchanged'],
}

/** Suspects shown beside a failure; the API ranks up to ten, the delta lists every change. */
const SHOWN_SUSPECTS = 3

/** A patch's subject, linked to its mail when its Message-ID is known. */
function subjectOf (patch: Patch): HTMLElement {
  return patch.loreUrl === null
    ? h('span', { class: 'patch-subject' }, patch.subject)
    : externalLink(patch.loreUrl, h('span', { class: 'patch-subject' }, patch.subject))
}

function changeChip (change: PatchChange, moved = false): HTMLElement {
  const [symbol, word] = CHANGE_LABEL[change]
  return h('span', { class: `chip patch-change change-${change}`, title: PATCH_CHANGE_DESCRIPTIONS[change] }, `${symbol} ${word}${moved ? ', moved' : ''}`)
}

function patchRow (entry: Delta['entries'][number]): HTMLElement {
  const patch = (entry.head ?? entry.base)!
  const files = patch.files
  return h('tr', { class: `patch-row change-${entry.change}`, data: { change: entry.change, position: String(patch.position) } },
    h('td', null, changeChip(entry.change, entry.moved)),
    h('td', { class: 'num muted' }, entry.base === null ? '–' : String(entry.base.position), ' → ', entry.head === null ? '–' : String(entry.head.position)),
    h('th', { scope: 'row' }, subjectOf(patch), patch.author === null ? null : h('div', { class: 'muted small' }, patch.author)),
    h('td', { class: 'small files', title: files.join('\n') }, files.length === 1 ? files[0]! : plural(files.length, 'file')))
}

/**
 * What changed in the series between the two versions, above the failures it may explain: the
 * changed patches first, the unchanged ones folded away.
 */
export function deltaBlock (delta: Delta): HTMLElement {
  const changed = delta.entries.filter(entry => entry.change !== 'unchanged')
  const unchanged = delta.entries.filter(entry => entry.change === 'unchanged')
  const table = (entries: Delta['entries']) => h('div', { class: 'table-wrap' }, h('table', { class: 'patches' },
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Change'), h('th', { scope: 'col', class: 'num' }, `${delta.base.label} → ${delta.head.label}`),
      h('th', { scope: 'col' }, 'Patch'), h('th', { scope: 'col' }, 'Files'))),
    h('tbody', null, ...entries.map(patchRow))))
  return h('section', { class: 'patch-delta', id: 'patch-delta', data: { available: String(delta.available) } },
    h('h2', null, `The series' patches, ${delta.base.label} → ${delta.head.label}`),
    h('p', { class: 'delta-summary' }, delta.summary),
    delta.available ? null : h('p', { class: 'muted small' }, 'A version whose runs sent no patch list (the upload hook sends it from the kernel tree) leaves the delta unknown.'),
    changed.length > 0 ? table(changed) : null,
    unchanged.length > 0 ? h('details', { class: 'unchanged-patches' }, h('summary', null, `${plural(unchanged.length, 'patch', 'patches')} unchanged`), table(unchanged)) : null,
  )
}

/** One suspect: the patch, what changed, and the evidence that ties it to the failure. */
function suspectItem (suspect: Suspect): HTMLElement {
  const first = suspect.evidence[0]!
  const why = first.file === null ? SUSPECT_EVIDENCE_DESCRIPTIONS[first.kind] : `${SUSPECT_EVIDENCE_DESCRIPTIONS[first.kind]}: ${first.file}`
  return h('li', { class: `suspect strength-${suspect.strength}`, data: { strength: suspect.strength, position: String(suspect.patch.position) } },
    `[${suspect.patch.position}] `, subjectOf(suspect.patch), ' ', changeChip(suspect.change),
    h('div', { class: 'evidence muted' }, why, suspect.evidence.length > 1 ? ` (and ${plural(suspect.evidence.length - 1, 'more hint')})` : ''))
}

/**
 * Beside a regression, new failure or new kernel trouble: the changed patches most likely behind
 * it (a hint, never a verdict), or that the series did not change between the two versions.
 */
export function suspectsNote (entry: Entry, compare: CompareResponse): HTMLElement | null {
  if (entry.deltaEmpty) {
    return h('div', { class: 'suspects delta-empty small', data: { 'delta-empty': 'true' } },
      `The series' patches are the same in ${compare.base.label} and ${compare.head.label}: the change is not in the series (the base moved, the machine changed, or it is flaky).`)
  }
  const suspects = entry.suspects ?? []
  if (suspects.length === 0) return null
  const more = (entry.suspectCount ?? suspects.length) - Math.min(SHOWN_SUSPECTS, suspects.length)
  return h('div', { class: 'suspects small' },
    h('span', { class: 'hint' }, 'Hint, look first at:'),
    h('ol', null, ...suspects.slice(0, SHOWN_SUSPECTS).map(suspectItem)),
    more > 0 ? h('span', { class: 'muted' }, `and ${plural(more, 'more changed patch', 'more changed patches')}`) : null)
}
