import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    schema: {
      summary: 'Liveness and database check',
      tags: ['operations'],
      response: {
        200: Type.Object({
          status: Type.Literal('ok'),
          backend: Type.Union([Type.Literal('sqlite'), Type.Literal('postgres')], { description: 'the database that holds the store' }),
          writeCounter: Type.Integer({ description: 'writes committed so far, by any node: what ETags are made of' }),
        }),
      },
    },
  }, async () => ({ status: 'ok' as const, ...await app.store.health() }))
}
