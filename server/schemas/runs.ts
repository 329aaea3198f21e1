import { Type, type Static } from 'typebox'
import { INCOMPLETE_KINDS } from '../../ingest/completeness.ts'
import { SERIES_MATCH_DESCRIPTIONS, SERIES_MATCHES } from '../domain/series-identity.ts'
import { FlagSchema, LineRangeSchema, Nullable, StatusSchema, SummarySchema } from './common.ts'

export const SubtestSchema = Type.Cyclic({
  Subtest: Type.Object({
    name: Type.String(),
    status: StatusSchema,
    reason: Nullable(Type.String()),
    lines: LineRangeSchema,
    subtests: Type.Array(Type.Ref('Subtest')),
  }),
}, 'Subtest')

export const TestSchema = Type.Object({
  collection: Type.String({ description: 'kselftest collection, e.g. kvm or net/forwarding' }),
  name: Type.String(),
  number: Nullable(Type.Integer({ description: 'the TAP number as printed; not part of the identity' })),
  status: StatusSchema,
  exitCode: Nullable(Type.Integer()),
  timeoutSeconds: Nullable(Type.Integer()),
  reason: Nullable(Type.String({ description: 'why it failed or skipped, in the log\'s words' })),
  flags: Type.Array(FlagSchema),
  lines: LineRangeSchema,
  subtests: Type.Array(SubtestSchema),
})

/** Warnings and plans listed in an answer; the counts say how many more the run keeps. */
export const MAX_LISTED = 100
/** A log slice answers at most this many bytes of lines, and cuts a line at MAX_LOG_LINE_BYTES. */
export const MAX_LOG_SLICE_BYTES = 1024 * 1024
export const MAX_LOG_LINE_BYTES = 64 * 1024

/** Tests per page of /results, and the results (tests and subtests) a page holds at most. */
export const RESULTS_PAGE = { byDefault: 1000, max: 10_000 }
export const MAX_RESULT_ROWS = 50_000

export const PlanSchema = Type.Object({
  line: Type.Integer(),
  collection: Nullable(Type.String()),
  planned: Type.Integer(),
  seen: Type.Integer(),
})

export const RunCompletenessSchema = Type.Object({
  complete: Type.Boolean({ description: 'false when the run stopped early: a plan promised more tests than arrived, the log ends inside a test, or the kernel panicked' }),
  reasons: Type.Array(Type.Object({
    kind: Type.Enum(INCOMPLETE_KINDS),
    collection: Nullable(Type.String()),
    detail: Type.String(),
  }), { description: 'why it is incomplete; empty when complete' }),
  notRun: Type.Integer({ description: 'tests its plans promised that never arrived' }),
  incompleteCollections: Type.Array(Type.String(), { description: 'collections whose stream stopped early' }),
}, { description: 'whether the run finished, derived once at ingest (see docs/verdicts.md)' })

export const RunSchema = Type.Object({
  id: Type.Integer(),
  url: Type.String({ description: 'the run page of the dashboard' }),
  series: Type.Object({ id: Type.Integer(), name: Type.String() }),
  version: Type.Object({
    id: Type.Integer(),
    label: Type.String(),
    messageId: Nullable(Type.String()),
    loreUrl: Nullable(Type.String()),
    baseCommit: Nullable(Type.String()),
    treeName: Nullable(Type.String()),
    gitUrl: Nullable(Type.String()),
    patchsetHash: Nullable(Type.String()),
  }),
  machine: Type.Object({
    id: Type.Integer(),
    name: Type.String(),
    arch: Nullable(Type.String()),
    cpu: Nullable(Type.String()),
    flags: Type.Array(Type.String()),
  }),
  kernel: Nullable(Type.String()),
  commit: Nullable(Type.String()),
  arch: Nullable(Type.String()),
  cpu: Nullable(Type.String()),
  flags: Type.Array(Type.String()),
  jobUrl: Nullable(Type.String()),
  startedAt: Nullable(Type.String()),
  createdAt: Type.String(),
  contentSha256: Type.String(),
  logBytes: Type.Integer(),
  logLines: Type.Integer(),
  summary: SummarySchema,
  warnings: Type.Array(Type.String(), { description: `the first ${MAX_LISTED} of the parser's warnings` }),
  warningCount: Type.Integer({ description: 'all the warnings the run keeps' }),
  plans: Type.Array(PlanSchema, { description: `the first ${MAX_LISTED} TAP plans` }),
  planCount: Type.Integer({ description: 'all the plans the run keeps' }),
  completeness: RunCompletenessSchema,
})
export type RunResponse = Static<typeof RunSchema>

