import { STATUSES, type Status } from '../../ingest/vocabulary.ts'
import { h } from './dom.ts'

export { STATUSES, type Status }

/**
 * Each status has a glyph and a letter besides its colour, so that it reads the same for
 * colour-blind readers and in a black-and-white printout.
 */
export const STATUS_GLYPH: Readonly<Record<Status, string>> = {
  pass: '✓',
  fail: '✗',
  skip: '–',
  xfail: '⊘',
  xpass: '!',
  timeout: '◔',
  error: '‼',
}

/** Tests a plan promised that never ran, and a version whose runs stopped early. */
export const NOT_RUN_GLYPH = '◌'
export const INCOMPLETE_GLYPH = '⚠'
/** Kernel trouble (WARNING, BUG, Oops, panic, RCU stall, call trace) or a false pass in a cell. */
export const TROUBLE_GLYPH = '⚡'
/** A failure a known issue explains (server/domain/known-issues.ts). */
export const KNOWN_GLYPH = '⚑'
/** A failure of the harness or the lab, not the kernel (queries/verdict.ts infrastructureEvidence). */
export const INFRASTRUCTURE_GLYPH = '⚙'
/** Runs of one machine that disagree, and machines that disagree with each other. */
export const FLAKY_GLYPH = '~'
export const MACHINE_SPECIFIC_GLYPH = '◐'

export const STATUS_LABEL: Readonly<Record<Status, string>> = {
  pass: 'pass',
  fail: 'fail',
  skip: 'skip',
  xfail: 'expected fail',
  xpass: 'unexpected pass',
  timeout: 'timeout',
  error: 'error',
}

/** Worst first, as the parser ranks them. */
const SEVERITY: readonly Status[] = ['error', 'timeout', 'fail', 'xpass', 'skip', 'xfail', 'pass']

export function worstOf (counts: Partial<Record<Status, number>>): Status | null {
  return SEVERITY.find(status => (counts[status] ?? 0) > 0) ?? null
}

export function isFailing (status: Status): boolean {
  return status === 'fail' || status === 'xpass' || status === 'timeout' || status === 'error'
}

/** `✓ pass`, coloured by class. */
export function statusBadge (status: Status | null, suffix = ''): HTMLElement {
  if (status === null) return h('span', { class: 'status status-absent', title: 'absent' }, '∅ absent')
  return h('span', { class: `status status-${status}`, title: STATUS_LABEL[status] }, `${STATUS_GLYPH[status]} ${status}${suffix}`)
}

/** The glyph alone, for dense places (matrix cells, history grid), with the word for screen readers. */
export function statusGlyph (status: Status, title?: string): HTMLElement {
  return h('span', { class: `glyph status-${status}`, title: title ?? STATUS_LABEL[status], aria: { label: title ?? STATUS_LABEL[status] } }, STATUS_GLYPH[status])
}

export function plural (count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`
}

export function percent (ratio: number | null): string {
  return ratio === null ? '–' : `${(ratio * 100).toFixed(1)}%`
}

export function shortDate (iso: string | null): string {
  if (!iso) return '–'
  return iso.slice(0, 16).replace('T', ' ')
}

export function formatBytes (bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

/** `collection: test › sub › subsub` */
export function testTitle (collection: string, test: string, path: readonly string[] = []): string {
  return [`${collection}: ${test}`, ...path].join(' › ')
}
