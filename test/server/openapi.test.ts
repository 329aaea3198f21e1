import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { OPENAPI_PATH, openApiDocument } from '../../bin/write-openapi.ts'
import { buildApp } from '../../server/app.ts'
import { tempDir } from '../helpers/store.ts'

test('docs/openapi.json is what the route schemas say (run npm run openapi after changing a schema)', async () => {
  const committed = readFileSync(OPENAPI_PATH, 'utf8')
  const live = await openApiDocument()
  // compared as objects first, for a readable difference; then as text, so formatting drift shows too
  assert.deepEqual(JSON.parse(committed), JSON.parse(live), 'docs/openapi.json is stale: run `npm run openapi` and commit it')
  assert.equal(committed, live)
})

test('/openapi.json serves the same document, with every trend route and its response shapes', async (t) => {
  const app = await buildApp({ dbPath: join(tempDir(t), 'ksft.db'), logger: false })
  t.after(() => app.close())
  const served = (await app.inject({ url: '/openapi.json' })).json()
  assert.deepEqual(served, JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')))
  for (const path of ['/api/v1/series', '/api/v1/series/{id}/trend', '/api/v1/series/{id}/compare', '/api/v1/series/{id}/matrix',
    '/api/v1/series/{id}/flaky', '/api/v1/series/{id}/collections', '/api/v1/series/{id}/summary.txt', '/api/v1/tests/history', '/api/v1/machines']) {
    const operation = served.paths[path]?.get
    assert.ok(operation, path)
    assert.ok(operation.summary && operation.tags?.length, `${path} has a summary and tags`)
    assert.ok(operation.responses['200'] && operation.responses['304'] && operation.responses['400'], `${path} documents 200, 304 and 400`)
  }
  const queryOf = (path: string) => served.paths[path].get.parameters.filter((p: { in: string }) => p.in === 'query').map((p: { name: string }) => p.name)
  assert.deepEqual(queryOf('/api/v1/series/{id}/compare'), ['base', 'head', 'machine', 'arch', 'collection', 'bucket', 'limit', 'cursor'])
  // the filters have the trend's names everywhere
  for (const path of ['/api/v1/series/{id}/trend', '/api/v1/series/{id}/matrix', '/api/v1/series/{id}/flaky']) {
    assert.deepEqual(queryOf(path).slice(0, 3), ['collection', 'machine', 'arch'], path)
  }
})
