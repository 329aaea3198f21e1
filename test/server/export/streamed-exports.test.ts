import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { buildKcidbDocument, kcidbRunPieces } from '../../../server/export/kcidb.ts'
import { exportedRun } from '../../../server/export/run-source.ts'
import { openTestBackendStore } from '../../helpers/backend.ts'
import { realFixtureNames, realFixturePath, realFixturesSkip } from '../../helpers/fixtures.ts'
import { ingestText } from '../../helpers/store.ts'

// The streamed KCIDB document is the document: for every real log, the pieces the export worker
// sends join into exactly JSON.stringify of the whole document, and no piece is the whole of it.

test('kcidb.json written a test at a time is the whole document, byte for byte', { skip: realFixturesSkip }, async (t) => {
  const { store } = await openTestBackendStore(t)
  for (const name of realFixtureNames()) {
    const outcome = await ingestText(store, readFileSync(realFixturePath(name)), { series: 'streamed', version: 'v1', machine: name.slice(0, 40) })
    const run = await exportedRun(store, outcome.runId)
    const options = { origin: 'ksft_test', logUrl: () => `https://ksft.example.org/api/v1/runs/${outcome.runId}/log.txt` }
    const pieces = [...kcidbRunPieces(run, options)]
    assert.equal(pieces.join(''), JSON.stringify(await buildKcidbDocument([run], options)), name)
    assert.ok(pieces.length >= 3, `${name}: a head, the tests and the end`)
  }
})
