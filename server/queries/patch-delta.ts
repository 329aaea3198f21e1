import type { SeriesPatch } from '../domain/patch-list.ts'
import type { CompareBucket } from './verdict.ts'

/**
 * What changed in a series between two of its versions, read the way `git range-diff` reads it,
 * and which of those changes a new failure most likely comes from. Pure: the compare route, the
 * CLI, summary.txt and the dashboard all import it (docs/series.md).
 *
 * Patches pair by patch-id first (`git patch-id --stable`: the same change on any base), then by
 * subject: a pair with the same subject and another patch-id is the same patch, modified. What is
 * left is added (in head only) or dropped (in base only). A pair out of order is reordered: the
 * pairs kept in order are a longest run of base positions increasing along head.
 */

export const PATCH_CHANGES = ['modified', 'added', 'dropped', 'reordered', 'unchanged'] as const
export type PatchChange = (typeof PATCH_CHANGES)[number]

/** The changes that change the code a version tests: what suspects are chosen from. */
export const CODE_CHANGES: readonly PatchChange[] = ['modified', 'added', 'dropped']

export const PATCH_CHANGE_DESCRIPTIONS: Record<PatchChange, string> = {
  modified: 'the same subject with another patch-id: the patch was changed',
  added: 'in head only',
  dropped: 'in base only',
  reordered: 'the same patch-id, moved against the other patches',
  unchanged: 'the same patch-id at the same place in the order',
}

export interface PatchDeltaEntry {
  change: PatchChange
  /** The patch in base (null when added) and in head (null when dropped). */
  base: SeriesPatch | null
  head: SeriesPatch | null
  /** A modified patch that also moved against the others. */
  moved: boolean
}

export type PatchChangeCounts = Record<PatchChange, number>

export interface PatchDelta {
  counts: PatchChangeCounts
  /** In head's order; a dropped patch after the pair its predecessor in base is in. */
  entries: PatchDeltaEntry[]
}

/** A subject as patches are paired by it: white space collapsed, a mail's `[PATCH v2 3/7]` prefix left out. */
function subjectKey (subject: string): string {
  return subject.trim().replace(/^\[[^\]]*\]\s*/, '').replace(/\s+/g, ' ')
}

export function patchDelta (base: readonly SeriesPatch[], head: readonly SeriesPatch[]): PatchDelta {
  const pairedBase = new Array<number>(head.length).fill(-1)
  const taken = new Set<number>()
  const pairBy = (key: (patch: SeriesPatch) => string): void => {
    const waiting = new Map<string, number[]>()
    base.forEach((patch, b) => { if (!taken.has(b)) waiting.set(key(patch), [...(waiting.get(key(patch)) ?? []), b]) })
    head.forEach((patch, h) => {
      if (pairedBase[h] !== -1) return
      const b = waiting.get(key(patch))?.shift()
      if (b === undefined) return
      pairedBase[h] = b
      taken.add(b)
    })
  }
  pairBy(patch => patch.patchId)
  pairBy(patch => subjectKey(patch.subject))

  const inOrder = longestIncreasing(pairedBase)
  const keyed: Array<{ key: [number, number, number], entry: PatchDeltaEntry }> = head.map((patch, h) => {
    const b = pairedBase[h]!
    if (b === -1) return { key: [h, 0, 0], entry: { change: 'added', base: null, head: patch, moved: false } }
    const modified = base[b]!.patchId !== patch.patchId
    const moved = !inOrder.has(h)
    const change: PatchChange = modified ? 'modified' : moved ? 'reordered' : 'unchanged'
    return { key: [h, 0, 0], entry: { change, base: base[b]!, head: patch, moved: modified && moved } }
  })
  // a dropped patch goes after the head entry of the nearest earlier base patch that is paired
  const headOfBase = new Map(pairedBase.map((b, h) => [b, h]))
  base.forEach((patch, b) => {
    if (taken.has(b)) return
    let anchor = -1
    for (let before = b - 1; before >= 0 && anchor === -1; before--) anchor = headOfBase.get(before) ?? -1
    keyed.push({ key: [anchor, 1, b], entry: { change: 'dropped', base: patch, head: null, moved: false } })
  })
  keyed.sort((x, y) => x.key[0] - y.key[0] || x.key[1] - y.key[1] || x.key[2] - y.key[2])
  const counts = Object.fromEntries(PATCH_CHANGES.map(change => [change, 0])) as PatchChangeCounts
  for (const { entry } of keyed) counts[entry.change]++
  return { counts, entries: keyed.map(({ entry }) => entry) }
}

