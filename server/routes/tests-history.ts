import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { KsftError } from '../errors.ts'
import { errorResponses, plainJsonSerializer } from '../schemas/common.ts'
import { HistoryQuerySchema, HistorySchema, NotModifiedSchema } from '../schemas/trends.ts'
import { decodeCursor, encodeCursor } from '../queries/cursor.ts'
import { findMachine, findSeries, versionRef } from '../queries/lookups.ts'
import type { HistoryKey } from '../storage/rows.ts'

export const testHistoryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const trends = app.store.trends

  app.get('/api/v1/tests/history', {
    config: { etag: true },
    // 200 entries of a dozen fields: the compiled serializer allocated five times the answer's size
    serializerCompiler: plainJsonSerializer,
    schema: {
      summary: 'One test or subtest across every series, version, machine and run, with reasons and log links',
      tags: ['tests'],
      querystring: HistoryQuerySchema,
      response: { 200: HistorySchema, 304: NotModifiedSchema, ...errorResponses('BAD_REQUEST', 'TEST_NOT_FOUND') },
    },
  }, async (request) => {
    const { collection, test, limit } = request.query
    const path = request.query.subtest ?? []
    const caseId = await trends.findCase(collection, test, path)
    if (caseId === null) {
      throw new KsftError('TEST_NOT_FOUND', `no results of ${[`${collection}: ${test}`, ...path].join(' > ')}`)
    }
    const filters = {
      seriesId: request.query.series === undefined ? null : (await findSeries(trends, request.query.series)).id,
      machineId: (await findMachine(trends, request.query.machine))?.id ?? null,
    }
    // two statements that need nothing of each other: on PostgreSQL they run at once, on two connections
    const [rows, counts] = await Promise.all([
      trends.history(caseId, filters, decodeCursor(request.query.cursor, 'nnnsnn') as HistoryKey | null, limit + 1),
      trends.historyCounts(caseId, filters),
    ])
    const page = rows.slice(0, limit)
    const last = page.at(-1)
    const refs = new Map((await trends.issueRefs([...new Set(page.flatMap(row => row.knownIssues))])).map(ref => [ref.id, ref]))
    return {
      collection,
      test,
      path,
      counts,
      entries: page.map(row => ({
        series: row.series,
        version: versionRef(row.version),
        machine: row.machine,
        runId: row.runId,
        kernel: row.kernel,
        status: row.status,
        reason: row.reason,
        flags: row.flags,
        exitCode: row.exitCode,
        timeoutSeconds: row.timeoutSeconds,
        lines: row.lines,
        url: `/runs/${row.runId}#L${row.lines[0]}-L${row.lines[1]}`,
        knownIssues: row.knownIssues.flatMap(id => refs.get(id) ?? []),
      })),
      nextCursor: rows.length > limit && last
        ? encodeCursor([last.series.id, last.version.sortKey, last.version.id, last.machine, last.runId, last.seq])
        : null,
    }
  })
}
