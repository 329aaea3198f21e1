import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses } from '../schemas/common.ts'
import { MachinesQuerySchema, MachinesSchema, NotModifiedSchema } from '../schemas/trends.ts'
import { decodeCursor, encodeCursor } from '../storage/cursor.ts'
import { TrendStore } from '../storage/trend-store.ts'

export const machineRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const trends = new TrendStore(app.db)

  app.get('/api/v1/machines', {
    config: { etag: true },
    schema: {
      summary: 'The machines that ran tests, with their arch, CPU, flags and latest kernel',
      tags: ['machines'],
      querystring: MachinesQuerySchema,
      response: { 200: MachinesSchema, 304: NotModifiedSchema, ...errorResponses('BAD_REQUEST') },
    },
  }, async (request) => {
    const { limit } = request.query
    const [after] = decodeCursor(request.query.cursor, 's') ?? [null]
    const rows = trends.listMachines(after as string | null, limit + 1)
    const page = rows.slice(0, limit)
    return { machines: page, nextCursor: rows.length > limit ? encodeCursor([page.at(-1)!.name]) : null }
  })
}
