import { Type, type Static, type TSchema } from 'typebox'
import { FLAGS, STATUSES } from '../../ingest/index.ts'
import { ERROR_STATUS, type ErrorCode } from '../errors.ts'

/** The API's vocabulary, each word defined once and taken from ingest/vocabulary.ts. */
export const StatusSchema = Type.Enum(STATUSES, { description: 'the status of a test or subtest' })
export const FlagSchema = Type.Enum(FLAGS, { description: 'kernel trouble or a false pass seen in the test' })

export const SummarySchema = Type.Object({
  total: Type.Integer(),
  pass: Type.Integer(),
  fail: Type.Integer(),
  skip: Type.Integer(),
  xfail: Type.Integer(),
  xpass: Type.Integer(),
  timeout: Type.Integer(),
  error: Type.Integer(),
}, { description: 'tests counted per status' })

export const LineRangeSchema = Type.Tuple([Type.Integer({ minimum: 1 }), Type.Integer({ minimum: 1 })], {
  description: 'first and last line of the raw log, 1-based and inclusive',
})

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

/**
 * A route's `serializerCompiler` for answers of tens of thousands of objects (the matrix):
 * JSON.stringify instead of the serializer compiled from the response schema, which took ten times
 * as long on a matrix page of 20 000 cells (100 ms against 10). The handler must then build exactly
 * the schema's shape, as nothing drops an extra property any more: the route's tests hold it to that.
 */
export const plainJsonSerializer = () => (data: unknown): string => JSON.stringify(data)

export const ErrorSchema = Type.Object({
  error: Type.Object({
    code: Type.String({ description: 'a stable code, e.g. RUN_NOT_FOUND' }),
    message: Type.String(),
  }),
}, { description: 'every error has this shape' })
export type ErrorResponse = Static<typeof ErrorSchema>

/** Response schemas for the error statuses a route can answer with. */
export function errorResponses (...codes: ErrorCode[]): Record<number, typeof ErrorSchema> {
  const responses: Record<number, typeof ErrorSchema> = {}
  for (const code of codes) responses[ERROR_STATUS[code]] = ErrorSchema
  return responses
}

export const IdParamsSchema = Type.Object({ id: Type.Integer({ minimum: 1 }) })
