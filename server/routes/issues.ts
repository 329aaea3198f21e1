import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { globProblem, regexProblem } from '../domain/known-issue-matching.ts'
import type { IssueDefinition } from '../domain/known-issues.ts'
import { normalizeVersionLabel, versionLabelProblem, versionSortKey } from '../domain/version-label.ts'
import { KsftError } from '../errors.ts'
import { requireScope } from '../plugins/auth.ts'
import { findSeries } from '../queries/lookups.ts'
import { untriagedFailures } from '../queries/untriaged.ts'
import { errorResponses, IdParamsSchema } from '../schemas/common.ts'
import {
  IssueBodySchema, IssueDetailSchema, IssueListSchema, IssuePatchSchema, IssueSchema, UntriagedQuerySchema, UntriagedSchema,
  type IssueBody, type IssuePatchBody, type IssueView,
} from '../schemas/issues.ts'
import { SeriesParamsSchema } from '../schemas/trends.ts'
import type { IssueListRow, StoredIssue } from '../storage/rows.ts'
import type { StoreIssues, StoreTrends } from '../storage/store.ts'

const TAGS = ['issues']

/**
 * Known issues: triage a failure once (admin token), and every comparison, gate and summary
 * keeps it apart from what the series changed. Reading them needs no token.
 */
export const issueRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { issues, trends } = app.store
  const adminOnly = requireScope(app.store.tokens, 'admin')

  // a rematch cut short by a crash or a restart: caught up in the background, one step at a time
  let closing = false
  app.addHook('onClose', async () => { closing = true })
  app.addHook('onReady', async () => {
    const pending = await issues.pendingRematches()
    if (pending.length === 0) return
    void (async () => {
      for (const id of pending) {
        if (closing) return
        await issues.rematch(id)
      }
      app.log.info({ issues: pending }, 'known issues matched again after an interrupted rematch')
    })().catch(err => app.log.error({ err }, 'could not catch up interrupted known-issue matching'))
  })

  app.get('/api/v1/issues', {
    schema: {
      summary: 'Known issues, active first, with how many results each matched',
      tags: TAGS,
      querystring: Type.Object({ active: Type.Optional(Type.Boolean({ description: 'only active (true) or resolved (false) issues' })) }),
      response: { 200: IssueListSchema, ...errorResponses('BAD_REQUEST') },
    },
  }, async (request) => ({ issues: (await issues.list({ active: request.query.active })).map(view) }))

  app.get('/api/v1/issues/:id', {
    schema: {
      summary: 'A known issue: where it matched per version and machine, where it is perhaps fixed, and who changed it',
      tags: TAGS,
      params: IdParamsSchema,
      response: { 200: IssueDetailSchema, ...errorResponses('ISSUE_NOT_FOUND') },
    },
  }, async (request) => {
    const issue = await listed(issues, request.params.id)
    return { issue: view(issue), matches: await issues.matches(issue.id), perhapsFixed: await issues.perhapsFixed(issue.id), audit: await issues.audit(issue.id) }
  })

  app.post('/api/v1/issues', {
    preHandler: adminOnly,
    schema: {
      summary: 'Record a known issue and match it against every stored result (admin)',
      description: 'A matched failure keeps its status; comparisons put it in the `known` bucket and `ksft gate` does not fail on it unless `--fail-on known`.',
      tags: TAGS,
      security: [{ bearer: [] }],
      body: IssueBodySchema,
      response: { 201: IssueSchema, ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'BAD_REQUEST') },
    },
  }, async (request, reply) => {
    const definition = await definitionOf(trends, request.body)
    const created = await issues.create(definition, actorOf(request.token))
    request.log.info({ issue: created.id, token: request.token?.name }, 'known issue created')
    return reply.code(201).send(view(await listed(issues, created.id)))
  })

  app.patch('/api/v1/issues/:id', {
    preHandler: adminOnly,
    schema: {
      summary: 'Edit, resolve (active: false) or reopen (active: true) a known issue (admin)',
      description: 'A changed matcher or scope matches the issue again over every stored result. Every change is audited.',
      tags: TAGS,
      security: [{ bearer: [] }],
      params: IdParamsSchema,
      body: IssuePatchSchema,
      response: { 200: IssueSchema, ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'BAD_REQUEST', 'ISSUE_NOT_FOUND') },
    },
  }, async (request) => {
    const id = request.params.id
    const before = await listed(issues, id)
    const patch = await patchOf(trends, request.body, before)
    await issues.update(id, { ...patch, active: request.body.active }, actorOf(request.token))
    request.log.info({ issue: id, token: request.token?.name }, 'known issue changed')
    return view(await listed(issues, id))
  })

  app.get('/api/v1/series/:id/untriaged', {
    schema: {
      summary: 'Failures of a version (default: the newest) that no active known issue explains, with how long each has failed',
      tags: ['series', ...TAGS],
      params: SeriesParamsSchema,
      querystring: UntriagedQuerySchema,
      response: { 200: UntriagedSchema, ...errorResponses('BAD_REQUEST', 'SERIES_NOT_FOUND', 'VERSION_NOT_FOUND') },
    },
  }, async (request) => {
    const series = await findSeries(trends, request.params.id)
    const versions = await trends.versions(series.id)
    const label = request.query.version === undefined ? null : normalizeVersionLabel(request.query.version)
    const version = label === null ? versions.at(-1) : versions.find(candidate => candidate.label === label)
    if (version === undefined) {
      throw new KsftError('VERSION_NOT_FOUND', label === null ? `series ${series.id} has no versions` : `series ${series.id} has no version ${JSON.stringify(label)}`)
    }
    return { series, version: version.label, ...await untriagedFailures(trends, series.id, version.id, request.query.limit) }
  })
}

