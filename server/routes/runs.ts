import { Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import multipart from '@fastify/multipart'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { loreUrl } from '../domain/message-id.ts'
import { parseRunMetadataNoted } from '../domain/run-metadata.ts'
import { NOTED_MATCHES, seriesMatchNote } from '../domain/series-identity.ts'
import { KsftError } from '../errors.ts'
import { requireScope } from '../plugins/auth.ts'
import { withRateFloor, type Limits } from '../plugins/limits.ts'
import { uploadRateLimit } from '../plugins/security.ts'
import { errorResponses, IdParamsSchema } from '../schemas/common.ts'
import {
  LogQuerySchema, LogSliceSchema, MAX_LISTED, MAX_LOG_LINE_BYTES, MAX_LOG_SLICE_BYTES, MAX_RESULT_ROWS, ResultsQuerySchema,
  RunResultsSchema, RunSchema, UploadQuerySchema, UploadResponseSchema, type RunResponse, type SeriesMatch,
} from '../schemas/runs.ts'
import { DEFAULT_MAX_LOG_BYTES } from '../services/ingest-log.ts'
import { ingestUpload } from '../services/upload-ingest.ts'
import type { RunView, SeriesResolution } from '../storage/rows.ts'

export interface RunRoutesOptions {
  maxLogBytes?: number
  uploadsPerMinute?: number
}

/** A run as the API answers it: warnings and plans listed up to MAX_LISTED, and counted. */
export function runResponse (run: RunView): RunResponse {
  return {
    ...run,
    url: `/runs/${run.id}`,
    version: { ...run.version, loreUrl: loreUrl(run.version.messageId) },
    warnings: run.warnings.slice(0, MAX_LISTED),
    warningCount: run.warnings.length,
    plans: run.plans.slice(0, MAX_LISTED),
    planCount: run.plans.length,
  }
}

const RAW_TYPES = ['text/plain', 'application/octet-stream']

export const runRoutes: FastifyPluginAsyncTypebox<RunRoutesOptions> = async (app, options) => {
  const maxBytes = options.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES
  // the body is streamed into the parser, never buffered whole
  app.addContentTypeParser(RAW_TYPES, (_request, payload, done) => { done(null, payload) })
  await app.register(multipart, { limits: { files: 1, fields: 4, fieldSize: 64 * 1024, fileSize: Number.MAX_SAFE_INTEGER } })

  const limits = app.config.limits
  const inFlight = new Map<string, number>()
  /** At most `uploadsInFlightPerToken` uploads per token at once: one lab cannot take every parse worker. */
  const oneMoreUpload = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const max = limits.uploadsInFlightPerToken
    if (max <= 0 || !request.token) return
    const key = request.token.name
    const count = inFlight.get(key) ?? 0
    if (count >= max) {
      reply.header('retry-after', '5')
      throw new KsftError('RATE_LIMITED', `the token "${key}" has ${count} uploads in flight already, the most it may; retry when one has finished`)
    }
    inFlight.set(key, count + 1)
    reply.raw.once('close', () => {
      const left = (inFlight.get(key) ?? 1) - 1
      if (left <= 0) inFlight.delete(key)
      else inFlight.set(key, left)
    })
  }

  app.post('/api/v1/runs', {
    preHandler: [requireScope(app.store.tokens, 'upload'), oneMoreUpload],
    config: { rateLimit: uploadRateLimit(options.uploadsPerMinute) },
    schema: {
      summary: 'Upload one kselftest log',
      description: 'The raw log as the body (`text/plain` or `application/octet-stream`, optionally `Content-Encoding: gzip`) with metadata in the query string, or `multipart/form-data` with a `metadata` JSON part (first) and a `log` file part. The same log with the same metadata again answers 200 with the same run.',
      tags: ['runs'],
      security: [{ bearer: [] }],
      querystring: UploadQuerySchema,
      response: {
        200: UploadResponseSchema,
        201: UploadResponseSchema,
        ...errorResponses('INVALID_METADATA', 'UNAUTHORIZED', 'FORBIDDEN', 'REQUEST_TIMEOUT', 'LOG_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'NOT_KSELFTEST', 'UNSTORABLE', 'RATE_LIMITED'),
      },
    },
  }, async (request, reply) => {
    const { raw, body } = await uploadParts(request, limits)
    const { meta, normalized } = parseRunMetadataNoted(raw)
    const result = await ingestUpload(decoded(request, body), meta, app.uploads, { maxBytes })
    const run = (await app.store.runs.getRun(result.runId))!
    const seriesMatch = seriesMatchOf(meta.series, run, result.series)
    request.log.info({ runId: run.id, created: result.created, series: run.series.id, by: result.series?.match, token: request.token?.name }, 'run uploaded')
    return reply.status(result.created ? 201 : 200).send({
      id: run.id,
      url: `/runs/${run.id}`,
      series: run.series,
      version: { label: run.version.label },
      machine: { name: run.machine.name },
      summary: run.summary,
      warnings: run.warnings.slice(0, MAX_LISTED),
      warningCount: run.warnings.length,
      ...(normalized.length > 0 ? { normalized } : {}),
      ...(seriesMatch === null ? {} : { seriesMatch }),
    })
  })

  app.get('/api/v1/runs/:id', {
    schema: {
      summary: 'A run: its series, version, machine, metadata and summary',
      tags: ['runs'],
      params: IdParamsSchema,
      response: { 200: RunSchema, ...errorResponses('RUN_NOT_FOUND') },
    },
  }, async (request) => runResponse(await findRun(request.params.id)))

  app.get('/api/v1/runs/:id/results', {
    schema: {
      summary: 'The tests of a run as a tree, as `ksft ingest --json` prints them, a page at a time',
      description: `Follow nextCursor until it is null. A page holds \`limit\` tests with their subtests, and at most ${MAX_RESULT_ROWS} results: a test with more subtests than that is cut (truncated: true).`,
      tags: ['runs'],
      params: IdParamsSchema,
      querystring: ResultsQuerySchema,
      response: { 200: RunResultsSchema, ...errorResponses('RUN_NOT_FOUND', 'BAD_REQUEST') },
    },
  }, async (request) => {
    const run = await findRun(request.params.id)
    const page = await app.store.runs.getRunTestsPage(run.id, request.query.cursor, request.query.limit, MAX_RESULT_ROWS)
    return { run: { id: run.id, summary: run.summary }, ...page, warnings: run.warnings.slice(0, MAX_LISTED) }
  })

  app.get('/api/v1/runs/:id/log', {
    schema: {
      summary: 'Lines of the raw log, 1-based and inclusive (at most 10 000 at a time)',
      tags: ['runs'],
      params: IdParamsSchema,
      querystring: LogQuerySchema,
      response: { 200: LogSliceSchema, ...errorResponses('RUN_NOT_FOUND', 'BAD_REQUEST') },
    },
  }, async (request) => {
    const { from } = request.query
    const to = request.query.to ?? from + 9_999
    if (to < from) throw new KsftError('BAD_REQUEST', 'to must not be less than from')
    if (to - from >= 10_000) throw new KsftError('BAD_REQUEST', 'at most 10000 lines at a time')
    const slice = await app.store.runs.getLogLines(request.params.id, from, to, { maxBytes: MAX_LOG_SLICE_BYTES, maxLineBytes: MAX_LOG_LINE_BYTES })
    if (!slice) throw notFound(request.params.id)
    return slice
  })

  app.get('/api/v1/runs/:id/log.txt', {
    schema: {
      summary: 'The whole raw log, byte for byte as uploaded',
      tags: ['runs'],
      params: IdParamsSchema,
      produces: ['text/plain'],
      response: { ...errorResponses('RUN_NOT_FOUND') },
    },
  }, async (request, reply) => {
    const run = await findRun(request.params.id)
    return reply.type('text/plain; charset=utf-8')
      .header('content-disposition', `inline; filename="run-${run.id}.log"`)
      // a stream is sent as it is; the schema only describes the errors
      .send(Readable.from(app.store.runs.readLog(run.id)) as never)
  })

  async function findRun (id: number): Promise<RunView> {
    const run = await app.store.runs.getRun(id)
    if (!run) throw notFound(id)
    return run
  }
}

/**
 * What the upload's answer says when the run went to a series its title does not name exactly. A
 * run stored before (the same upload again) is where it is; the rules only say why when they still
 * lead there.
 */
function seriesMatchOf (sent: string, run: RunView, resolution: SeriesResolution | null): SeriesMatch | null {
  const kind = resolution !== null && resolution.id === run.series.id ? resolution.match : null
  if (kind === null ? run.series.name === sent : !NOTED_MATCHES.includes(kind)) return null
  // (an admin moved the run since: the series has the title among its names, or had)
  const by = kind ?? 'other_name'
  return { by, sent, note: seriesMatchNote(by, sent, run.series) }
}

function notFound (id: number): KsftError {
  return new KsftError('RUN_NOT_FOUND', `no run ${id}`)
}

/** The metadata and the log stream of an upload, from the query string or multipart parts. */
async function uploadParts (request: FastifyRequest, limits: Limits): Promise<{ raw: Record<string, unknown>, body: AsyncIterable<Buffer> }> {
  const query = { ...(request.query as Record<string, unknown>) }
  if (!request.isMultipart()) {
    if (!request.body || typeof (request.body as NodeJS.ReadableStream).pipe !== 'function') {
      throw new KsftError('UNSUPPORTED_MEDIA_TYPE', `send the log as ${RAW_TYPES.join(' or ')} or multipart/form-data`)
    }
    return { raw: query, body: withRateFloor(request.body as AsyncIterable<Buffer>, limits) }
  }
  let metadata: Record<string, unknown> = {}
  for await (const part of request.parts()) {
    if (part.type === 'field' && part.fieldname === 'metadata') {
      try {
        const parsed: unknown = JSON.parse(String(part.value))
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object')
        metadata = parsed as Record<string, unknown>
      } catch {
        throw new KsftError('INVALID_METADATA', 'the metadata part must be a JSON object')
      }
    } else if (part.type === 'file' && part.fieldname === 'log') {
      return { raw: { ...query, ...metadata }, body: withRateFloor(part.file, limits) }
    } else if (part.type === 'file') {
      part.file.resume()
      throw new KsftError('BAD_REQUEST', `unknown file part "${part.fieldname}"; the log goes in a part named log`)
    } else {
      throw new KsftError('INVALID_METADATA', `unknown form field "${part.fieldname}"; send metadata as one JSON part named metadata, before the log part`)
    }
  }
  throw new KsftError('BAD_REQUEST', 'the form has no log part')
}

/** The body, inflated when it was sent with Content-Encoding: gzip. */
function decoded (request: FastifyRequest, body: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  const encoding = (request.headers['content-encoding'] ?? 'identity').toLowerCase().trim()
  if (encoding === 'identity') return body
  if (encoding !== 'gzip' && encoding !== 'x-gzip') {
    throw new KsftError('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${encoding} is not supported; send gzip or nothing`)
  }
  const gunzip = createGunzip()
  Readable.from(body).on('error', err => gunzip.destroy(err)).pipe(gunzip)
  return (async function * () {
    try {
      for await (const chunk of gunzip) yield chunk as Buffer
    } catch (err) {
      if (err instanceof KsftError) throw err
      throw new KsftError('BAD_ENCODING', `the gzip body is broken: ${(err as Error).message}`)
    }
  })()
}
