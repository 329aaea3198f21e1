import { Type, type Static } from 'typebox'
import { MATRIX_PAGE_CELLS } from '../queries/matrix.ts'
import { BUCKET_DESCRIPTIONS, COMPARE_BUCKETS, DEFAULT_GATE_BUCKETS, PASS_RATE_RULE, type CompareBucket } from '../queries/verdict.ts'
import {
  MAX_SUSPECTS, PATCH_CHANGE_DESCRIPTIONS, PATCH_CHANGES, SUSPECT_BUCKETS, SUSPECT_EVIDENCE, SUSPECT_EVIDENCE_DESCRIPTIONS,
} from '../queries/patch-delta.ts'
import { FlagSchema, LineRangeSchema, Nullable, StatusSchema, SummarySchema } from './common.ts'
import { IssueRefSchema } from './issues.ts'
import { PatchSchema } from './patches.ts'

/**
 * The contract of the trend API (series, trend, compare, matrix, flaky, history, machines). The
 * dashboard and `ksft gate` are built against these shapes: add fields, never rename or remove.
 */

export { COMPARE_BUCKETS, type CompareBucket }
export const CompareBucketSchema = Type.Enum(COMPARE_BUCKETS, {
  description: 'each test or subtest on each machine lands in the first bucket that applies, in this order of precedence: ' +
    'missing/not_run (absent in head), new_failure/new_kernel_trouble/new (absent in base), flaky, regression, new_kernel_trouble, ' +
    'still_failing, fixed, still_kernel_trouble, unchanged; then triage: an entry in regression, new_failure, new_kernel_trouble, still_failing, still_kernel_trouble or flaky ' +
    'whose failing and troubled head results all match active known issues is known, else one whose failing head results all show infrastructure evidence is infrastructure. ' +
    COMPARE_BUCKETS.map(bucket => `${bucket}: ${BUCKET_DESCRIPTIONS[bucket]}`).join('; ') +
    `. ksft gate fails by default on ${DEFAULT_GATE_BUCKETS.join(', ')}`,
})

export const SeriesParamsSchema = Type.Object({
  id: Type.String({
    minLength: 1,
    maxLength: 300,
    description: 'the series id, or its name URL-encoded (any title it was uploaded under, in any case and spacing); a name made only of digits is read as an id',
  }),
})

const limit = (byDefault: number, max: number, what: string) => Type.Integer({
  minimum: 1, maximum: max, default: byDefault, description: `${what} per page`,
})
/**
 * The filters, named alike on every endpoint. Aggregates below the run (matrix cells, compare and
 * flaky entries) are kept per version and machine, so there a machine counts in a version, or not,
 * as a whole.
 */
const collectionFilter = Type.Optional(Type.String({ minLength: 1, description: 'only this collection, e.g. kvm' }))
const machineFilter = Type.Optional(Type.String({ minLength: 1, description: 'only runs on this machine' }))
const archFilter = Type.Optional(Type.String({
  minLength: 1, description: "only runs on this architecture (the run's, else its machine's)",
}))
const machineArchFilter = Type.Optional(Type.String({
  minLength: 1,
  description: "only machines that ran a version on this architecture (the run's, else its machine's): a machine's results in a version count when one of its runs there is of it",
}))
const cursor = Type.Optional(Type.String({
  minLength: 1, maxLength: 4000, description: 'the nextCursor of the previous page',
}))
const nextCursor = Nullable(Type.String({ description: 'pass as cursor for the next page; null on the last page' }))

export const SeriesRefSchema = Type.Object({ id: Type.Integer(), name: Type.String() })

export const VersionRefSchema = Type.Object({
  id: Type.Integer(),
  label: Type.String({ description: 'v1, v2, ..., RFC v3, or base for the unpatched tree' }),
  messageId: Nullable(Type.String({ description: "Message-ID of the version's cover letter" })),
  loreUrl: Nullable(Type.String()),
})

/** The answer to a GET whose If-None-Match holds the current ETag. */
export const NotModifiedSchema = Type.Null({ description: 'Not Modified: the ETag in If-None-Match is still current' })

