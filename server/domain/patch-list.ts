import { createHash } from 'node:crypto'
import { refusedCharacterProblem } from './identifier-text.ts'
import { normalizeMessageId } from './message-id.ts'

/**
 * The patches of a series version as the tested tree had them: each commit from the base to HEAD,
 * oldest first, with its subject, author, `git patch-id --stable` and the files it touches, and its
 * Message-ID when the commit says which mail it came from. The hook and `ksft upload` send it with
 * a run; a version keeps one (docs/series.md). Dependency-free: the CLI and the server import it.
 */
export interface PatchRecord {
  subject: string
  author: string | null
  /** `git patch-id --stable`: the same change gives the same id whatever its base and line numbers. */
  patchId: string
  /** Paths from the tree's top, as `git diff-tree --name-only` prints them. */
  files: string[]
  messageId: string | null
}

/** A patch at its place in a version's list (1 for the first). */
export interface SeriesPatch extends PatchRecord { position: number }

/** What a run's report did to its version's list: became it, confirmed it, or differs from it. */
export const REPORT_STATES = ['stored', 'confirmed', 'differs'] as const
export type ReportState = (typeof REPORT_STATES)[number]

/** Bounds of a patch list: the largest series posted to LKML have a few hundred patches. */
export const PATCH_LIMITS = { patches: 1000, filesPerPatch: 5000, subject: 1000, author: 300, path: 4096 } as const

/** A SHA-1 (40) or SHA-256 (64) patch-id in lower case. */
const PATCH_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/

/** The first problem with a list as sent (already of the API schema's shape), or null. */
export function patchListProblem (patches: ReadonlyArray<{ subject: string, author?: string | null, patchId: string, files: readonly string[], messageId?: string | null }>): string | null {
  for (const [i, patch] of patches.entries()) {
    const where = `patch ${i + 1}`
    for (const [field, value] of [['subject', patch.subject], ['author', patch.author ?? '']] as const) {
      const problem = refusedCharacterProblem(value)
      if (problem) return `${where}: ${field} ${problem}`
    }
    if (patch.subject.trim() === '') return `${where}: the subject is empty`
    if (!PATCH_ID.test(patch.patchId.toLowerCase())) return `${where}: patchId must be what git patch-id --stable prints (40 or 64 hex digits), not "${patch.patchId.slice(0, 80)}"`
    for (const file of patch.files) {
      const problem = refusedCharacterProblem(file)
      if (problem) return `${where}: a file name ${problem}`
      if (file === '' || file.startsWith('/') || file.split('/').includes('..')) return `${where}: "${file.slice(0, 200)}" is not a path inside the tree`
    }
    if (patch.messageId !== undefined && patch.messageId !== null && normalizeMessageId(patch.messageId) === null) {
      return `${where}: messageId "${patch.messageId.slice(0, 200)}" is not a Message-ID`
    }
  }
  return null
}

/** The list as stored: trimmed, lower-case patch-ids, Message-IDs without brackets, each file once. */
export function normalizePatchList (patches: ReadonlyArray<{ subject: string, author?: string | null, patchId: string, files: readonly string[], messageId?: string | null }>): PatchRecord[] {
  return patches.map(patch => ({
    subject: patch.subject.trim(),
    author: patch.author?.trim() || null,
    patchId: patch.patchId.toLowerCase(),
    files: [...new Set(patch.files)],
    messageId: patch.messageId ? normalizeMessageId(patch.messageId) : null,
  }))
}

/**
 * The Message-ID a commit message names as the mail it was applied from: a `Message-Id:` or
 * `Message-ID:` trailer (`git am --message-id`), or a `Link:` to the mail on lore or patch.msgid.link
 * (`b4 am -l`, and what maintainers add). The last such trailer wins: later ones are the newer.
 */
export function messageIdOfCommit (message: string): string | null {
  let found: string | null = null
  for (const line of message.split('\n')) {
    const header = /^Message-I[dD]:\s*(\S+)\s*$/i.exec(line)
    const link = /^Link:\s*https?:\/\/(?:lore\.kernel\.org\/(?:r|[\w.-]+)|patch\.msgid\.link)\/([^\s/]+)\/?\s*$/i.exec(line)
    const raw = header?.[1] ?? link?.[1]
    if (raw === undefined) continue
    let decoded = raw
    try { decoded = decodeURIComponent(raw) } catch {}
    const messageId = normalizeMessageId(decoded)
    if (messageId !== null) found = messageId
  }
  return found
}

/** Over the patch-ids in order: what makes two lists the same patches. */
export function digestOf (patches: readonly Pick<PatchRecord, 'patchId'>[]): string {
  return createHash('sha256').update(patches.map(patch => patch.patchId).join('\n')).digest('hex')
}