/** The head indexes of a longest strictly increasing run of paired base positions (-1: unpaired, skipped). */
function longestIncreasing (values: readonly number[]): Set<number> {
  // patience sorting: tails[k] is the index ending the best run of length k + 1
  const tails: number[] = []
  const previous = new Array<number>(values.length).fill(-1)
  values.forEach((value, i) => {
    if (value === -1) return
    let low = 0
    let high = tails.length
    while (low < high) {
      const mid = (low + high) >> 1
      if (values[tails[mid]!]! < value) low = mid + 1
      else high = mid
    }
    previous[i] = low > 0 ? tails[low - 1]! : -1
    tails[low] = i
  })
  const kept = new Set<number>()
  for (let i = tails.at(-1) ?? -1; i !== -1; i = previous[i]!) kept.add(i)
  return kept
}

/** Whether any patch's code changed between the two versions. */
export function codeChanged (delta: PatchDelta): boolean {
  return CODE_CHANGES.some(change => delta.counts[change] > 0)
}

/** `2 patches modified, 1 added, 1 dropped` (the code changes, then reordered), or that nothing changed. */
export function deltaCounts (counts: PatchChangeCounts): string {
  const patches = (n: number) => `${n} ${n === 1 ? 'patch' : 'patches'}`
  const parts = (['modified', 'added', 'dropped', 'reordered'] as const).filter(change => counts[change] > 0)
    .map((change, i) => i === 0 ? `${patches(counts[change])} ${change}` : `${counts[change]} ${change}`)
  if (parts.length > 0) return parts.join(', ')
  return counts.unchanged === 0 ? 'no patches in either version' : `no change (${patches(counts.unchanged)} unchanged)`
}

// ---- suspects

/**
 * Evidence tying a changed patch to a failing test, strongest first: it touches the test's own
 * source, its collection's selftests (their library, headers, Makefile), a file the failure names
 * (an assertion's or a WARNING's location), that file's directory; or only changed at all.
 */
export const SUSPECT_EVIDENCE = ['test_source', 'test_collection', 'reason_file', 'reason_subsystem', 'changed'] as const
export type SuspectEvidenceKind = (typeof SUSPECT_EVIDENCE)[number]

export const SUSPECT_EVIDENCE_DESCRIPTIONS: Record<SuspectEvidenceKind, string> = {
  test_source: "touches the failing test's own source",
  test_collection: "touches its collection's selftests (library, headers, Makefile)",
  reason_file: 'touches a file the failure names (an assertion or a kernel WARNING location)',
  reason_subsystem: "touches the directory of a file the failure names",
  changed: 'changed between the versions; nothing else ties it to the test',
}

export interface SuspectEvidence {
  kind: SuspectEvidenceKind
  /** The patch's file that is the evidence (null for `changed`). */
  file: string | null
  /** What it matched: the test's directory, or the location in the failure's text. */
  matched: string | null
}

export interface Suspect {
  change: PatchChange
  /** The patch as head has it (as base had it, when dropped). */
  patch: SeriesPatch
  /** Strongest first; `strength` is the first one's kind. */
  evidence: SuspectEvidence[]
  strength: SuspectEvidenceKind
}

/** What a failure is known by: where its test lives and the text that explains it. */
export interface FailureFacts {
  collection: string
  test: string
  /** The reason, and kernel trouble lines of its log (see kernelLocationLines). */
  texts: readonly string[]
}

/** The compare buckets whose entries get suspects: what the series may have broken. */
export const SUSPECT_BUCKETS: readonly CompareBucket[] = ['regression', 'new_failure', 'new_kernel_trouble']

/** At most this many suspects per failure: the delta lists every change anyway. */
export const MAX_SUSPECTS = 10