/** A place in a raw log, as the dashboard's run page shows it. */
export const RunLinkSchema = Type.Object({
  runId: Type.Integer(),
  machine: Type.String(),
  status: StatusSchema,
  lines: LineRangeSchema,
  url: Type.String({ description: 'the run page at those lines, /runs/<id>#L<from>-L<to>' }),
})
export type RunLink = Static<typeof RunLinkSchema>

// ---- GET /api/v1/series

export const SeriesListQuerySchema = Type.Object({
  limit: limit(50, 500, 'series'),
  cursor,
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 300, description: 'only series one of whose names (every title it was uploaded under) contains this, in any case and spacing' })),
})

/** How many versions, the latest, the series list gives a pass rate for: what its sparkline draws. */
export const SERIES_PASS_RATES = 20

export const VersionPassRateSchema = Type.Object({
  id: Type.Integer(),
  label: Type.String(),
  passRate: Nullable(Type.Number({ description: 'as the trend gives it, over every run of the version; null when nothing ran' })),
  incompleteRuns: Type.Integer({ description: 'runs of the version that stopped early' }),
})

export const VersionSummarySchema = Type.Object({
  ...VersionRefSchema.properties,
  runs: Type.Integer(),
  machines: Type.Integer(),
  summary: SummarySchema,
  notRun: Type.Integer({ description: 'tests the plans of its runs promised that never ran' }),
  incompleteRuns: Type.Integer({ description: 'its runs that stopped early' }),
})

export const SeriesItemSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  url: Type.String({ description: 'the series page of the dashboard' }),
  createdAt: Type.String(),
  versions: Type.Integer(),
  runs: Type.Integer(),
  machines: Type.Integer(),
  latestVersion: Type.Object(VersionSummarySchema.properties, {
    description: 'the last version in version order, with its tests counted over its runs',
  }),
  passRates: Type.Array(VersionPassRateSchema, {
    description: `the last ${SERIES_PASS_RATES} versions in version order (base first), each with its pass rate`,
  }),
  names: Type.Array(Type.String(), { description: 'every title the series was uploaded under and every name an admin gave it, oldest first (docs/series.md)' }),
  changeIds: Type.Array(Type.String(), { description: "the series' b4 change-ids: uploads with one land here whatever their title" }),
})
export type SeriesItem = Static<typeof SeriesItemSchema>

export const SeriesListSchema = Type.Object({
  series: Type.Array(SeriesItemSchema, { description: 'newest first' }),
  nextCursor,
})

// ---- GET /api/v1/series/:id/trend

export const TrendQuerySchema = Type.Object({
  collection: collectionFilter,
  machine: machineFilter,
  arch: archFilter,
})

export const TrendPointSchema = Type.Object({
  ...VersionRefSchema.properties,
  runs: Type.Integer({ description: 'runs counted (with the filters)' }),
  machines: Type.Integer({ description: 'distinct machines of those runs' }),
  summary: SummarySchema,
  notRun: Type.Integer({ description: 'tests the plans of these runs promised that never ran (the runs stopped early)' }),
  incompleteRuns: Type.Integer({ description: 'runs counted that stopped early: a panic, a hang, a cut log (see the run page for why); with a collection filter, runs whose stream of that collection stopped early' }),
  passRate: Nullable(Type.Number({ description: PASS_RATE_RULE })),
})
export type TrendPoint = Static<typeof TrendPointSchema>

export const TrendSchema = Type.Object({
  series: SeriesRefSchema,
  filters: Type.Object({ collection: Nullable(Type.String()), machine: Nullable(Type.String()), arch: Nullable(Type.String()) }),
  versions: Type.Array(TrendPointSchema, {
    description: 'every version of the series in version order (base first); tests counted over the runs, a test run twice counts twice',
  }),
})
export type TrendResponse = Static<typeof TrendSchema>

// ---- GET /api/v1/series/:id/compare

export const CompareQuerySchema = Type.Object({
  base: Type.String({ minLength: 1, description: 'the version compared from: a label such as v6, or base' }),
  head: Type.String({ minLength: 1, description: 'the version compared to, e.g. v7' }),
  machine: Type.Optional(Type.String({ minLength: 1, description: 'only this machine' })),
  arch: machineArchFilter,
  collection: collectionFilter,
  bucket: Type.Optional(CompareBucketSchema),
  limit: Type.Integer({
    minimum: 0, maximum: 1000, default: 100, description: 'entries per page; 0 for the counts alone (no entries, nextCursor null)',
  }),
  cursor,
})

