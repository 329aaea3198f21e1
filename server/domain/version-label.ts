/**
 * Version labels of a patch series: `v1`..`v10`, `base` for the unpatched tree, and labels such as
 * `RFC v2` or `RFC PATCH v3`. They sort by their number, RFC before the plain one; `base` comes
 * first and labels without a number come last.
 */

import { refusedCharacterProblem } from './identifier-text.ts'

export const BASE_VERSION = 'base'
const MAX_LABEL = 64

/**
 * The one spelling of a label: `7`, `V7`, `v07` and the full-width `ｖ7` are all `v7` (NFKC folds
 * compatibility forms; a version number has no leading zeros).
 */
export function normalizeVersionLabel (raw: string): string {
  const label = raw.normalize('NFKC').trim().replace(/\s+/g, ' ')
  const numbered = /^v?(\d+)$/i.exec(label)
  if (numbered) return `v${numbered[1]!.replace(/^0+(?=\d)/, '')}`
  if (label.toLowerCase() === BASE_VERSION) return BASE_VERSION
  return label
}

/** Why a label cannot be used, or null when it can. */
export function versionLabelProblem (label: string): string | null {
  if (label === '') return 'is empty'
  if (label.length > MAX_LABEL) return `is longer than ${MAX_LABEL} characters`
  return refusedCharacterProblem(label)
}

export function versionSortKey (label: string): number {
  if (label === BASE_VERSION) return -1
  const m = /(?:^|[^a-z0-9])v(\d+)\b/i.exec(label) ?? /^(\d+)$/.exec(label)
  if (!m) return 1e9
  const rfc = /\bRFC\b/i.test(label)
  return Number(m[1]) + (rfc ? 0 : 0.5)
}
