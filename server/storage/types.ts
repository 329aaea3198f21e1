import type { SeriesResolution } from './identity-store.ts'
import type { IncompleteReason, PlanRecord, Summary, TestRecord, UnfinishedTest } from '../../ingest/index.ts'

/** What an uploader says about a run, already validated and normalized. */
export interface RunMetadata {
  series: string
  version: string
  machine: string
  arch: string | null
  cpu: string | null
  /** Confidential-computing and other machine flags: `sev`, `sev_snp`, `tdx`, ... */
  flags: string[]
  kernel: string | null
  commit: string | null
  jobUrl: string | null
  messageId: string | null
  baseCommit: string | null
  /** The checkout of the version: the tree it applies to and the hash of its patches. */
  treeName: string | null
  gitUrl: string | null
  patchsetHash: string | null
  startedAt: string | null
  /** b4's change-id of the series: what identifies it first (domain/series-identity.ts). */
  changeId: string | null
  /** Message-IDs of the cover letters of the series' earlier versions: the chain that identifies it next. */
  previousMessageIds: string[]
}

/** A chunk of the raw log, deflated, starting at a line boundary. */
export interface LogChunk {
  firstLine: number
  lineCount: number
  content: Buffer
}

export interface StoredLog {
  sha256: string
  bytes: number
  lines: number
  /** In order; a chunk's content may be overwritten once the next chunk is taken, so copy what is kept. */
  chunks: Iterable<LogChunk>
}

export interface ParsedRun {
  tests: TestRecord[]
  plans: PlanRecord[]
  unfinished: UnfinishedTest[]
  emptyStreamAtEnd?: number | null
  warnings: string[]
}

/** Whether a run finished (ingest/completeness.ts), as stored with it. */
export interface RunCompletenessView {
  complete: boolean
  reasons: IncompleteReason[]
  /** Tests its plans promised that never arrived. */
  notRun: number
  /** Collections whose stream stopped early. */
  incompleteCollections: string[]
}

export interface RunView {
  id: number
  series: { id: number, name: string }
  version: {
    id: number
    label: string
    messageId: string | null
    baseCommit: string | null
    treeName: string | null
    gitUrl: string | null
    patchsetHash: string | null
  }
  machine: { id: number, name: string, arch: string | null, cpu: string | null, flags: string[] }
  kernel: string | null
  commit: string | null
  arch: string | null
  cpu: string | null
  flags: string[]
  jobUrl: string | null
  startedAt: string | null
  createdAt: string
  contentSha256: string
  logBytes: number
  logLines: number
  summary: Summary
  warnings: string[]
  plans: PlanRecord[]
  completeness: RunCompletenessView
}

export interface IngestOutcome {
  runId: number
  created: boolean
  /** The series the run was stored in and what said so; null for a run stored before whose upload would make a new series now. */
  series: SeriesResolution | null
}

export interface LogSlice {
  from: number
  to: number
  totalLines: number
  lines: string[]
  /** The lines asked for came to more than the bytes allowed: the rest starts at nextFrom. */
  truncated: boolean
  nextFrom: number | null
}
