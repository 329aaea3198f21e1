import { Type, type Static } from 'typebox'
import { FLAGS, STATUSES } from '../../ingest/index.ts'
import { SummarySchema } from '../schemas/common.ts'

/**
 * The part of the KCIDB I/O schema v5.3 (kernelci/kcidb-io, kcidb_io/schema/v05_03.py) that a
 * ksft-dashboard export fills in, with the same property names and patterns, and stricter where
 * the export promises more: the properties it always sets are required, test paths start with
 * `kselftest.<collection>.<test>`, and its own `misc` objects have a fixed shape. A document valid
 * here is valid KCIDB v5.3. docs/kcidb-v5.3-subset.schema.json is written from this definition
 * (`node --import tsx server/export/write-kcidb-schema.ts`) and a test checks that it is current.
 */

export const KCIDB_VERSION = { major: 5, minor: 3 } as const

/** KCIDB's origin: the name of the submitting CI system. */
export const ORIGIN_PATTERN = '^[a-z0-9_]+$'
/** KCIDB's object ids: `<origin>:<anything that origin makes unique>`. */
const ID_PATTERN = '^[a-z0-9_]+:.+$'
/** KCIDB v5 test paths, here rooted at `kselftest` with a collection and a test at least. */
export const TEST_PATH_PATTERN = '^kselftest(\\.[a-zA-Z0-9_-]+){2,}$'
/** KCIDB refuses NUL in its text properties. */
const NO_NUL = '^[^\\u0000]*$'
export const LOG_EXCERPT_MAX = 16384

/** KCIDB v5.3 statuses, highest priority first. */
export const KCIDB_STATUSES = ['FAIL', 'ERROR', 'MISS', 'PASS', 'DONE', 'SKIP'] as const
export type KcidbStatus = (typeof KCIDB_STATUSES)[number]

const Text = (description?: string) => Type.String({ pattern: NO_NUL, ...(description ? { description } : {}) })

export const KcidbCheckoutSchema = Type.Object({
  id: Type.String({ pattern: ID_PATTERN, description: '<origin>:version-<version id>' }),
  origin: Type.String({ pattern: ORIGIN_PATTERN }),
  tree_name: Type.Optional(Text()),
  git_repository_url: Type.Optional(Type.String({ format: 'uri' })),
  git_commit_hash: Type.Optional(Type.String({ pattern: '^[0-9a-f]{40}$', description: 'the commit the series applies to, when uploaded in full' })),
  patchset_hash: Type.Optional(Type.String({ pattern: '^$|^[0-9a-f]{64}$' })),
  message_id: Type.Optional(Type.String({ format: 'email', description: "the Message-ID of the version's cover letter" })),
  comment: Text('the series name and the version label'),
  misc: Type.Object({
    series: Type.String(),
    series_id: Type.Integer(),
    version: Type.String(),
    version_id: Type.Integer(),
    lore_url: Type.Optional(Type.String()),
    base_commit: Type.Optional(Type.String({ description: 'the base commit as uploaded, when it is not a full hash' })),
    message_id: Type.Optional(Type.String({ description: 'the Message-ID, when it is not shaped like an e-mail address' })),
  }, { additionalProperties: false }),
}, { additionalProperties: false })

export const KcidbBuildSchema = Type.Object({
  id: Type.String({ pattern: ID_PATTERN, description: '<origin>:run-<run id>' }),
  origin: Type.String({ pattern: ORIGIN_PATTERN }),
  checkout_id: Type.String({ pattern: ID_PATTERN }),
  comment: Text(),
  start_time: Type.Optional(Type.String({ format: 'date-time' })),
  architecture: Type.Optional(Type.String({ pattern: '^[a-z0-9_]*$' })),
  misc: Type.Object({
    ksft_run_id: Type.Integer(),
    machine: Type.String(),
    arch: Type.Optional(Type.String({ description: 'the architecture as uploaded, when KCIDB needed it respelled' })),
    kernel: Type.Optional(Type.String()),
    commit: Type.Optional(Type.String()),
    job_url: Type.Optional(Type.String()),
    uploaded_at: Type.String({ format: 'date-time' }),
    log_sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    log_lines: Type.Integer(),
    summary: SummarySchema,
    warnings: Type.Optional(Type.Array(Type.String())),
  }, { additionalProperties: false }),
}, { additionalProperties: false })

