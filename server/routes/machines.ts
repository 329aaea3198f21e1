import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses } from '../schemas/common.ts'
import { MACHINE_SERIES, MachinesQuerySchema, MachinesSchema, NotModifiedSchema, type MachineSeries } from '../schemas/trends.ts'
import { decodeCursor, encodeCursor } from '../queries/cursor.ts'

export const machineRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const trends = app.store.trends

  app.get('/api/v1/machines', {
    config: { etag: true },
    schema: {
      summary: 'The machines that ran tests, with their arch, CPU, flags, latest kernel and the versions of each series they ran',
      tags: ['machines'],
      querystring: MachinesQuerySchema,
      response: { 200: MachinesSchema, 304: NotModifiedSchema, ...errorResponses('BAD_REQUEST') },
    },
  }, async (request) => {
    const { limit } = request.query
    const [after] = decodeCursor(request.query.cursor, 's') ?? [null]
    const rows = await trends.listMachines(after as string | null, limit + 1)
    const page = rows.slice(0, limit)
    const ran = new Map<number, MachineSeries[]>(page.map(machine => [machine.id, []]))
    // rows come by machine, newest series first, each series' versions in version order
    for (const row of await trends.machineSeries(page.map(machine => machine.id))) {
      const list = ran.get(row.machineId)!
      const last = list.at(-1)
      if (last?.id === row.seriesId) last.versions.push(row.label)
      else list.push({ id: row.seriesId, name: row.seriesName, versions: [row.label] })
    }
    return {
      machines: page.map(machine => {
        const series = ran.get(machine.id)!
        return { ...machine, series: series.slice(0, MACHINE_SERIES), seriesCount: series.length }
      }),
      nextCursor: rows.length > limit ? encodeCursor([page.at(-1)!.name]) : null,
    }
  })
}