export const CompareRunSchema = Type.Object({
  ...RunLinkSchema.properties,
  reason: Nullable(Type.String({ description: 'why it failed or was skipped, as the log says' })),
  exitCode: Nullable(Type.Integer()),
  timeoutSeconds: Nullable(Type.Integer()),
  flags: Type.Array(FlagSchema),
  complete: Type.Boolean({ description: 'whether its run finished' }),
  knownIssues: Type.Array(Type.Integer(), { description: 'ids of the active known issues that matched this result' }),
})

export const CompareSideSchema = Type.Object({
  machines: Type.Array(Type.String(), { description: 'the machine whose runs this side counts (always the entry\'s machine)' }),
  status: Type.Union([StatusSchema, Type.Null()], { description: 'the worst status over the runs; null when absent' }),
  counts: SummarySchema,
  reason: Nullable(Type.String({ description: "the first failing result's reason, else the first result's (a skip's requirement, an assertion, an exit code)" })),
  exitCode: Nullable(Type.Integer()),
  timeoutSeconds: Nullable(Type.Integer({ description: 'when it timed out: after how long' })),
  kernelTrouble: Type.Array(FlagSchema, { description: 'kernel trouble and false passes seen in its results' }),
  complete: Type.Boolean({ description: 'whether a run of this side on the machine finished; when none did, tests absent from it are not_run' }),
  runs: Type.Array(CompareRunSchema, { description: 'every result counted, with its place in the log' }),
})

export const PatchChangeSchema = Type.Enum(PATCH_CHANGES, {
  description: PATCH_CHANGES.map(change => `${change}: ${PATCH_CHANGE_DESCRIPTIONS[change]}`).join('; '),
})

export const SuspectSchema = Type.Object({
  change: PatchChangeSchema,
  patch: Type.Object(PatchSchema.properties, { description: 'the patch as head has it (as base had it, when dropped)' }),
  strength: Type.Enum(SUSPECT_EVIDENCE, { description: 'the kind of its strongest evidence' }),
  evidence: Type.Array(Type.Object({
    kind: Type.Enum(SUSPECT_EVIDENCE, { description: SUSPECT_EVIDENCE.map(kind => `${kind}: ${SUSPECT_EVIDENCE_DESCRIPTIONS[kind]}`).join('; ') }),
    file: Nullable(Type.String({ description: 'the file of the patch that is the evidence' })),
    matched: Nullable(Type.String({ description: "what it matched: the test, its collection's directory, or the location the failure names" })),
  }), { description: 'strongest first' }),
}, { description: 'a changed patch, ranked by what ties it to the failure: a hint where to look first, never a verdict' })
export type SuspectView = Static<typeof SuspectSchema>

export const PatchDeltaSchema = Type.Object({
  available: Type.Boolean({ description: 'both versions have a patch list (base, the unpatched tree, has an empty one): the delta below is complete' }),
  base: Type.Object({ label: Type.String(), patches: Nullable(Type.Integer({ description: 'its patches; null when no run of it reported a list' })) }),
  head: Type.Object({ label: Type.String(), patches: Nullable(Type.Integer()) }),
  summary: Type.String({ description: '"v6→v7: 2 patches modified, 1 added", or which version has no patch list' }),
  counts: Type.Object(Object.fromEntries(PATCH_CHANGES.map(change => [change, Type.Integer()])) as Record<(typeof PATCH_CHANGES)[number], ReturnType<typeof Type.Integer>>),
  entries: Type.Array(Type.Object({
    change: PatchChangeSchema,
    moved: Type.Boolean({ description: 'a modified patch that also moved against the others' }),
    base: Nullable(PatchSchema),
    head: Nullable(PatchSchema),
  }), { description: "every patch of both versions, in head's order; a dropped one after its predecessor in base" }),
}, { description: "what changed in the series' patches from base to head, as git range-diff reads it (docs/series.md)" })
export type PatchDeltaView = Static<typeof PatchDeltaSchema>

