import assert from 'node:assert/strict'
import type { TSchema } from 'typebox'
import { Value } from 'typebox/value'

/**
 * For the routes written with plainJsonSerializer (JSON.stringify, not the serializer compiled
 * from the response schema): their answer must already be exactly the schema's shape, since
 * nothing drops a property the schema lacks on the way out. Holds `body` to its schema's types and
 * to its properties alone.
 */
export function assertExactShape (schema: TSchema, body: unknown): void {
  assert.ok(Value.Check(schema, body), [...Value.Errors(schema, body)].map(error => `${error.instancePath} ${error.message}`).join('; '))
  assert.deepEqual(Value.Clean(schema, Value.Clone(body)), body, 'the answer has properties its schema does not list')
}
