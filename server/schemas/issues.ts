import { Type, type Static } from 'typebox'
import { FAILING_STATUSES } from '../../ingest/vocabulary.ts'
import { AUDIT_ACTIONS, CULPRITS, LIMITS } from '../domain/known-issues.ts'
import { Nullable, StatusSchema } from './common.ts'

/** The contract of the known-issues API (server/routes/issues.ts); the rules are server/domain/known-issues.ts. */

export const CulpritSchema = Type.Enum(CULPRITS, {
  description: 'whose fault the failure is: kernel (KCIDB culprit "code"), test (culprit "tool"), infrastructure (culprit "harness": the lab, the runner, a missing binary), unknown',
})

export const IssueRefSchema = Type.Object({
  id: Type.Integer(),
  title: Type.String(),
  url: Nullable(Type.String()),
  culprit: CulpritSchema,
  intermittent: Type.Boolean(),
  active: Type.Boolean({ description: 'false once resolved: a resolved issue triages nothing' }),
})

const text = (max: number, description: string) => Type.String({ minLength: 1, maxLength: max, description })
const list = (item: ReturnType<typeof Type.String>, description: string) => Type.Array(item, { maxItems: LIMITS.listItems, description })

export const IssueMatcherSchema = Type.Object({
  testGlob: text(LIMITS.glob, 'glob on the test path `collection/test[/subtest...]` (`kvm/cpuid_test`, `memfd/*`): `*` any run of characters, `?` one; a test\'s glob also covers its subtests'),
  reasonRegex: Type.Optional(Nullable(text(LIMITS.regex, 'a regular expression (JavaScript syntax, matched in linear time: no back-references or lookarounds) the reason must contain a match of'))),
  logRegex: Type.Optional(Nullable(text(LIMITS.regex, "a regular expression (as reasonRegex) one of the test's log lines must contain a match of"))),
  exitCode: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 255 }))),
  statuses: Type.Optional(Type.Array(Type.Enum(FAILING_STATUSES), { maxItems: FAILING_STATUSES.length, description: 'failing statuses the issue is about; empty for any failure' })),
  kernelTrouble: Type.Optional(Type.Boolean({
    description: 'the issue also explains kernel trouble (WARNING, BUG, Oops, a false pass) in the results it matches; false by default, so that an issue filed for a failure never hides a new WARNING in the same test',
  })),
}, { additionalProperties: false })

export const IssueScopeSchema = Type.Object({
  series: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }), { maxItems: LIMITS.listItems, description: 'series ids; empty for every series' })),
  machines: Type.Optional(list(Type.String({ minLength: 1, maxLength: LIMITS.name }), 'machine names; empty for every machine')),
  arch: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 32 }))),
  cpuFlags: Type.Optional(list(Type.String({ pattern: '^[a-z0-9_]{1,32}$' }), 'CPU flags the machine must all have (sev_snp, tdx)')),
  kernelGlob: Type.Optional(Nullable(text(200, 'glob on the kernel release (`6.12.*`)'))),
  versionsFrom: Type.Optional(Nullable(text(200, 'the first version label matched (v3)'))),
  versionsTo: Type.Optional(Nullable(text(200, 'the last version label matched (v7)'))),
}, { additionalProperties: false })

export const IssueBodySchema = Type.Object({
  title: text(LIMITS.title, 'what the failure is, in a line'),
  url: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: LIMITS.url, pattern: '^https?://\\S+$', description: 'a bug report or a lore thread' }))),
  culprit: Type.Optional(CulpritSchema),
  intermittent: Type.Optional(Type.Boolean({ description: 'the failure comes and goes' })),
  matcher: IssueMatcherSchema,
  scope: Type.Optional(IssueScopeSchema),
}, { additionalProperties: false })
export type IssueBody = Static<typeof IssueBodySchema>

