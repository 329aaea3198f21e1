import type { Database } from 'better-sqlite3'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { errorBody, KsftError } from './errors.ts'
import { openDatabase } from './storage/database.ts'
import { RunStore } from './storage/run-store.ts'
import { registerOpenApi } from './plugins/openapi.ts'
import { healthRoutes } from './routes/health.ts'
import { hookRoutes } from './routes/hook.ts'
import { runRoutes } from './routes/runs.ts'
import { TokenStore } from './storage/token-store.ts'

export interface AppOptions {
  /** An open database; when absent, `dbPath` is opened and closed with the app. */
  db?: Database
  dbPath?: string
  logger?: FastifyServerOptions['logger']
  clock?: () => Date
  maxLogBytes?: number
}

declare module 'fastify' {
  interface FastifyInstance {
    store: RunStore
    tokens: TokenStore
    db: Database
    config: { maxLogBytes: number | undefined }
  }
}

/** Builds the whole server; never listens (server/main.ts does). Tests, the CLI and the benchmark build the same app. */
export async function buildApp (options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    // tokens travel in headers and never in URLs; keep them out of the logs all the same
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  }).withTypeProvider<TypeBoxTypeProvider>()

  const ownsDb = options.db === undefined
  const db = options.db ?? openDatabase(options.dbPath ?? ':memory:')
  app.decorate('db', db)
  app.decorate('store', new RunStore(db, { clock: options.clock }))
  const tokens = new TokenStore(db, options.clock)
  app.decorate('tokens', tokens)
  app.decorateRequest('token', null)
  app.decorate('config', { maxLogBytes: options.maxLogBytes })
  if (ownsDb) app.addHook('onClose', async () => { db.close() })

  app.setErrorHandler((err: Error & { statusCode?: number, code?: string, validation?: unknown }, request, reply) => {
    if (err instanceof KsftError) {
      return reply.status(err.statusCode).send(errorBody(err.code, err.message))
    }
    if (err.validation) {
      return reply.status(400).send(errorBody('BAD_REQUEST', err.message))
    }
    const status = err.statusCode ?? 500
    // fastify's own refusals, in the project's words
    if (status === 415) return reply.status(415).send(errorBody('UNSUPPORTED_MEDIA_TYPE', err.message))
    if (status === 413) return reply.status(413).send(errorBody('LOG_TOO_LARGE', err.message))
    if (status >= 500) {
      request.log.error({ err }, 'request failed')
      return reply.status(status).send(errorBody('INTERNAL', 'internal error; the server log has the details'))
    }
    return reply.status(status).send(errorBody(err.code ?? 'BAD_REQUEST', err.message))
  })
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(errorBody('NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`))
  })

  await registerOpenApi(app)
  await app.register(healthRoutes)
  await app.register(hookRoutes)
  await app.register(runRoutes, { tokens, maxLogBytes: options.maxLogBytes })
  return app
}