export const KcidbTestSchema = Type.Object({
  id: Type.String({ pattern: ID_PATTERN, description: '<origin>:run-<run id>:<path>' }),
  origin: Type.String({ pattern: ORIGIN_PATTERN }),
  build_id: Type.String({ pattern: ID_PATTERN }),
  path: Type.String({ pattern: TEST_PATH_PATTERN }),
  comment: Text('the original names, collection first'),
  status: Type.Enum(KCIDB_STATUSES),
  log_url: Type.Optional(Type.String({ format: 'uri' })),
  log_excerpt: Type.String({ maxLength: LOG_EXCERPT_MAX, pattern: NO_NUL }),
  duration: Type.Optional(Type.Number({ minimum: 0 })),
  environment: Type.Object({
    comment: Text('the machine'),
    misc: Type.Object({
      machine: Type.String(),
      cpu: Type.Optional(Type.String()),
      flags: Type.Array(Type.String()),
      arch: Type.Optional(Type.String()),
      kernel: Type.Optional(Type.String()),
    }, { additionalProperties: false }),
  }, { additionalProperties: false }),
  misc: Type.Object({
    ksft_status: Type.Enum(STATUSES, { description: 'the status as kselftest reported it' }),
    names: Type.Array(Type.String(), { minItems: 2, description: 'collection, test and subtests, unslugged' }),
    reason: Type.Optional(Type.String()),
    exit_code: Type.Optional(Type.Integer()),
    timeout_seconds: Type.Optional(Type.Integer()),
    tap_number: Type.Optional(Type.Integer()),
    flags: Type.Optional(Type.Array(Type.Enum(FLAGS))),
    log_lines: Type.Tuple([Type.Integer({ minimum: 1 }), Type.Integer({ minimum: 1 })]),
  }, { additionalProperties: false }),
}, { additionalProperties: false })

export const KcidbIssueSchema = Type.Object({
  id: Type.String({ pattern: ID_PATTERN, description: '<origin>:issue-<known issue id>' }),
  version: Type.Integer({ minimum: 0, description: 'how many times the known issue was edited, resolved or reopened since it was recorded' }),
  origin: Type.String({ pattern: ORIGIN_PATTERN }),
  report_url: Type.Optional(Type.String({ format: 'uri' })),
  report_subject: Text('the known issue\'s title'),
  culprit: Type.Optional(Type.Object({
    code: Type.Boolean(),
    tool: Type.Boolean(),
    harness: Type.Boolean(),
  }, { additionalProperties: false, description: 'kernel: code, test: tool, infrastructure: harness; left out for an unknown culprit (KCIDB reads all false as invalid)' })),
  comment: Text(),
  misc: Type.Object({
    ksft_issue_id: Type.Integer(),
    test_glob: Type.String(),
    intermittent: Type.Boolean(),
    active: Type.Boolean(),
  }, { additionalProperties: false }),
}, { additionalProperties: false })

export const KcidbIncidentSchema = Type.Object({
  id: Type.String({ pattern: ID_PATTERN, description: '<origin>:incident-<known issue id>-run-<run id>:<path>' }),
  origin: Type.String({ pattern: ORIGIN_PATTERN }),
  issue_id: Type.String({ pattern: ID_PATTERN }),
  issue_version: Type.Integer({ minimum: 0 }),
  test_id: Type.String({ pattern: ID_PATTERN }),
  present: Type.Literal(true, { description: 'a known issue matched the test: it occurred there' }),
}, { additionalProperties: false })

export const KcidbDocumentSchema = Type.Object({
  version: Type.Object({
    major: Type.Integer({ const: KCIDB_VERSION.major }),
    minor: Type.Integer({ const: KCIDB_VERSION.minor }),
  }, { additionalProperties: false }),
  checkouts: Type.Array(KcidbCheckoutSchema),
  builds: Type.Array(KcidbBuildSchema),
  tests: Type.Array(KcidbTestSchema),
  issues: Type.Optional(Type.Array(KcidbIssueSchema, { description: 'the active known issues that matched some exported test' })),
  incidents: Type.Optional(Type.Array(KcidbIncidentSchema, { description: 'one per known issue and test it matched' })),
}, { additionalProperties: false })

export type KcidbIssue = Static<typeof KcidbIssueSchema>
export type KcidbIncident = Static<typeof KcidbIncidentSchema>
export type KcidbCheckout = Static<typeof KcidbCheckoutSchema>
export type KcidbBuild = Static<typeof KcidbBuildSchema>
export type KcidbTest = Static<typeof KcidbTestSchema>
export type KcidbDocument = Static<typeof KcidbDocumentSchema>

/** The JSON Schema file of docs/, as written from the definition above. */
export function kcidbSubsetJsonSchema (): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://ksft-dashboard/docs/kcidb-v5.3-subset.schema.json',
    title: 'ksft-dashboard KCIDB v5.3 export',
    description: 'The subset of the KCIDB I/O schema v5.3 that `ksft export kcidb` and GET /api/v1/runs/:id/kcidb.json produce. No property is ever null; absent values are omitted.',
    ...JSON.parse(JSON.stringify(KcidbDocumentSchema)) as Record<string, unknown>,
  }
}
