import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { normalizeVersionLabel } from '../domain/version-label.ts'
import { KsftError } from '../errors.ts'
import { requireScope } from '../plugins/auth.ts'
import { errorResponses, IdParamsSchema } from '../schemas/common.ts'
import { AdminStore } from '../storage/admin-store.ts'
import type { TokenStore } from '../storage/token-store.ts'
import { findSeries } from './series.ts'

const DeletedSchema = Type.Object({
  deleted: Type.Object({
    id: Type.Integer(),
    series: Type.String(),
    version: Type.String(),
    machine: Type.String(),
    createdAt: Type.String(),
    logBytes: Type.Integer(),
  }),
})

const MergeBodySchema = Type.Object({
  from: Type.String({ minLength: 1, maxLength: 200, description: 'the label to fold away, e.g. "V2"' }),
  into: Type.String({ minLength: 1, maxLength: 200, description: 'the label that stays, e.g. "v2"' }),
}, { additionalProperties: false })

/** What only an `admin` token may do: delete a run, merge two version labels. */
export const adminRoutes: FastifyPluginAsyncTypebox<{ tokens: TokenStore }> = async (app, options) => {
  const admin = new AdminStore(app.db, app.store.issues)
  const trends = app.trends
  const adminOnly = requireScope(options.tokens, 'admin')

  app.delete('/api/v1/runs/:id', {
    preHandler: adminOnly,
    schema: {
      summary: 'Delete a run, its results and its log (admin)',
      tags: ['admin'],
      security: [{ bearer: [] }],
      params: IdParamsSchema,
      response: { 200: DeletedSchema, ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'RUN_NOT_FOUND') },
    },
  }, async (request) => {
    const deleted = admin.deleteRun(request.params.id)
    if (!deleted) throw new KsftError('RUN_NOT_FOUND', `no run ${request.params.id}`)
    request.log.info({ runId: deleted.id, token: request.token?.name }, 'run deleted')
    return { deleted }
  })

  app.post('/api/v1/series/:id/versions/merge', {
    preHandler: adminOnly,
    schema: {
      summary: 'Move every run of one version label into another and drop the first (admin)',
      tags: ['admin'],
      security: [{ bearer: [] }],
      params: Type.Object({ id: Type.String({ description: 'series id or exact name' }) }),
      body: MergeBodySchema,
      response: {
        200: Type.Object({ merged: Type.Object({ from: Type.String(), into: Type.String(), runs: Type.Integer() }) }),
        ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'SERIES_NOT_FOUND', 'VERSION_NOT_FOUND', 'BAD_REQUEST'),
      },
    },
  }, async (request) => {
    const series = findSeries(trends, request.params.id)
    const from = normalizeVersionLabel(request.body.from)
    const into = normalizeVersionLabel(request.body.into)
    if (from === into) throw new KsftError('BAD_REQUEST', 'from and into name the same version')
    const runs = admin.mergeVersions(series.id, from, into)
    if (runs === null) throw new KsftError('VERSION_NOT_FOUND', `series ${series.id} has no version ${JSON.stringify(from)} or ${JSON.stringify(into)}`)
    request.log.info({ series: series.id, from, into, runs, token: request.token?.name }, 'versions merged')
    return { merged: { from, into, runs } }
  })
}
