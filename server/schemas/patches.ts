import { Type, type Static } from 'typebox'
import { loreUrl } from '../domain/message-id.ts'
import { PATCH_LIMITS, REPORT_STATES, type SeriesPatch } from '../domain/patch-list.ts'
import { Nullable } from './common.ts'

/**
 * The series' patches of a version (docs/series.md): what the hook and `ksft upload` send after a
 * run's log, and what the API answers about them.
 */

const subject = Type.String({ minLength: 1, maxLength: PATCH_LIMITS.subject, description: 'the commit subject: the patch mail\'s subject without its [PATCH vN m/n] prefix' })
const author = Type.String({ maxLength: PATCH_LIMITS.author, description: 'Name <email>' })
const patchId = Type.String({ minLength: 40, maxLength: 64, description: 'git patch-id --stable of the commit: the same change has the same id on any base' })
const files = Type.Array(Type.String({ minLength: 1, maxLength: PATCH_LIMITS.path }), { maxItems: PATCH_LIMITS.filesPerPatch, description: 'the paths it touches, from the top of the tree' })
const messageId = Type.String({ minLength: 3, maxLength: 998, description: 'the Message-ID of the patch\'s mail, when the commit names it (a Message-Id: or Link: trailer)' })

export const PatchInSchema = Type.Object({
  subject,
  author: Type.Optional(Nullable(author)),
  patchId,
  files,
  messageId: Type.Optional(Nullable(messageId)),
}, { additionalProperties: false })

export const PatchListBodySchema = Type.Object({
  patches: Type.Array(PatchInSchema, {
    maxItems: PATCH_LIMITS.patches,
    description: 'every commit from the base to the tested HEAD, oldest first, merges and empty commits (a b4 cover letter) left out',
  }),
}, { additionalProperties: false })
export type PatchListBody = Static<typeof PatchListBodySchema>

export const PatchSchema = Type.Object({
  position: Type.Integer({ minimum: 1, description: 'its place in the series, 1 for the first' }),
  subject,
  author: Nullable(author),
  patchId,
  files,
  messageId: Nullable(messageId),
  loreUrl: Nullable(Type.String({ description: 'the patch\'s mail on lore.kernel.org' })),
})
export type PatchView = Static<typeof PatchSchema>

/** A stored patch as the API shows it: with the link to its mail. */
export function patchView (patch: SeriesPatch): PatchView {
  return { ...patch, loreUrl: loreUrl(patch.messageId) }
}

export const PatchReportSchema = Type.Object({
  state: Type.Enum(REPORT_STATES, { description: 'stored: it became the version\'s list (the first report); confirmed: the same patches as the version\'s list; differs: other patches than the version\'s list, kept as a difference' }),
  patches: Type.Integer({ description: 'patches in the run\'s list' }),
  createdAt: Type.String(),
})

export const RunPatchesSchema = Type.Object({
  run: Type.Object({ id: Type.Integer() }),
  version: Type.Object({ id: Type.Integer(), label: Type.String() }),
  report: Nullable(PatchReportSchema),
  patches: Nullable(Type.Array(PatchSchema, { description: "the version's list: the first a run of it reported; null when none did" })),
  differingRuns: Type.Array(Type.Integer(), { description: 'runs of the version that reported other patches than its list' }),
})
export type RunPatchesResponse = Static<typeof RunPatchesSchema>
