import { foldIdentifier } from './identifier-text.ts'

/**
 * What makes two uploads the same patch series (docs/series.md). A series is recognized, in this
 * order, by its b4 change-id (`b4 prep` writes it into the cover letter and keeps it for every
 * revision), by the Message-ID of one of its versions' cover letters (the thread a re-spin is sent
 * in reply to, or b4's history of earlier revisions), and by its title. Titles change as a series
 * evolves, so a series keeps every title it was uploaded under as one of its names.
 */

/** How an upload found the series it was stored in: the word the upload's answer and the docs use. */
export const SERIES_MATCHES = ['change_id', 'message_id', 'name', 'other_name', 'folded_name', 'created', 'created_apart'] as const
export type SeriesMatchKind = (typeof SERIES_MATCHES)[number]

export const SERIES_MATCH_DESCRIPTIONS: Record<SeriesMatchKind, string> = {
  change_id: 'its b4 change-id is that series\' change-id',
  message_id: 'its cover letter, or one it names as an earlier version\'s, is a cover letter of that series',
  name: 'its title is that series\' name',
  other_name: 'its title is one of the titles that series was uploaded under before',
  folded_name: 'its title differs from a name of that series only in case or white space',
  created: 'nothing matched: a new series',
  created_apart: 'its title names a series with another change-id: a new series, its name marked with the change-id',
}

/** Matches the uploader may not have expected: the upload's answer says where the run went and why. */
export const NOTED_MATCHES: readonly SeriesMatchKind[] = ['change_id', 'message_id', 'other_name', 'folded_name', 'created_apart']

/**
 * The key a title is looked up by: NFKC, one space for each run of white space, lower case. Two
 * titles with the same key are the same series' name.
 */
export function seriesNameKey (title: string): string {
  return foldIdentifier(title).toLowerCase()
}

/** b4's change-id: `YYYYMMDD-slug-0123456789ab`; anything of that alphabet is accepted. */
const CHANGE_ID = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/
export const CHANGE_ID_EXAMPLE = '20240105-guest-memfd-0123456789ab'

export function changeIdProblem (changeId: string): string | null {
  return CHANGE_ID.test(changeId) ? null : `must be a b4 change-id such as ${CHANGE_ID_EXAMPLE} (letters, digits, . _ + -; at most 128)`
}

/** The name of a series created apart from one with the same title but another change-id. */
export function nameApart (title: string, changeId: string): string {
  return `${title} (${changeId})`
}

/** What the upload's answer says about a noted match. */
export function seriesMatchNote (kind: SeriesMatchKind, sent: string, series: { id: number, name: string }): string {
  const where = `series ${series.id} "${series.name}"`
  switch (kind) {
    case 'change_id': return `stored in ${where}: the b4 change-id is that series'`
    case 'message_id': return `stored in ${where}: the cover letter's Message-ID chain leads there`
    case 'other_name': return `stored in ${where}: "${sent}" is one of its earlier titles`
    case 'folded_name': return `stored in ${where}: "${sent}" differs from its name only in case or white space`
    case 'created_apart': return `stored in a new ${where}: "${sent}" names a series with another b4 change-id`
    default: return `stored in ${where}`
  }
}