export const CompareEntrySchema = Type.Object({
  bucket: CompareBucketSchema,
  collection: Type.String(),
  test: Type.String(),
  path: Type.Array(Type.String(), { description: 'subtest names under the test; empty for the test itself' }),
  machine: Type.String({ description: 'the machine this entry is about' }),
  sameMachine: Type.Boolean({
    description: 'always true: a machine is compared only with itself (machines that ran one version are listed in unpaired)',
  }),
  machineSpecific: Type.Boolean({
    description: 'in head this test fails on some machines and passes on others: the machines differ, not the runs (not flaky)',
  }),
  newKernelTrouble: Type.Array(FlagSchema, { description: 'trouble flags in head that base did not show' }),
  knownIssues: Type.Array(IssueRefSchema, { description: "active known issues that matched head's results (for fixed, base's); in known they explain all of them" }),
  triagedFrom: Nullable(CompareBucketSchema),
  infrastructure: Nullable(Type.String({ description: "evidence that head's failure is the harness's or the lab's, not the kernel's" })),
  perhapsFixed: Type.Boolean({ description: 'fixed, where a known issue had matched base: the issue may be fixed too' }),
  base: CompareSideSchema,
  head: CompareSideSchema,
  suspects: Type.Optional(Type.Array(SuspectSchema, {
    maxItems: MAX_SUSPECTS,
    description: `in ${SUSPECT_BUCKETS.join(', ')}: the patches that changed between the versions, ranked by what ties them to this failure (at most ${MAX_SUSPECTS}); empty when the delta is unknown or empty`,
  })),
  suspectCount: Type.Optional(Type.Integer({ description: 'every changed patch ranked, more than suspects holds when it is cut' })),
  deltaEmpty: Type.Optional(Type.Boolean({ description: "in those buckets: true when both versions have the same patches, so the change is not in the series (the base moved, the machine changed, or it is flaky)" })),
})
export type CompareEntry = Static<typeof CompareEntrySchema>

const bucketCounts = (description: string) => Type.Object(
  Object.fromEntries([...COMPARE_BUCKETS, 'unchanged' as const].map(bucket => [bucket, Type.Integer({ description: BUCKET_DESCRIPTIONS[bucket] })])) as
    Record<CompareBucket | 'unchanged', ReturnType<typeof Type.Integer>>,
  { description })
export const BucketCountsSchema = bucketCounts('tests and subtests per bucket, each counted once: in the first bucket (in bucket order) that any paired machine puts it in; over the whole comparison with its machine, arch and collection filters (all pages, any bucket filter ignored)')
export const MachineBucketCountsSchema = bucketCounts('entries per bucket: one per test or subtest and paired machine')
export type BucketCounts = Static<typeof BucketCountsSchema>

export const CompareSchema = Type.Object({
  series: SeriesRefSchema,
  base: Type.Object({ ...VersionRefSchema.properties, machines: Type.Array(Type.String()) }),
  head: Type.Object({ ...VersionRefSchema.properties, machines: Type.Array(Type.String()) }),
  machine: Nullable(Type.String()),
  arch: Nullable(Type.String()),
  collection: Nullable(Type.String()),
  pairedMachines: Type.Array(Type.String(), { description: 'machines that ran both versions: the only ones compared' }),
  unpaired: Type.Object({
    base: Type.Array(Type.String(), { description: 'machines that ran base but not head: not compared' }),
    head: Type.Array(Type.String(), { description: 'machines that ran head but not base: not compared' }),
  }),
  absentSide: Type.Union([Type.Literal('base'), Type.Literal('head'), Type.Literal('both'), Type.Null()], {
    description: 'when no machine (or not the machine asked for) ran both versions: which version it lacks; null when something was compared',
  }),
  incomplete: Type.Object({
    base: Type.Array(Type.String(), { description: 'paired machines none of whose base runs finished' }),
    head: Type.Array(Type.String(), { description: 'paired machines none of whose head runs finished: what they lack is not_run' }),
  }),
  counts: BucketCountsSchema,
  machineCounts: MachineBucketCountsSchema,
  entries: Type.Array(CompareEntrySchema, {
    description: 'one per test or subtest and machine, by bucket, collection, test, subtest path and machine',
  }),
  nextCursor,
  delta: Type.Optional(PatchDeltaSchema),
})
export type CompareResponse = Static<typeof CompareSchema>

// ---- GET /api/v1/series/:id/matrix

