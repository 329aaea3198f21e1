import type { SeriesPatch } from '../domain/patch-list.ts'
import { BASE_VERSION } from '../domain/version-label.ts'
import type { StorePatches } from '../storage/store.ts'
import type { ComparedEntry } from './compare.ts'
import {
  codeChanged, deltaCounts, kernelLocationLines, MAX_SUSPECTS, patchDelta, PATCH_CHANGES, SUSPECT_BUCKETS, suspectsFor,
  type PatchChangeCounts, type PatchDelta, type Suspect,
} from './patch-delta.ts'

/**
 * What a comparison of two versions says about the series' patches: the delta between their
 * patch lists, and for each failure the series may have caused, the changed patches ranked as
 * suspects (queries/patch-delta.ts). A version without a list makes the delta unknown, never empty.
 */

export interface VersionSide { id: number, label: string }

export interface SeriesDelta {
  base: { label: string, patches: SeriesPatch[] | null }
  head: { label: string, patches: SeriesPatch[] | null }
  /** Null when either version has no list. */
  delta: PatchDelta | null
  /** `v6→v7: 2 patches modified, 1 added`, or which version has no list. */
  summary: string
  /** Whether a run of either version (other than base) reported a list: else there is nothing to say. */
  reported: boolean
}

/** What the suspects of a failure need from its log: the lines of a result (1-based, inclusive), capped. */
export type ResultLines = (runId: number, from: number, to: number) => Promise<string[]>

export async function seriesDelta (store: StorePatches, base: VersionSide, head: VersionSide): Promise<SeriesDelta> {
  // base is the unpatched tree, with no patches; other versions have what a run reported, or null
  const reportedOf = async (version: VersionSide) => version.label === BASE_VERSION ? null : (await store.versionList(version.id))?.patches ?? null
  const [baseReported, headReported] = [await reportedOf(base), await reportedOf(head)]
  const basePatches = base.label === BASE_VERSION ? [] : baseReported
  const headPatches = head.label === BASE_VERSION ? [] : headReported
  const delta = basePatches === null || headPatches === null ? null : patchDelta(basePatches, headPatches)
  const missing = [basePatches === null ? base.label : null, headPatches === null ? head.label : null].filter(label => label !== null)
  const summary = delta !== null
    ? `${base.label}→${head.label}: ${deltaCounts(delta.counts)}`
    : `${base.label}→${head.label}: unknown, no run of ${missing.join(' or ')} reported the series' patches`
  const reported = baseReported !== null || headReported !== null
  return { base: { label: base.label, patches: basePatches }, head: { label: head.label, patches: headPatches }, delta, summary, reported }
}

export function emptyCounts (): PatchChangeCounts {
  return Object.fromEntries(PATCH_CHANGES.map(change => [change, 0])) as PatchChangeCounts
}

export interface EntrySuspects {
  suspects: Suspect[]
  /** Every changed patch ranked; suspects holds the first MAX_SUSPECTS. */
  suspectCount: number
  deltaEmpty: boolean
}

/**
 * The suspects of one compare entry, or null for an entry the series cannot have caused (fixed,
 * flaky, missing ...) and when the delta is unknown (a version without a patch list). The evidence is the head's reason and, when the head showed kernel trouble,
 * the WARNING and BUG lines of its log.
 */
export async function entrySuspects (entry: ComparedEntry, series: SeriesDelta, lines: ResultLines): Promise<EntrySuspects | null> {
  const delta = series.delta
  if (!SUSPECT_BUCKETS.includes(entry.bucket) || delta === null) return null
  if (!codeChanged(delta)) return { suspects: [], suspectCount: 0, deltaEmpty: true }
  const texts = [entry.head.reason ?? '']
  if (entry.head.kernelTrouble.length > 0) {
    for (const run of entry.head.runs.filter(result => result.flags.length > 0)) texts.push(...kernelLocationLines(await lines(run.runId, run.lines[0], run.lines[1])))
  }
  const ranked = suspectsFor({ collection: entry.collection, test: entry.test, texts }, delta)
  return { suspects: ranked.slice(0, MAX_SUSPECTS), suspectCount: ranked.length, deltaEmpty: false }
}
