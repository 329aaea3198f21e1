import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'

/** OpenAPI generated from the route schemas, served at /openapi.json and browsable at /docs. */
export async function registerOpenApi (app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'ksft-dashboard API',
        version: '1',
        description: 'kselftest results of Linux kernel patch series, version by version. Every error is `{"error":{"code","message"}}`.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a token made by `ksft token create`' } },
      },
    },
  })
  // swagger-ui's page needs its own CSP (hashes of its inline bits); everything else keeps the strict one
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    // dashboards often run on plain http inside a lab: upgrading the page's requests would break it
    transformStaticCSP: (header: string) => header.replace(/\s*upgrade-insecure-requests;?/, ''),
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}