export const MatrixQuerySchema = Type.Object({
  collection: collectionFilter,
  machine: machineFilter,
  arch: machineArchFilter,
  limit: Type.Integer({
    minimum: 1, maximum: 500, default: 50,
    description: `tests (each with all its subtests) per page at most: a page takes no further test once its cells (rows times versions) would pass ${MATRIX_PAGE_CELLS}, and holds at least one; nextCursor goes on`,
  }),
  cursor,
})

export const MatrixCellSchema = Type.Object({
  ...SummarySchema.properties,
  machines: Type.Integer(),
  machineSet: Type.Integer({ minimum: 0, description: 'the machines counted: their index in machineSets' }),
  trouble: Type.Integer({ description: 'results with kernel trouble (WARNING, BUG, Oops, panic, RCU stall, call trace) or a false pass' }),
  failingMachines: Type.Integer({ description: 'machines whose results here only failed' }),
  passingMachines: Type.Integer({ description: 'machines whose results here only passed (pass or xfail)' }),
  mixedMachines: Type.Integer({ description: 'machines whose runs here disagree: flaky. failingMachines and passingMachines both above 0 is machine-specific instead' }),
  known: Type.Integer({ description: 'failing or troubled results that an active known issue matched' }),
  explained: Type.Boolean({ description: 'every failing and troubled result here is explained by an active known issue (the comparison would call it known); false when only some are' }),
}, { description: 'results counted per status over the runs and machines of one version; total is the number of results' })

export const MatrixRowSchema = Type.Object({
  collection: Type.String(),
  test: Type.String(),
  path: Type.Array(Type.String(), { description: 'empty for a test; the subtest names under it otherwise' }),
  hasSubtests: Type.Boolean({ description: 'rows that follow, with a longer path, fold under this one' }),
  cells: Type.Array(Nullable(MatrixCellSchema), { description: 'one per entry of versions, in the same order; null where absent' }),
})
export type MatrixRow = Static<typeof MatrixRowSchema>

export const MatrixSchema = Type.Object({
  series: SeriesRefSchema,
  versions: Type.Array(VersionRefSchema, { description: 'the columns, in version order' }),
  // sets named once and numbered in the cells: a list of names in each of a page's 20 000 cells
  // made the answer 40% bigger and its serialization several times slower
  machineSets: Type.Array(Type.Array(Type.String()), { description: "the machines of the cells' machineSet, each set by name" }),
  rows: Type.Array(MatrixRowSchema, { description: 'each test followed by its subtests, depth first' }),
  nextCursor,
})
export type MatrixResponse = Static<typeof MatrixSchema>

// ---- GET /api/v1/series/:id/flaky

export const FlakyQuerySchema = Type.Object({
  collection: collectionFilter,
  machine: machineFilter,
  arch: machineArchFilter,
  limit: limit(100, 1000, 'entries'),
  cursor,
})

export const FlakyVersionSchema = Type.Object({
  version: Type.String(),
  runs: Type.Integer({ description: 'results of this test on this machine in this version' }),
  pass: Type.Integer({ description: 'pass or xfail' }),
  fail: Type.Integer({ description: 'fail, xpass, timeout or error' }),
  skip: Type.Integer(),
  passRatio: Type.String({ description: 'pass:runs, e.g. 2:3' }),
  failRatio: Type.String({ description: 'fail:runs, as the fail:runs column of kernel test robot reports' }),
  mixed: Type.Boolean({ description: 'some runs of this version passed and some failed' }),
})

export const FlakyEntrySchema = Type.Object({
  collection: Type.String(),
  test: Type.String(),
  path: Type.Array(Type.String()),
  machine: Type.String(),
  mixedVersions: Type.Integer({ description: 'versions in which its runs on this machine disagree (at least 1: that is what flaky means)' }),
  flips: Type.Integer({ description: 'history, not flakiness: changes between passing and failing from version to version, over the versions where it only passed or only failed (regressed then fixed is 2)' }),
  versions: Type.Array(FlakyVersionSchema, { description: 'every version where it ran on this machine, in version order' }),
})
export type FlakyEntry = Static<typeof FlakyEntrySchema>

