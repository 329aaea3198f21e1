import { Type, type Static } from 'typebox'
import { INCOMPLETE_KINDS } from '../../ingest/completeness.ts'
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
  warnings: Type.Array(Type.String()),
  plans: Type.Array(PlanSchema),
  completeness: RunCompletenessSchema,
})
export type RunResponse = Static<typeof RunSchema>

export const RunResultsSchema = Type.Object({
  run: Type.Object({ id: Type.Integer(), summary: SummarySchema }),
  tests: Type.Array(TestSchema),
  warnings: Type.Array(Type.String()),
})

export const UploadResponseSchema = Type.Object({
  id: Type.Integer(),
  url: Type.String(),
  series: Type.Object({ id: Type.Integer(), name: Type.String() }),
  version: Type.Object({ label: Type.String() }),
  machine: Type.Object({ name: Type.String() }),
  summary: SummarySchema,
  warnings: Type.Array(Type.String()),
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
}, { additionalProperties: true })

export const LogQuerySchema = Type.Object({
  from: Type.Integer({ minimum: 1, default: 1 }),
  to: Type.Optional(Type.Integer({ minimum: 1 })),
})

export const LogSliceSchema = Type.Object({
  from: Type.Integer(),
  to: Type.Integer(),
  totalLines: Type.Integer(),
  lines: Type.Array(Type.String()),
})