const SELFTESTS = 'tools/testing/selftests'
/** A source file named in a failure's text, with its line: `x86_64/sev_smoke_test.c:123`, `arch/x86/kvm/x86.c:11834`. */
const SOURCE_LOCATION = /(?:^|[\s([{'"`=])((?:[\w.+-]+\/)*[\w+-][\w.+-]*\.(?:c|h|S|rs|sh|py|lds|dts|dtsi)):\d+/g
/** The kernel's own reports of where it went wrong: `WARNING: CPU: 1 PID: 42 at mm/shmem.c:123 f+0x1/0x2`, `kernel BUG at mm/shmem.c:123!`. */
const KERNEL_LOCATION = /\b(?:WARNING|BUG)\b.*\bat \S+\.\w+:\d+/

/** The lines of a test's log that say where the kernel warned or hit a BUG: evidence the reason may not carry. */
export function kernelLocationLines (lines: readonly string[]): string[] {
  return lines.filter(line => KERNEL_LOCATION.test(line))
}

/** The source files a failure's texts name, each once, in order. */
export function namedSourceFiles (texts: readonly string[]): string[] {
  const files = new Set<string>()
  for (const text of texts) for (const m of text.matchAll(SOURCE_LOCATION)) files.add(m[1]!.replace(/^\.\//, ''))
  return [...files]
}

function stem (path: string): string {
  return path.slice(path.lastIndexOf('/') + 1).replace(/\.[^.]*$/, '')
}

/** The directories a named file's subsystem is read as: its own, and the one above when it is deep (arch/x86/kvm/mmu: arch/x86/kvm too). */
function subsystemDirs (file: string, collectionDir: string): string[] {
  const dir = file.includes('/') ? file.slice(0, file.lastIndexOf('/')) : ''
  if (dir === '') return []
  const dirs = [dir, `${collectionDir}/${dir}`]
  if (dir.split('/').length >= 3) dirs.push(dir.slice(0, dir.lastIndexOf('/')))
  return dirs
}

/** What ties one file a patch touches to the failure, strongest first. */
function evidenceOf (file: string, failure: FailureFacts, named: readonly string[]): SuspectEvidence[] {
  const collectionDir = `${SELFTESTS}/${failure.collection}`
  const found: SuspectEvidence[] = []
  if (file.startsWith(`${collectionDir}/`)) {
    found.push(stem(file) === stem(failure.test)
      ? { kind: 'test_source', file, matched: `${failure.collection}/${failure.test}` }
      : { kind: 'test_collection', file, matched: `${collectionDir}/` })
  }
  for (const name of named) {
    // a location is from the tree's top (a WARNING) or from the test's directory (a selftest assertion)
    if (file === name || file.endsWith(`/${name}`)) found.push({ kind: 'reason_file', file, matched: name })
    else {
      const dir = subsystemDirs(name, collectionDir).find(candidate => file.startsWith(`${candidate}/`))
      if (dir !== undefined) found.push({ kind: 'reason_subsystem', file, matched: `${dir}/ (from ${name})` })
    }
  }
  return found
}

const strengthRank = (kind: SuspectEvidenceKind) => SUSPECT_EVIDENCE.indexOf(kind)

/**
 * The changed patches ranked for one failure: by their strongest evidence, then in series order.
 * A hint for where to look first, never a verdict: the culprit may be outside the series.
 */
export function suspectsFor (failure: FailureFacts, delta: PatchDelta): Suspect[] {
  const named = namedSourceFiles(failure.texts)
  const suspects: Suspect[] = []
  for (const entry of delta.entries) {
    if (!CODE_CHANGES.includes(entry.change)) continue
    const patch = entry.head ?? entry.base!
    // a modified patch may have stopped touching a file that still matters: both versions' files count
    const files = [...new Set([...(entry.head?.files ?? []), ...(entry.base?.files ?? [])])]
    const evidence = files.flatMap(file => evidenceOf(file, failure, named))
      .sort((a, b) => strengthRank(a.kind) - strengthRank(b.kind))
      .filter((item, i, all) => all.findIndex(other => other.kind === item.kind && other.file === item.file) === i)
    if (evidence.length === 0) evidence.push({ kind: 'changed', file: null, matched: null })
    suspects.push({ change: entry.change, patch, evidence, strength: evidence[0]!.kind })
  }
  return suspects.sort((a, b) => strengthRank(a.strength) - strengthRank(b.strength) || a.patch.position - b.patch.position)
}

/** One line for a suspect, as the CLI and summary.txt print it: the hint, the patch and its first evidence. */
export function suspectLine (suspect: Suspect): string {
  const first = suspect.evidence[0]!
  const why = first.kind === 'changed' ? SUSPECT_EVIDENCE_DESCRIPTIONS.changed : `${SUSPECT_EVIDENCE_DESCRIPTIONS[first.kind]}: ${first.file}`
  return `[${suspect.patch.position}] ${suspect.patch.subject} (${suspect.change}; ${why})`
}
