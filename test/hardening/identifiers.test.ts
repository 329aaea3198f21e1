// Issue 12: confusable labels. v7, v07, V7 and the full-width ｖ7 are one version; a zero-width
// space or a right-to-left override is refused with the field and the character named.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, uploadUrl } from '../helpers/app.ts'
import { readStore, testStoreLocation } from '../helpers/backend.ts'
import { runKsft } from '../helpers/cli.ts'

const SERIES = 'KVM: guest_memfd'
const log = (name: string) => `TAP version 13\n1..1\nok 1 selftests: kvm: ${name}\n`

const FOLDED = [
  { sent: 'v7', note: null },
  { sent: 'v07', note: 'v07' },
  { sent: 'V7', note: 'V7' },
  { sent: '\uff567', note: '\uff567' },
  { sent: ' v7 ', note: null },
]

const REFUSED: Array<{ field: string, value: string, message: RegExp }> = [
  { field: 'version', value: 'v7\u200b', message: /^version contains U\+200B ZERO WIDTH SPACE$/ },
  { field: 'version', value: 'v7\u202e', message: /^version contains U\+202E RIGHT-TO-LEFT OVERRIDE$/ },
  { field: 'series', value: `${SERIES}\u2066`, message: /^series contains U\+2066 LEFT-TO-RIGHT ISOLATE$/ },
  { field: 'machine', value: 'tdx\ufeff-host', message: /^machine contains U\+FEFF ZERO WIDTH NO-BREAK SPACE$/ },
  { field: 'machine', value: 'tdx\u200d', message: /^machine contains U\+200D ZERO WIDTH JOINER$/ },
  { field: 'kernel', value: '6.8\u061c', message: /^kernel contains U\+061C ARABIC LETTER MARK$/ },
  { field: 'cpu', value: 'EPYC\u00ad', message: /^cpu contains U\+00AD SOFT HYPHEN$/ },
  { field: 'machine', value: 'a\u001b[31m', message: /^machine contains control characters \(U\+001B ESCAPE\)$/ },
]

test('the upload API: look-alikes of v7 are stored as v7 and the answer says so; invisible characters are refused by name', async (t) => {
  const { app, token } = await buildTestApp(t)
  const upload = (meta: Record<string, string>, name: string) => app.inject({
    method: 'POST', url: uploadUrl(meta), payload: log(name), headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
  })
  for (const [i, { sent, note }] of FOLDED.entries()) {
    const res = await upload({ series: SERIES, version: sent, machine: 'tdx-host' }, `t${i}`)
    assert.equal(res.statusCode, 201, res.body)
    assert.equal(res.json().version.label, 'v7', sent)
    assert.deepEqual(res.json().normalized, note === null ? undefined : [{ field: 'version', from: note, to: 'v7' }], sent)
  }
  const versions = (await app.inject({ url: '/api/v1/series/1/trend' })).json().versions.map((v: { label: string }) => v.label)
  assert.deepEqual(versions, ['v7'])

  // a full-width series name and machine are the plain ones
  const wide = await upload({ series: '\uff2b\uff36\uff2d: guest_memfd', version: 'v8', machine: '\uff54\uff44\uff58-host' }, 'wide')
  assert.equal(wide.statusCode, 201, wide.body)
  assert.equal(wide.json().series.name, SERIES)
  assert.equal(wide.json().machine.name, 'tdx-host')
  assert.deepEqual(wide.json().normalized.map((n: { field: string }) => n.field), ['series', 'machine'])

  for (const { field, value, message } of REFUSED) {
    const res = await upload({ series: SERIES, version: 'v9', machine: 'm', [field]: value }, 'refused')
    assert.equal(res.statusCode, 400, `${field}: ${res.body}`)
    assert.equal(res.json().error.code, 'INVALID_METADATA')
    assert.match(res.json().error.message, message)
  }
  assert.equal((await app.inject({ url: '/api/v1/runs/7' })).statusCode, 404, 'nothing refused was stored')
})

test('ksft ingest: the same folding and the same refusals', async (t) => {
  const db = await testStoreLocation(t)
  for (const [i, { sent }] of FOLDED.entries()) {
    const res = await runKsft(['ingest', '-', '--series', SERIES, '--version', sent, '--machine', 'tdx-host', '--db', db, '--json'], { input: log(`t${i}`) })
    assert.equal(res.code, 0, res.stderr)
  }
  for (const { field, value, message } of REFUSED.filter(r => ['version', 'series', 'machine', 'kernel', 'cpu'].includes(r.field))) {
    const args = { series: SERIES, version: 'v9', machine: 'm', [field]: value }
    const res = await runKsft(['ingest', '-', '--series', args.series!, '--version', args.version!, '--machine', args.machine!,
      ...(field === 'kernel' || field === 'cpu' ? [`--${field}`, value] : []), '--db', db], { input: log('refused') })
    assert.notEqual(res.code, 0, field)
    assert.match(res.stderr, new RegExp(`^ksft: error: ${message.source.slice(1, -1)}\\n$`))
  }
  await readStore(db, async (tables) => {
    assert.deepEqual((await tables.all<{ label: string }>('SELECT label FROM versions')).map(row => row.label), ['v7'])
    assert.deepEqual(await tables.all('SELECT count(*) AS n FROM runs'), [{ n: FOLDED.length }])
  })
})

test('a series named with more than 100 characters is addressed by its name', async (t) => {
  const { app, token } = await buildTestApp(t)
  const name = `KVM: ${'a very long series title '.repeat(10)}`.trim()
  assert.ok(name.length > 200)
  const res = await app.inject({ method: 'POST', url: uploadUrl({ series: name, version: 'v1' }), payload: log('a'), headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
  assert.equal(res.statusCode, 201, res.body)
  const trend = await app.inject({ url: `/api/v1/series/${encodeURIComponent(name)}/trend` })
  assert.equal(trend.statusCode, 200, trend.body.slice(0, 200))
  assert.equal(trend.json().series.name, name)
})

test('job_url is not part of a run\'s identity: the same log from a re-run job is the same run', async (t) => {
  const { app, token } = await buildTestApp(t)
  const upload = (jobUrl: string) => app.inject({
    method: 'POST', url: uploadUrl({ series: SERIES, version: 'v1', machine: 'm', job_url: jobUrl }), payload: log('a'),
    headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
  })
  const first = await upload('https://ci.example.org/jobs/1')
  assert.equal(first.statusCode, 201)
  const rerun = await upload('https://ci.example.org/jobs/2')
  assert.equal(rerun.statusCode, 200)
  assert.equal(rerun.json().id, first.json().id)
  assert.equal((await app.inject({ url: `/api/v1/runs/${first.json().id}` })).json().jobUrl, 'https://ci.example.org/jobs/1')
})