async function listed (issues: StoreIssues, id: number): Promise<IssueListRow> {
  const issue = await issues.listed(id)
  if (issue === null) throw new KsftError('ISSUE_NOT_FOUND', `no known issue ${id}`)
  return issue
}

function view (issue: IssueListRow): IssueView {
  return { ...issue, active: issue.resolvedAt === null }
}

function actorOf (token: { name: string } | null): string {
  return token?.name ?? 'unknown'
}

function bad (field: string, problem: string): KsftError {
  return new KsftError('BAD_REQUEST', `${field} ${problem}`)
}

function checkedMatcher (matcher: Partial<IssueDefinition['matcher']>): void {
  if (matcher.testGlob !== undefined) {
    const problem = globProblem(matcher.testGlob)
    if (problem) throw bad('matcher.testGlob', problem)
  }
  for (const field of ['reasonRegex', 'logRegex'] as const) {
    const source = matcher[field]
    if (source === undefined || source === null) continue
    const problem = regexProblem(source)
    if (problem) throw bad(`matcher.${field}`, problem)
  }
}

async function checkedScope (trends: StoreTrends, scope: Partial<IssueDefinition['scope']>): Promise<Partial<IssueDefinition['scope']>> {
  const out = { ...scope }
  if (scope.kernelGlob !== undefined && scope.kernelGlob !== null) {
    const problem = globProblem(scope.kernelGlob)
    if (problem) throw bad('scope.kernelGlob', problem)
  }
  for (const id of scope.series ?? []) {
    if (await trends.seriesById(id) === null) throw bad('scope.series', `names series ${id}, which does not exist`)
  }
  for (const field of ['versionsFrom', 'versionsTo'] as const) {
    const label = scope[field]
    if (label === undefined || label === null) continue
    const normalized = normalizeVersionLabel(label)
    const problem = versionLabelProblem(normalized)
    if (problem) throw bad(`scope.${field}`, problem)
    // a bound compares version numbers: a label without one (`next-20240902`) sorts after every version
    if (versionSortKey(normalized) === versionSortKey('')) throw bad(`scope.${field}`, `"${normalized}" names no version number (v3, RFC v2, base)`)
    out[field] = normalized
  }
  if (scope.machines !== undefined) out.machines = [...new Set(scope.machines)].sort()
  if (scope.cpuFlags !== undefined) out.cpuFlags = [...new Set(scope.cpuFlags)].sort()
  if (scope.series !== undefined) out.series = [...new Set(scope.series)].sort((a, b) => a - b)
  return out
}

async function definitionOf (trends: StoreTrends, body: IssueBody): Promise<IssueDefinition> {
  checkedMatcher(body.matcher)
  const scope = await checkedScope(trends, body.scope ?? {})
  return {
    title: body.title.trim(),
    url: body.url ?? null,
    culprit: body.culprit ?? 'unknown',
    intermittent: body.intermittent ?? false,
    matcher: {
      testGlob: body.matcher.testGlob.trim(),
      reasonRegex: body.matcher.reasonRegex ?? null,
      logRegex: body.matcher.logRegex ?? null,
      exitCode: body.matcher.exitCode ?? null,
      statuses: [...new Set(body.matcher.statuses ?? [])].sort(),
      kernelTrouble: body.matcher.kernelTrouble ?? false,
    },
    scope: {
      series: scope.series ?? [],
      machines: scope.machines ?? [],
      arch: scope.arch ?? null,
      cpuFlags: scope.cpuFlags ?? [],
      kernelGlob: scope.kernelGlob ?? null,
      versionsFrom: scope.versionsFrom ?? null,
      versionsTo: scope.versionsTo ?? null,
    },
  }
}

async function patchOf (trends: StoreTrends, body: IssuePatchBody, before: StoredIssue) {
  if (body.matcher) checkedMatcher(body.matcher)
  const scope = body.scope === undefined ? undefined : await checkedScope(trends, body.scope)
  return {
    title: body.title?.trim(),
    url: body.url,
    culprit: body.culprit,
    intermittent: body.intermittent,
    matcher: body.matcher === undefined ? undefined : { ...before.matcher, ...dropUndefined(body.matcher), ...(body.matcher.testGlob ? { testGlob: body.matcher.testGlob.trim() } : {}) },
    scope: scope === undefined ? undefined : { ...before.scope, ...dropUndefined(scope) },
  }
}

function dropUndefined<T extends object> (value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Partial<T>
}