export const RunResultsSchema = Type.Object({
  run: Type.Object({ id: Type.Integer(), summary: SummarySchema }),
  tests: Type.Array(TestSchema, { description: 'a page of the tests, in log order, each with all its subtests (up to the row cap)' }),
  warnings: Type.Array(Type.String(), { description: `the first ${MAX_LISTED} warnings; the run has them all` }),
  nextCursor: Nullable(Type.Integer({ description: 'the cursor of the next page, or null on the last' })),
  truncated: Type.Boolean({ description: `true when the page's last test has more than ${MAX_RESULT_ROWS} results: the rest of its subtests are left out` }),
})

export const ResultsQuerySchema = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: RESULTS_PAGE.max, default: RESULTS_PAGE.byDefault, description: 'tests per page' }),
  cursor: Type.Integer({ minimum: 0, default: 0, description: 'the nextCursor of the previous page' }),
})

export const MetadataNoteSchema = Type.Object({
  field: Type.String(),
  from: Type.String({ description: 'as sent' }),
  to: Type.String({ description: 'as stored' }),
}, { description: 'a value stored in another form than it was sent: NFKC, or the one spelling of a version label (V7, v07, ｖ7: v7)' })

export const SeriesMatchSchema = Type.Object({
  by: Type.Enum(SERIES_MATCHES, { description: SERIES_MATCHES.map(kind => `${kind}: ${SERIES_MATCH_DESCRIPTIONS[kind]}`).join('; ') }),
  sent: Type.String({ description: 'the series title as sent' }),
  note: Type.String({ description: 'where the run went and why, in a sentence' }),
}, { description: 'the run was stored in a series other than the one its title names exactly (docs/series.md)' })
export type SeriesMatch = Static<typeof SeriesMatchSchema>

export const UploadResponseSchema = Type.Object({
  id: Type.Integer(),
  url: Type.String(),
  series: Type.Object({ id: Type.Integer(), name: Type.String() }),
  version: Type.Object({ label: Type.String() }),
  machine: Type.Object({ name: Type.String() }),
  summary: SummarySchema,
  warnings: Type.Array(Type.String(), { description: `the first ${MAX_LISTED} warnings` }),
  warningCount: Type.Integer(),
  normalized: Type.Optional(Type.Array(MetadataNoteSchema)),
  seriesMatch: Type.Optional(SeriesMatchSchema),
})

export const UploadQuerySchema = Type.Object({
  series: Type.Optional(Type.String({ description: 'patch series name (required here or in the metadata part)' })),
  version: Type.Optional(Type.String({ description: 'v1, v2, ..., base, RFC v2 (required here or in the metadata part)' })),
  machine: Type.Optional(Type.String()),
  arch: Type.Optional(Type.String()),
  kernel: Type.Optional(Type.String()),
  commit: Type.Optional(Type.String()),
  cpu: Type.Optional(Type.String()),
  flags: Type.Optional(Type.String({ description: 'comma list: sev,sev_es,sev_snp,tdx' })),
  job_url: Type.Optional(Type.String()),
  message_id: Type.Optional(Type.String({ description: "lore Message-ID of the version's cover letter" })),
  base_commit: Type.Optional(Type.String()),
  started_at: Type.Optional(Type.String()),
  tree_name: Type.Optional(Type.String({ description: 'the tree the series applies to, e.g. kvm-x86/next' })),
  git_url: Type.Optional(Type.String({ description: "that tree's repository URL" })),
  patchset_hash: Type.Optional(Type.String({ description: "KCIDB's SHA-256 of the version's patches" })),
  change_id: Type.Optional(Type.String({ description: "b4's change-id of the series: the upload lands in the series with this change-id, whatever its title (docs/series.md)" })),
  previous_message_ids: Type.Optional(Type.String({ description: "comma list of the Message-IDs of earlier versions' cover letters (b4's history): the upload lands in the series one of them belongs to" })),
}, { additionalProperties: true })

export const LogQuerySchema = Type.Object({
  from: Type.Integer({ minimum: 1, default: 1 }),
  to: Type.Optional(Type.Integer({ minimum: 1 })),
})

export const LogSliceSchema = Type.Object({
  from: Type.Integer(),
  to: Type.Integer({ description: 'the last line answered' }),
  totalLines: Type.Integer(),
  lines: Type.Array(Type.String({ description: `a line; one longer than ${MAX_LOG_LINE_BYTES} bytes is cut, with a marker saying how much is left out` })),
  truncated: Type.Boolean({ description: `true when the lines asked for came to more than ${MAX_LOG_SLICE_BYTES} bytes: ask again from nextFrom` }),
  nextFrom: Nullable(Type.Integer({ description: 'the first line not answered, when truncated' })),
})
