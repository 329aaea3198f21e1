import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { errorBody, KsftError } from './errors.ts'
import { openStore, type Store } from './storage/store.ts'
import { registerOpenApi } from './plugins/openapi.ts'
import { registerSecurity, type SecurityOptions } from './plugins/security.ts'
import { etag } from './plugins/etag.ts'
import { applyHeadersTimeout, limitsOf, registerEarlyAnswerClose, serverTimeouts, type Limits } from './plugins/limits.ts'
import { exportRoutes } from './routes/export.ts'
import { healthRoutes } from './routes/health.ts'
import { hookRoutes } from './routes/hook.ts'
import { machineRoutes } from './routes/machines.ts'
import { issueRoutes } from './routes/issues.ts'
import { patchRoutes } from './routes/patches.ts'
import { adminRoutes } from './routes/admin.ts'
import { runRoutes } from './routes/runs.ts'
import { seriesRoutes } from './routes/series.ts'
import { seriesCompareRoutes } from './routes/series-compare.ts'
import { testHistoryRoutes } from './routes/tests-history.ts'
import { webRoutes } from './routes/web.ts'
import { ParsePool } from './services/parse-pool.ts'
import { removeEmptySpool, spoolDirOf, type UploadIngestDeps } from './services/upload-ingest.ts'

export interface AppOptions {
  /** An open store, which the app does not close; when absent, `dbPath` is opened (openStore) and closed with the app. */
  store?: Store
  /** A SQLite file's path, `:memory:` (the default) or a database URL. */
  dbPath?: string
  logger?: FastifyServerOptions['logger']
  clock?: () => Date
  maxLogBytes?: number
  security?: SecurityOptions
  /** Timeouts, parse workers and upload fairness; every one has a default (plugins/limits.ts). */
  limits?: Partial<Limits>
  /**
   * The spool root under which this process spools uploads' deflated chunks, in a directory of its
   * own (services/upload-ingest.ts); by default a directory of the temp dir named for the store (Store.spoolRoot).
   */
  spoolRoot?: string
  /** The server's address as its users reach it (behind a proxy), for links in exports; else the request's Host. */
  publicUrl?: string
}

const MAX_PARAM_LENGTH = 3000

declare module 'fastify' {
  interface FastifyInstance {
    /** Everything stored: the only way a route reaches the database (storage/store.ts). */
    store: Store
    config: { maxLogBytes: number | undefined, uploadsPerMinute: number | undefined, publicUrl: string | undefined, limits: Limits }
    /** What an upload needs besides the request: the parse workers, the store and the spool. */
    uploads: UploadIngestDeps
  }
}

/** Builds the whole server; never listens (server/main.ts does). Tests, the CLI and the benchmark build the same app. */
export async function buildApp (options: AppOptions = {}): Promise<FastifyInstance> {
  const limits = limitsOf(options.limits)
  const app = Fastify({
    ...serverTimeouts(limits),
    // a series is addressed by its name too, up to 300 characters, URL-encoded (up to 9 bytes each);
    // the router's default of 100 answered 404 for longer names
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    logger: withRedaction(options.logger ?? false),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  }).withTypeProvider<TypeBoxTypeProvider>()

  const ownsStore = options.store === undefined
  const store = options.store ?? await openStore(options.dbPath ?? ':memory:', {
    clock: options.clock,
    warn: (err, message) => app.log.warn({ err }, message),
  })
  app.decorate('store', store)
  const pool = new ParsePool({ workers: limits.parseWorkers, deadlineMs: limits.parseDeadlineMs })
  app.decorate('uploads', { pool, store, spoolDir: spoolDirOf(options.spoolRoot ?? store.spoolRoot) })
  app.decorateRequest('token', null)
  app.decorate('config', { maxLogBytes: options.maxLogBytes, uploadsPerMinute: options.security?.uploadsPerMinute, publicUrl: publicUrlOf(options.publicUrl), limits })
  app.addHook('onClose', async () => {
    await pool.close()
    removeEmptySpool(app.uploads.spoolDir)
    if (ownsStore) await store.close()
  })
  applyHeadersTimeout(app, limits)
  registerEarlyAnswerClose(app)

  app.setErrorHandler((err: Error & { statusCode?: number, code?: string, validation?: unknown }, request, reply) => {
    if (err instanceof KsftError) {
      return reply.status(err.statusCode).send(errorBody(err.code, err.message))
    }
    if (isBeyondStoreLimit(err)) {
      request.log.warn({ err }, 'the store refused a value of the upload')
      return reply.status(422).send(errorBody('UNSTORABLE', 'a value of the log is beyond what the database can keep (a test or subtest name over about 2 700 bytes, for PostgreSQL\'s index); nothing was stored'))
    }
    if (isStoreUnavailable(err)) {
      // a full disk or a read-only file must not take the server down: reads keep working
      request.log.error({ err }, 'the store refused a write')
      return reply.status(503).send(errorBody('STORE_UNAVAILABLE', `the database cannot take writes now (${err.code}); reads still work`))
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

  await registerSecurity(app, options.security ?? {})
  await registerOpenApi(app)
  await app.register(healthRoutes)
  await app.register(hookRoutes)
  await app.register(runRoutes, { maxLogBytes: options.maxLogBytes, uploadsPerMinute: options.security?.uploadsPerMinute })
  await app.register(patchRoutes)
  await app.register(exportRoutes)
  await app.register(adminRoutes)
  await app.register(issueRoutes)
  await app.register(etag, { writeCounter: () => store.runs.writeCounter() })
  await app.register(seriesRoutes)
  await app.register(seriesCompareRoutes)
  await app.register(testHistoryRoutes)
  await app.register(machineRoutes)
  await app.register(webRoutes)
  return app
}

/** The public URL without its trailing slashes; only an http(s) URL without query or fragment is one. */
function publicUrlOf (value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new Error(`the public URL "${value}" is not a URL`)
  }
  if (!/^https?:$/.test(url.protocol) || url.search !== '' || url.hash !== '') throw new Error(`the public URL "${value}" must be an http(s) URL without query or fragment`)
  return url.href.replace(/\/+$/, '')
}

const UNAVAILABLE_CODES = /^(SQLITE_FULL|SQLITE_READONLY|SQLITE_IOERR|SQLITE_CANTOPEN|SQLITE_BUSY)|^(ENOSPC|EROFS|EDQUOT)$/

function isStoreUnavailable (err: Error & { code?: string }): boolean {
  return typeof err.code === 'string' && UNAVAILABLE_CODES.test(err.code)
}

/** PostgreSQL's program_limit_exceeded: an index entry past its size limit, from names SQLite keeps. */
function isBeyondStoreLimit (err: Error & { code?: string }): boolean {
  return err.code === '54000'
}

/** Tokens travel in headers; pino must never write them, whatever a serializer logs. */
function withRedaction (logger: FastifyServerOptions['logger']): FastifyServerOptions['logger'] {
  if (!logger) return logger
  const base = logger === true ? {} : logger
  return { ...base, redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization'], censor: '[redacted]' } }
}