export const IssuePatchSchema = Type.Object({
  title: Type.Optional(IssueBodySchema.properties.title),
  url: IssueBodySchema.properties.url,
  culprit: IssueBodySchema.properties.culprit,
  intermittent: IssueBodySchema.properties.intermittent,
  matcher: Type.Optional(Type.Partial(IssueMatcherSchema)),
  scope: Type.Optional(IssueScopeSchema),
  active: Type.Optional(Type.Boolean({ description: 'false resolves the issue, true reopens it' })),
}, { additionalProperties: false })
export type IssuePatchBody = Static<typeof IssuePatchSchema>

const FullMatcherSchema = Type.Object({
  testGlob: Type.String(),
  reasonRegex: Nullable(Type.String()),
  logRegex: Nullable(Type.String()),
  exitCode: Nullable(Type.Integer()),
  statuses: Type.Array(Type.Enum(FAILING_STATUSES)),
  kernelTrouble: Type.Boolean(),
})

const FullScopeSchema = Type.Object({
  series: Type.Array(Type.Integer()),
  machines: Type.Array(Type.String()),
  arch: Nullable(Type.String()),
  cpuFlags: Type.Array(Type.String()),
  kernelGlob: Nullable(Type.String()),
  versionsFrom: Nullable(Type.String()),
  versionsTo: Nullable(Type.String()),
})

export const IssueSchema = Type.Object({
  id: Type.Integer(),
  title: Type.String(),
  url: Nullable(Type.String()),
  culprit: CulpritSchema,
  intermittent: Type.Boolean(),
  active: Type.Boolean(),
  matcher: FullMatcherSchema,
  scope: FullScopeSchema,
  createdAt: Type.String(),
  createdBy: Type.String(),
  updatedAt: Type.String(),
  resolvedAt: Nullable(Type.String()),
  matchedResults: Type.Integer({ description: 'results it matched over every stored run' }),
  matchedRuns: Type.Integer(),
})
export type IssueView = Static<typeof IssueSchema>

export const IssueListSchema = Type.Object({ issues: Type.Array(IssueSchema) })

export const IssueDetailSchema = Type.Object({
  issue: IssueSchema,
  matches: Type.Array(Type.Object({
    seriesId: Type.Integer(),
    series: Type.String(),
    version: Type.String(),
    machine: Type.String(),
    results: Type.Integer(),
    runs: Type.Integer(),
    lastRunId: Type.Integer(),
  }), { description: 'where it matched, per series, version and machine, in version order' }),
  perhapsFixed: Type.Array(Type.Object({
    seriesId: Type.Integer(),
    series: Type.String(),
    machine: Type.String(),
    version: Type.String({ description: 'the newest version the machine ran, where every case the issue matched before passed' }),
    lastMatchedVersion: Type.String(),
  }), { description: 'where the issue stopped matching: the test now passes where it used to match. A hint; resolve the issue to act on it' }),
  audit: Type.Array(Type.Object({
    at: Type.String(),
    actor: Type.String({ description: 'the name of the token that made the change' }),
    action: Type.Enum(AUDIT_ACTIONS),
    changes: Type.Record(Type.String(), Type.Object({ from: Type.Unknown(), to: Type.Unknown() })),
  })),
})

export const UntriagedQuerySchema = Type.Object({
  version: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'default: the newest version of the series' })),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
})

export const UntriagedSchema = Type.Object({
  series: Type.Object({ id: Type.Integer(), name: Type.String() }),
  version: Type.String(),
  failures: Type.Array(Type.Object({
    collection: Type.String(),
    test: Type.String(),
    path: Type.Array(Type.String()),
    testPath: Type.String({ description: 'as a known issue\'s glob writes it' }),
    machine: Type.String(),
    status: StatusSchema,
    reason: Nullable(Type.String()),
    infrastructure: Nullable(Type.String({ description: 'evidence that the harness or lab failed, not the kernel' })),
    firstSeen: Type.Object({ version: Type.String(), machine: Type.String() }, { description: 'the first version (and a machine) where it failed in this series' }),
    failingVersions: Type.Integer({ description: 'how many versions of the series it has failed in, on any machine' }),
  })),
  total: Type.Integer({ description: 'untriaged failures in that version, beyond the listed ones too' }),
})
