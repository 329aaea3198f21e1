import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { parseIdentifier } from '../domain/run-metadata.ts'
import { normalizeVersionLabel } from '../domain/version-label.ts'
import { KsftError } from '../errors.ts'
import { requireScope } from '../plugins/auth.ts'
import { findMachine, findSeries } from '../queries/lookups.ts'
import { errorResponses, IdParamsSchema } from '../schemas/common.ts'
import {
  MachineMergeSchema, MachineParamsSchema, MergeIntoBodySchema, RenameBodySchema, RenamedSchema, SeriesMergeSchema,
} from '../schemas/identity.ts'
import { SeriesParamsSchema } from '../schemas/trends.ts'
import type { IdentityRefusal, NamedRef } from '../storage/rows.ts'

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

/** A rename or merge the store refused, in the API's words. */
function refusal (result: IdentityRefusal, what: 'series' | 'machine'): KsftError {
  if (result.refused === 'same') return new KsftError('BAD_REQUEST', `that is the same ${what}`)
  return new KsftError('NAME_TAKEN', `${what} ${result.by.id} "${result.by.name}" has that name already; merge into it instead`)
}

function done<T extends object> (result: T | IdentityRefusal | null, what: 'series' | 'machine'): T {
  if (result === null) throw new KsftError(what === 'series' ? 'SERIES_NOT_FOUND' : 'MACHINE_NOT_FOUND', `no such ${what}`)
  if ('refused' in result) throw refusal(result, what)
  return result
}

/** What only an `admin` token may do: delete a run, merge two version labels, rename and merge series and machines. */
export const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { admin, identity, trends } = app.store
  const adminOnly = requireScope(app.store.tokens, 'admin')
  const actor = (request: { token: { name: string } | null }) => request.token?.name ?? 'admin'

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
    const deleted = await admin.deleteRun(request.params.id)
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
    const series = await findSeries(trends, request.params.id)
    const from = normalizeVersionLabel(request.body.from)
    const into = normalizeVersionLabel(request.body.into)
    if (from === into) throw new KsftError('BAD_REQUEST', 'from and into name the same version')
    const runs = await admin.mergeVersions(series.id, from, into)
    if (runs === null) throw new KsftError('VERSION_NOT_FOUND', `series ${series.id} has no version ${JSON.stringify(from)} or ${JSON.stringify(into)}`)
    request.log.info({ series: series.id, from, into, runs, token: request.token?.name }, 'versions merged')
    return { merged: { from, into, runs } }
  })

  app.post('/api/v1/series/:id/rename', {
    preHandler: adminOnly,
    schema: {
      summary: 'Give a series a new name; its old names stay names, so uploads under them still land here (admin)',
      tags: ['admin'],
      security: [{ bearer: [] }],
      params: SeriesParamsSchema,
      body: RenameBodySchema,
      response: { 200: RenamedSchema, ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'SERIES_NOT_FOUND', 'NAME_TAKEN', 'INVALID_METADATA', 'BAD_REQUEST') },
    },
  }, async (request) => {
    const series = await findSeries(trends, request.params.id)
    const name = parseIdentifier('series', request.body.name)
    const renamed = done<NamedRef>(await identity.renameSeries(series.id, name), 'series')
    request.log.info({ series: series.id, from: series.name, to: renamed.name, token: request.token?.name }, 'series renamed')
    return { renamed: { id: renamed.id, from: series.name, to: renamed.name } }
  })

  app.post('/api/v1/series/:id/merge', {
    preHandler: adminOnly,
    schema: {
      summary: 'Merge a series into another, as if its runs had been uploaded there (admin)',
      description: 'Versions the other series lacks move as they are; versions both have fold together (runs, aggregates, patch lists). The series named in the path is gone afterwards; its names and change-ids belong to the other, and known issues scoped to it are scoped to the other and matched again.',
      tags: ['admin'],
      security: [{ bearer: [] }],
      params: SeriesParamsSchema,
      body: MergeIntoBodySchema,
      response: { 200: SeriesMergeSchema, ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'SERIES_NOT_FOUND', 'BAD_REQUEST') },
    },
  }, async (request) => {
    const from = await findSeries(trends, request.params.id)
    const into = await findSeries(trends, request.body.into)
    const merged = done(await identity.mergeSeries(from.id, into.id, actor(request)), 'series')
    request.log.info({ from: from.id, into: into.id, runs: merged.runs, token: request.token?.name }, 'series merged')
    return { merged }
  })

  app.post('/api/v1/machines/:name/rename', {
    preHandler: adminOnly,
    schema: {
      summary: 'Give a machine a new name; uploads under the old one still land on it (admin)',
      tags: ['admin'],
      security: [{ bearer: [] }],
      params: MachineParamsSchema,
      body: RenameBodySchema,
      response: { 200: RenamedSchema, ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'MACHINE_NOT_FOUND', 'NAME_TAKEN', 'INVALID_METADATA', 'BAD_REQUEST') },
    },
  }, async (request) => {
    const machine = (await findMachine(trends, request.params.name))!
    const name = parseIdentifier('machine', request.body.name)
    const renamed = done<NamedRef>(await identity.renameMachine(machine.id, name, actor(request)), 'machine')
    request.log.info({ machine: machine.id, from: machine.name, to: renamed.name, token: request.token?.name }, 'machine renamed')
    return { renamed: { id: renamed.id, from: machine.name, to: renamed.name } }
  })

  app.post('/api/v1/machines/:name/merge', {
    preHandler: adminOnly,
    schema: {
      summary: 'Merge a machine into another: one host uploaded under two names (admin)',
      description: 'Its runs, their aggregates and its old names go to the other machine; uploads under its name land there afterwards.',
      tags: ['admin'],
      security: [{ bearer: [] }],
      params: MachineParamsSchema,
      body: MergeIntoBodySchema,
      response: { 200: MachineMergeSchema, ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'MACHINE_NOT_FOUND', 'BAD_REQUEST') },
    },
  }, async (request) => {
    const from = (await findMachine(trends, request.params.name))!
    const into = (await findMachine(trends, request.body.into))!
    const merged = done(await identity.mergeMachines(from.id, into.id, actor(request)), 'machine')
    request.log.info({ from: from.id, into: into.id, runs: merged.runs, token: request.token?.name }, 'machines merged')
    return { merged }
  })
}
