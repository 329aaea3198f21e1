import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { buildJunitXml } from '../export/junit.ts'
import { buildKcidbDocument } from '../export/kcidb.ts'
import { KcidbDocumentSchema, ORIGIN_PATTERN } from '../export/kcidb-schema.ts'
import { exportedRun } from '../export/run-source.ts'
import { errorResponses, IdParamsSchema } from '../schemas/common.ts'
import { exportInWorker } from '../services/export-runner.ts'

export const DEFAULT_KCIDB_ORIGIN = 'ksft_dashboard'

const KcidbQuerySchema = Type.Object({
  origin: Type.String({
    pattern: ORIGIN_PATTERN,
    default: DEFAULT_KCIDB_ORIGIN,
    description: 'the KCIDB origin the ids are made with: the name KernelCI gave your CI system (`[a-z0-9_]+`)',
  }),
})

/** A run in the formats other systems read: KCIDB for KernelCI, JUnit XML for CI report viewers. */
export const exportRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/api/v1/runs/:id/kcidb.json', {
    schema: {
      summary: 'A run as a KCIDB v5.3 I/O document',
      description: 'One checkout (the series version), one build (the run) and a test per test and subtest, ready for `kcidb-submit`. The subset of KCIDB it uses is docs/kcidb-v5.3-subset.schema.json.',
      tags: ['export'],
      params: IdParamsSchema,
      querystring: KcidbQuerySchema,
      response: { 200: KcidbDocumentSchema, ...errorResponses('RUN_NOT_FOUND', 'BAD_REQUEST') },
    },
  }, async (request, reply) => {
    const id = request.params.id
    // built in a worker and streamed, so that a run of a million results (a document of hundreds
    // of MB) never holds the event loop; a store no other connection sees (in memory) answers here
    const location = app.store.exports.workerLocation()
    if (location !== null) {
      const stream = await exportInWorker({ location, runId: id, format: 'kcidb', origin: request.query.origin, logUrl: rawLogUrl(request, id) })
      // a stream is sent as it is; the schema describes what it holds
      return reply.type('application/json; charset=utf-8').send(stream as never)
    }
    return buildKcidbDocument([await exportedRun(app.store, id)], {
      origin: request.query.origin,
      logUrl: () => rawLogUrl(request, id),
    })
  })

  app.get('/api/v1/runs/:id/junit.xml', {
    schema: {
      summary: 'A run as JUnit XML, for CI test reports (GitLab, Jenkins)',
      description: 'One `<testsuite>` per collection, a `<testcase>` per test and subtest (subtests have their parent\'s path as `classname`), `<failure>`, `<error>` or `<skipped>` with the reason and `<system-out>` with the result\'s own log lines.',
      tags: ['export'],
      params: IdParamsSchema,
      produces: ['application/xml'],
      response: { 200: Type.String({ description: 'a JUnit XML document' }), ...errorResponses('RUN_NOT_FOUND') },
    },
  }, async (request, reply) => {
    const id = request.params.id
    const location = app.store.exports.workerLocation()
    const xml = location !== null
      ? await exportInWorker({ location, runId: id, format: 'junit', origin: '', logUrl: rawLogUrl(request, id) })
      : buildJunitXml(await exportedRun(app.store, id), { logUrl: rawLogUrl(request, id) })
    return reply.type('application/xml; charset=utf-8')
      .header('content-disposition', `inline; filename="run-${id}-junit.xml"`)
      .send(xml as string)
  })
}

/**
 * The absolute URL of a run's raw log: under the configured public URL (`--public-url`), else as
 * this request reached the server (behind a proxy, that is the proxy's upstream address).
 */
function rawLogUrl (request: FastifyRequest, id: number): string {
  const base = request.server.config.publicUrl ?? `${request.protocol}://${request.host}`
  return `${base}/api/v1/runs/${id}/log.txt`
}
