/**
 * Version labels of a patch series: `v1`..`v10`, `base` for the unpatched tree, and labels such as
 * `RFC v2` or `RFC PATCH v3`. They sort by their number, RFC before the plain one; `base` comes
 * first and labels without a number come last.
 */

export const BASE_VERSION = 'base'
const MAX_LABEL = 64

export function normalizeVersionLabel (raw: string): string {
  const label = raw.trim().replace(/\s+/g, ' ')
  if (/^\d+$/.test(label)) return `v${label}`
  if (/^v\d+$/i.test(label)) return label.toLowerCase()
  if (label.toLowerCase() === BASE_VERSION) return BASE_VERSION
  return label
}

/** Why a label cannot be used, or null when it can. */
export function versionLabelProblem (label: string): string | null {
  if (label === '') return 'is empty'
  if (label.length > MAX_LABEL) return `is longer than ${MAX_LABEL} characters`
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(label)) return 'contains control characters'
  return null
}

export function versionSortKey (label: string): number {
  if (label === BASE_VERSION) return -1
  const m = /(?:^|[^a-z0-9])v(\d+)\b/i.exec(label) ?? /^(\d+)$/.exec(label)
  if (!m) return 1e9
  const rfc = /\bRFC\b/i.test(label)
  return Number(m[1]) + (rfc ? 0 : 0.5)
}