export const FlakySchema = Type.Object({
  series: SeriesRefSchema,
  entries: Type.Array(FlakyEntrySchema, {
    description: 'tests whose runs of one version on one machine disagree (mixedVersions > 0), per machine; a test that only changed from version to version is not flaky',
  }),
  nextCursor,
})
export type FlakyResponse = Static<typeof FlakySchema>

// ---- GET /api/v1/series/:id/collections

export const CollectionSchema = Type.Object({
  name: Type.String(),
  tests: Type.Integer({ description: 'its tests (not subtests) that the series ran, in any version' }),
})

export const CollectionsSchema = Type.Object({
  series: SeriesRefSchema,
  collections: Type.Array(CollectionSchema, { description: 'every collection the series ran, by name' }),
})
export type CollectionsResponse = Static<typeof CollectionsSchema>

// ---- GET /api/v1/tests/history

export const HistoryQuerySchema = Type.Object({
  collection: Type.String({ minLength: 1 }),
  test: Type.String({ minLength: 1 }),
  subtest: Type.Optional(Type.Array(Type.String({ minLength: 1 }), {
    description: 'the subtest path: repeat the parameter for each level (subtest=outer&subtest=inner)',
  })),
  series: Type.Optional(Type.String({ minLength: 1, description: 'only this series (id or exact name)' })),
  machine: Type.Optional(Type.String({ minLength: 1 })),
  limit: limit(200, 1000, 'results'),
  cursor,
})

export const HistoryEntrySchema = Type.Object({
  series: SeriesRefSchema,
  version: VersionRefSchema,
  machine: Type.String(),
  runId: Type.Integer(),
  kernel: Nullable(Type.String()),
  status: StatusSchema,
  reason: Nullable(Type.String()),
  flags: Type.Array(FlagSchema),
  exitCode: Nullable(Type.Integer()),
  timeoutSeconds: Nullable(Type.Integer()),
  lines: LineRangeSchema,
  url: Type.String({ description: 'the run page at the lines of this result' }),
  knownIssues: Type.Array(IssueRefSchema, { description: 'active known issues that matched this result' }),
})
export type HistoryEntry = Static<typeof HistoryEntrySchema>

export const HistorySchema = Type.Object({
  collection: Type.String(),
  test: Type.String(),
  path: Type.Array(Type.String()),
  counts: Type.Object(SummarySchema.properties, { description: 'every result of it (all pages), with the series and machine filters' }),
  entries: Type.Array(HistoryEntrySchema, { description: 'by series, version order, machine, run' }),
  nextCursor,
})
export type HistoryResponse = Static<typeof HistorySchema>

// ---- GET /api/v1/machines

export const MachinesQuerySchema = Type.Object({
  limit: limit(100, 1000, 'machines'),
  cursor,
})

/** How many series, the newest, each machine lists with the versions it ran. */
export const MACHINE_SERIES = 20

export const MachineSeriesSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  versions: Type.Array(Type.String(), { description: 'the labels of the versions it ran on the machine, in version order' }),
})
export type MachineSeries = Static<typeof MachineSeriesSchema>

export const MachineSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  arch: Nullable(Type.String()),
  cpu: Nullable(Type.String()),
  flags: Type.Array(Type.String()),
  kernel: Nullable(Type.String({ description: 'the kernel of its latest upload that named one' })),
  runs: Type.Integer(),
  firstSeenAt: Type.String(),
  lastSeenAt: Type.String(),
  series: Type.Array(MachineSeriesSchema, { description: `the series it ran, newest first, at most ${MACHINE_SERIES}` }),
  seriesCount: Type.Integer({ description: 'every series it ran: more than the length of series when that list is cut' }),
})
export type MachineItem = Static<typeof MachineSchema>

export const MachinesSchema = Type.Object({
  machines: Type.Array(MachineSchema, { description: 'by name' }),
  nextCursor,
})

// ---- GET /api/v1/series/:id/summary.txt

export const SummaryTextQuerySchema = Type.Object({
  base: Type.String({ minLength: 1, description: 'the version compared from, e.g. v6 or base' }),
  head: Type.String({ minLength: 1, description: 'the version compared to, e.g. v7' }),
})

export const SummaryTextSchema = Type.String({
  description: 'plain text: a versions x machines table of runs and tests per status, then the regressions, new failures and fixes from base to head, then the lore links',
})
