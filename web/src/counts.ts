import { h } from './dom.ts'
import { STATUSES, STATUS_GLYPH, STATUS_LABEL, type Status } from './format.ts'

type Counts = Record<Status, number> & { total: number }

/** Non-zero counts as `✓ 20 pass · ✗ 2 fail`, each with its glyph; `data-status` lets tests read them. */
export function countChips (counts: Counts, options: { all?: boolean } = {}): HTMLElement {
  const shown = STATUSES.filter(status => options.all || counts[status] > 0)
  return h('span', { class: 'counts' },
    shown.length === 0 ? h('span', { class: 'muted' }, 'no results') : null,
    ...shown.map(status => h('span', { class: `chip status-${status}`, title: `${counts[status]} ${STATUS_LABEL[status]}`, data: { status, count: String(counts[status]) } },
      `${STATUS_GLYPH[status]} ${counts[status]} ${status}`)))
}

/** A code block with a copy button: for the commands the empty states teach. */
export function commandBlock (command: string): HTMLElement {
  const code = h('code', null, command)
  const button = h('button', { type: 'button', class: 'copy', title: 'copy the command' }, 'Copy')
  button.addEventListener('click', () => {
    void copyText(command).then(ok => { button.textContent = ok ? 'Copied' : 'Select and copy' })
  })
  return h('div', { class: 'command' }, h('pre', null, code), button)
}

/** The clipboard API needs a secure context; elsewhere the text is selected for the reader to copy. */
export async function copyText (value: string, fallbackTarget?: HTMLTextAreaElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(value)
    return true
  } catch {
    if (fallbackTarget) {
      fallbackTarget.value = value
      fallbackTarget.hidden = false
      fallbackTarget.select()
    }
    return false
  }
}
