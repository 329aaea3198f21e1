import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { normalizePatchList, patchListProblem } from '../domain/patch-list.ts'
import { BASE_VERSION } from '../domain/version-label.ts'
import { KsftError } from '../errors.ts'
import { requireScope } from '../plugins/auth.ts'
import { errorResponses, IdParamsSchema } from '../schemas/common.ts'
import { PatchListBodySchema, patchView, RunPatchesSchema, type RunPatchesResponse } from '../schemas/patches.ts'
import type { RunView } from '../storage/rows.ts'

const TAGS = ['runs']

/**
 * A run's series patches: sent by the hook and `ksft upload` after the log (a separate request, so
 * that a log upload stays what it was for every client), read by anyone.
 */
export const patchRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const patches = app.store.patches

  app.put('/api/v1/runs/:id/patches', {
    preHandler: requireScope(app.store.tokens, 'upload'),
    schema: {
      summary: "Report the series' patches on the tree a run tested",
      description: 'Every commit from the base to the tested HEAD, oldest first. The first list reported for a version becomes the version\'s; ' +
        'a later one with the same patch-ids confirms it (and fills in Message-IDs it lacked), one with others is kept as a difference. ' +
        'Sending the same list again changes nothing. The base version is the unpatched tree and has no patches.',
      tags: TAGS,
      security: [{ bearer: [] }],
      params: IdParamsSchema,
      body: PatchListBodySchema,
      response: { 200: RunPatchesSchema, ...errorResponses('INVALID_PATCHES', 'UNAUTHORIZED', 'FORBIDDEN', 'RUN_NOT_FOUND') },
    },
  }, async (request) => {
    const run = await findRun(request.params.id)
    const problem = patchListProblem(request.body.patches)
    if (problem !== null) throw new KsftError('INVALID_PATCHES', problem)
    if (run.version.label === BASE_VERSION && request.body.patches.length > 0) {
      throw new KsftError('INVALID_PATCHES', `run ${run.id} is of the base version, the unpatched tree: it has no series patches`)
    }
    const report = await patches.report(run.id, run.version.id, normalizePatchList(request.body.patches))
    request.log.info({ runId: run.id, state: report.state, patches: report.patches, token: request.token?.name }, 'patch list reported')
    return answer(run)
  })

  app.get('/api/v1/runs/:id/patches', {
    schema: {
      summary: "The series' patches of a run's version, and what the run itself reported",
      tags: TAGS,
      params: IdParamsSchema,
      response: { 200: RunPatchesSchema, ...errorResponses('RUN_NOT_FOUND', 'BAD_REQUEST') },
    },
  }, async (request) => answer(await findRun(request.params.id)))

  async function answer (run: RunView): Promise<RunPatchesResponse> {
    const list = await patches.versionList(run.version.id)
    const report = await patches.runReport(run.id, list?.digest ?? null)
    return {
      run: { id: run.id },
      version: { id: run.version.id, label: run.version.label },
      report: report === null ? null : { state: report.state, patches: report.patches, createdAt: report.createdAt },
      patches: list === null ? null : list.patches.map(patchView),
      differingRuns: list === null ? [] : await patches.differingRuns(run.version.id),
    }
  }

  async function findRun (id: number): Promise<RunView> {
    const run = await app.store.runs.getRun(id)
    if (!run) throw new KsftError('RUN_NOT_FOUND', `no run ${id}`)
    return run
  }
}
