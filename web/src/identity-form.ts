import type { Static } from 'typebox'
import type { MachineMergeSchema, RenamedSchema, SeriesMergeSchema } from '../../server/schemas/identity.ts'
import { adminTokenInput, rememberAdminToken } from './admin-token.ts'
import { adminPost, ApiError, apiPaths } from './api.ts'
import { h } from './dom.ts'
import { field } from './known-issue-form.ts'

type Renamed = Static<typeof RenamedSchema>
type SeriesMerged = Static<typeof SeriesMergeSchema>
type MachineMerged = Static<typeof MachineMergeSchema>

/** What the panel renames or merges: a series (by id) or a machine (by name). */
export type IdentityTarget = { kind: 'series', id: number, name: string } | { kind: 'machine', name: string }

/**
 * An admin's rename and merge of a series or a machine (docs/series.md), through the public API
 * with the admin token this tab holds. `onDone` gets the page to show afterwards: the renamed one,
 * or the one merged into.
 */
export function identityPanel (target: IdentityTarget, onDone: (href: string) => void): HTMLElement {
  const what = target.kind
  const key = target.kind === 'series' ? String(target.id) : target.name
  const status = h('p', { class: 'form-status small', role: 'status' })
  const failed = (err: unknown) => {
    status.textContent = err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)
    status.classList.add('warn')
  }
  const form = (name: string, label: string, placeholder: string, button: string, submit: (value: string, token: string) => Promise<void>) => {
    const input = h('input', { name, placeholder })
    const token = adminTokenInput()
    const element = h('form', { class: `identity-form ${name}-form`, data: { action: `${what}-${name === 'name' ? 'rename' : 'merge'}` } },
      field(label, input), field('Admin token', token), h('button', { type: 'submit' }, button))
    element.addEventListener('submit', (event) => {
      event.preventDefault()
      status.classList.remove('warn')
      status.textContent = 'Working…'
      rememberAdminToken(token.value.trim())
      submit(input.value, token.value.trim()).catch(failed)
    })
    return element
  }
  const pageOf = (id: number | string) => what === 'series' ? `/series/${id}` : '/machines'
  return h('details', { class: 'identity-admin', data: { kind: what } },
    h('summary', null, `Rename or merge this ${what} (admin)`),
    h('p', { class: 'muted small' }, what === 'series'
      ? 'A rename keeps the old name as a name: uploads under it still land here. A merge moves every version into the other series (the same labels fold together), as if its runs had been uploaded there.'
      : 'A rename or merge keeps the old name: uploads under it land on the machine it became.'),
    form('name', 'New name', target.name, 'Rename', async (name, token) => {
      const { renamed } = await adminPost<Renamed>(what === 'series' ? apiPaths.seriesRename(key) : apiPaths.machineRename(key), { name }, token)
      status.textContent = `Renamed "${renamed.from}" to "${renamed.to}".`
      onDone(pageOf(what === 'series' ? renamed.id : renamed.to))
    }),
    form('into', 'Merge into', what === 'series' ? 'the series that stays: its id or a name' : 'the machine that stays', 'Merge', async (into, token) => {
      if (what === 'series') {
        const { merged } = await adminPost<SeriesMerged>(apiPaths.seriesMerge(key), { into }, token)
        status.textContent = `Merged into "${merged.into.name}": ${merged.runs} runs.`
        onDone(pageOf(merged.into.id))
      } else {
        const { merged } = await adminPost<MachineMerged>(apiPaths.machineMerge(key), { into }, token)
        status.textContent = `Merged into "${merged.into.name}": ${merged.runs} runs.`
        onDone(pageOf(merged.into.name))
      }
    }),
    status)
}
