import { KsftError } from '../errors.ts'
import type { RunMetadata } from '../storage/rows.ts'
import { foldIdentifier, refusedCharacterProblem } from './identifier-text.ts'
import { MESSAGE_ID_EXAMPLE, normalizeMessageId } from './message-id.ts'
import { changeIdProblem } from './series-identity.ts'
import { normalizeVersionLabel, versionLabelProblem } from './version-label.ts'

/** The metadata keys an uploader may send, as named in query strings and the CLI's flags. */
export const METADATA_KEYS = [
  'series', 'version', 'machine', 'arch', 'kernel', 'commit', 'cpu', 'flags', 'job_url', 'message_id',
  'base_commit', 'started_at', 'tree_name', 'git_url', 'patchset_hash', 'change_id', 'previous_message_ids',
] as const
export type MetadataKey = (typeof METADATA_KEYS)[number]
export type RawMetadata = Partial<Record<MetadataKey, unknown>>

export const UNKNOWN_MACHINE = 'unknown'

/** A value the server stored in another form than it was sent (NFKC, a version label's spelling). */
export interface MetadataNote {
  field: MetadataKey
  from: string
  to: string
}

/** The identifiers: folded (NFKC, one space) so that a look-alike is the same series, version or machine. */
const IDENTIFIERS: readonly MetadataKey[] = ['series', 'version', 'machine']
/** The longest name each identifier may have. */
export const IDENTIFIER_MAX = { series: 300, version: 200, machine: 128 } as const
const COMMIT = /^[0-9a-f]{7,64}$/
const ARCH = /^[A-Za-z0-9_.-]{1,32}$/
const FLAG = /^[a-z0-9_]{1,32}$/
/** Earlier versions' cover letters an upload may name: b4 keeps one per revision sent. */
const MAX_PREVIOUS_MESSAGE_IDS = 64

function invalid (field: string, problem: string): KsftError {
  return new KsftError('INVALID_METADATA', `${field} ${problem}`)
}

function text (raw: RawMetadata, field: MetadataKey, max: number, required = false, notes: MetadataNote[] = []): string | null {
  const value = raw[field]
  if (value === undefined || value === null || value === '') {
    if (required) throw invalid(field, 'is required')
    return null
  }
  if (typeof value !== 'string') throw invalid(field, 'must be a string')
  const problem = refusedCharacterProblem(value)
  if (problem) throw invalid(field, problem)
  const trimmed = value.trim()
  const folded = IDENTIFIERS.includes(field) ? foldIdentifier(value) : value.normalize('NFKC').trim()
  if (folded === '') {
    if (required) throw invalid(field, 'is required')
    return null
  }
  if (folded.length > max) throw invalid(field, `is longer than ${max} characters`)
  // NFKC of a visible character never gives an invisible one, but the check costs nothing
  const after = refusedCharacterProblem(folded)
  if (after) throw invalid(field, after)
  if (folded !== trimmed) notes.push({ field, from: trimmed, to: folded })
  return folded
}

function commit (raw: RawMetadata, field: MetadataKey): string | null {
  const value = text(raw, field, 64)
  if (value === null) return null
  const lower = value.toLowerCase()
  if (!COMMIT.test(lower)) throw invalid(field, 'must be a git commit hash (7 to 64 hex digits)')
  return lower
}

function flags (raw: RawMetadata): string[] {
  const value = raw.flags
  if (value === undefined || value === null || value === '') return []
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : null
  if (!list) throw invalid('flags', 'must be a comma-separated list')
  const cleaned = new Set<string>()
  for (const item of list) {
    if (typeof item !== 'string') throw invalid('flags', 'must be a list of words')
    const flag = item.trim().toLowerCase()
    if (flag === '') continue
    if (!FLAG.test(flag)) throw invalid('flags', `has "${flag.slice(0, 40)}", not a word of lowercase letters, digits and _`)
    cleaned.add(flag)
  }
  if (cleaned.size > 32) throw invalid('flags', 'has more than 32 flags')
  return [...cleaned].sort()
}

function messageIdOf (value: string | null, field: string): string | null {
  if (value === null) return null
  const messageId = normalizeMessageId(value)
  if (messageId === null) throw invalid(field, `must be a Message-ID such as ${MESSAGE_ID_EXAMPLE}`)
  return messageId
}

