import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    schema: {
      summary: 'Liveness and database check',
      tags: ['operations'],
      response: {
        200: Type.Object({ status: Type.Literal('ok'), writeCounter: Type.Integer() }),
      },
    },
  }, async () => ({ status: 'ok' as const, ...await app.store.health() }))
}