/** A comma list (or an array) of Message-IDs, in the order given, each once. */
function previousMessageIds (raw: RawMetadata): string[] {
  const value = raw.previous_message_ids
  if (value === undefined || value === null || value === '') return []
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : null
  if (!list || list.some(item => typeof item !== 'string')) throw invalid('previous_message_ids', 'must be a comma-separated list of Message-IDs')
  const ids = new Set<string>()
  for (const item of list as string[]) {
    if (item.trim() === '') continue
    const problem = refusedCharacterProblem(item)
    if (problem) throw invalid('previous_message_ids', problem)
    ids.add(messageIdOf(item.slice(0, 998), 'previous_message_ids')!)
  }
  if (ids.size > MAX_PREVIOUS_MESSAGE_IDS) throw invalid('previous_message_ids', `has more than ${MAX_PREVIOUS_MESSAGE_IDS} Message-IDs`)
  return [...ids]
}

/**
 * A series or machine name an admin gives (a rename), held to what an upload's would be: folded
 * the same way, and refused (INVALID_METADATA) for the same reasons.
 */
export function parseIdentifier (field: 'series' | 'machine', value: string): string {
  return text({ [field]: value }, field, IDENTIFIER_MAX[field], true)!
}

/** Validates and normalizes what an uploader said about a run. Unknown keys are refused. */
export function parseRunMetadata (raw: Record<string, unknown>): RunMetadata {
  return parseRunMetadataNoted(raw).meta
}

/** parseRunMetadata, and what it stored in another form than it was sent (said in the upload's answer). */
export function parseRunMetadataNoted (raw: Record<string, unknown>): { meta: RunMetadata, normalized: MetadataNote[] } {
  const notes: MetadataNote[] = []
  for (const key of Object.keys(raw)) {
    if (!(METADATA_KEYS as readonly string[]).includes(key)) {
      throw new KsftError('INVALID_METADATA', `unknown metadata key "${key.slice(0, 40)}"; known keys: ${METADATA_KEYS.join(', ')}`)
    }
  }
  const input = raw as RawMetadata
  const series = text(input, 'series', IDENTIFIER_MAX.series, true, notes)!
  const version = normalizeVersionLabel(text(input, 'version', IDENTIFIER_MAX.version, true)!)
  const versionProblem = versionLabelProblem(version)
  if (versionProblem) throw invalid('version', versionProblem)
  const sentVersion = String(input.version).trim()
  if (version !== sentVersion) notes.push({ field: 'version', from: sentVersion, to: version })

  const arch = text(input, 'arch', 32)
  if (arch !== null && !ARCH.test(arch)) throw invalid('arch', 'must be a word such as x86_64 or aarch64')
  const jobUrl = text(input, 'job_url', 2048)
  if (jobUrl !== null && !/^https?:\/\/\S+$/.test(jobUrl)) throw invalid('job_url', 'must be an http(s) URL')
  const messageId = messageIdOf(text(input, 'message_id', 998), 'message_id')
  const changeId = text(input, 'change_id', 128)
  const changeProblem = changeId === null ? null : changeIdProblem(changeId)
  if (changeProblem) throw invalid('change_id', changeProblem)
  const treeName = text(input, 'tree_name', 100)
  const gitUrl = text(input, 'git_url', 2048)
  if (gitUrl !== null && !/^(?:https?|git|ssh):\/\/\S+$/.test(gitUrl)) throw invalid('git_url', 'must be an https://, git:// or ssh:// URL of the tree')
  const patchsetHash = text(input, 'patchset_hash', 64)?.toLowerCase() ?? null
  if (patchsetHash !== null && !/^[0-9a-f]{64}$/.test(patchsetHash)) throw invalid('patchset_hash', 'must be a SHA-256 hash (64 hex digits), as KCIDB defines it')
  const startedAt = text(input, 'started_at', 40)
  if (startedAt !== null && Number.isNaN(Date.parse(startedAt))) throw invalid('started_at', 'must be an ISO 8601 date')

  const meta: RunMetadata = {
    series,
    version,
    machine: text(input, 'machine', IDENTIFIER_MAX.machine, false, notes) ?? UNKNOWN_MACHINE,
    arch,
    cpu: text(input, 'cpu', 200),
    flags: flags(input),
    kernel: text(input, 'kernel', 200),
    commit: commit(input, 'commit'),
    jobUrl,
    messageId,
    baseCommit: commit(input, 'base_commit'),
    treeName,
    gitUrl,
    patchsetHash,
    startedAt: startedAt === null ? null : new Date(startedAt).toISOString(),
    changeId,
    previousMessageIds: previousMessageIds(input),
  }
  return { meta, normalized: notes }
}
