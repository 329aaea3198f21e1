import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { openStore } from '../../server/storage/store.ts'
import { testStoreLocation } from '../helpers/backend.ts'
import { runKsft } from '../helpers/cli.ts'
import { realFixtureNames, realFixturePath, realFixturesSkip } from '../helpers/fixtures.ts'
import { ingestText, tempDir } from '../helpers/store.ts'
import { kcidbValidator, nullPaths } from '../server/export/kcidb-validator.ts'

const SERIES = 'KVM: x86/mmu: private memory'
const META = { series: SERIES, machine: 'tdx-host-1', arch: 'x86_64', flags: 'tdx', cpu: 'Intel Xeon 8480' }
// synthetic logs written for these tests
const PASSING = 'TAP version 13\n1..2\n# selftests: kvm: a\nok 1 selftests: kvm: a\n# selftests: kvm: b\nok 2 selftests: kvm: b\n'
const FAILING = 'TAP version 13\n1..2\n# selftests: kvm: a\nok 1 selftests: kvm: a\n# selftests: kvm: b\n# boom\nnot ok 2 selftests: kvm: b # exit=1\n'

const validate = kcidbValidator()

/** A store on the test backend holding `logs`, stored through the real ingest path and closed: where it is. */
async function storeWith (t: TestContext, logs: Array<[string | Buffer, Record<string, string>]>): Promise<string> {
  const location = await testStoreLocation(t)
  const store = await openStore(location)
  try {
    for (const [text, meta] of logs) await ingestText(store, text, meta)
  } finally {
    await store.close()
  }
  return location
}

/** A store seeded through the real ingest path: base, v1 on two machines, v2. */
function seeded (t: TestContext): Promise<string> {
  return storeWith(t, [
    [PASSING, { ...META, version: 'v1' }],
    [FAILING, { ...META, version: 'v2' }],
    [PASSING, { ...META, version: 'v1', machine: 'snp-host-1', flags: 'sev_snp' }],
    [PASSING, { ...META, version: 'base' }],
  ])
}

interface Doc { checkouts: Array<{ comment: string, id: string }>, builds: Array<{ id: string, checkout_id: string }>, tests: Array<{ path: string, status: string, build_id: string, log_url?: string }> }

function parsedDoc (stdout: string): Doc {
  const doc = JSON.parse(stdout) as Doc
  assert.deepEqual(validate(doc), [])
  assert.deepEqual(nullPaths(doc), [])
  return doc
}

test('ksft export kcidb --series prints every run of the series, versions in order; --version narrows it; --run takes one', async (t) => {
  const db = await seeded(t)
  const all = await runKsft(['export', 'kcidb', '--series', SERIES, '--origin', 'lab_1', '--db', db])
  assert.equal(all.code, 0, all.stderr)
  const doc = parsedDoc(all.stdout)
  assert.deepEqual(doc.checkouts.map(c => c.comment), [`${SERIES} base`, `${SERIES} v1`, `${SERIES} v2`])
  assert.deepEqual(doc.builds.map(b => b.id), ['lab_1:run-4', 'lab_1:run-1', 'lab_1:run-3', 'lab_1:run-2'])
  assert.equal(doc.tests.length, 8)
  assert.deepEqual(doc.tests.filter(kt => kt.build_id === 'lab_1:run-2').map(kt => [kt.path, kt.status]), [['kselftest.kvm.a', 'PASS'], ['kselftest.kvm.b', 'FAIL']])

  const again = await runKsft(['export', 'kcidb', '--series', SERIES, '--origin', 'lab_1', '--db', db])
  assert.equal(again.stdout, all.stdout, 'two exports are the same bytes')

  const v1 = await runKsft(['export', 'kcidb', '--series', '1', '--version', 'v1', '--origin', 'lab_1', '--db', db])
  assert.equal(v1.code, 0, v1.stderr)
  const v1Doc = parsedDoc(v1.stdout)
  assert.deepEqual(v1Doc.checkouts.map(c => c.comment), [`${SERIES} v1`])
  assert.deepEqual(v1Doc.builds.map(b => b.id), ['lab_1:run-1', 'lab_1:run-3'])

  const one = await runKsft(['export', 'kcidb', '--run', '2', '--origin', 'lab_1', '--db', db, '--base-url', 'https://ksft.example.org/'])
  assert.equal(one.code, 0, one.stderr)
  const oneDoc = parsedDoc(one.stdout)
  assert.deepEqual(oneDoc.builds.map(b => b.id), ['lab_1:run-2'])
  assert.ok(oneDoc.tests.every(kt => kt.log_url === 'https://ksft.example.org/api/v1/runs/2/log.txt'))
})

test('ksft export junit --run prints the run as JUnit XML', async (t) => {
  const db = await seeded(t)
  const res = await runKsft(['export', 'junit', '--run', '2', '--db', db])
  assert.equal(res.code, 0, res.stderr)
  assert.equal(XMLValidator.validate(res.stdout), true)
  const suite = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(res.stdout).testsuites.testsuite
  assert.equal(suite.name, 'kvm')
  assert.equal(suite.tests, '2')
  assert.equal(suite.failures, '1')
})

test('ksft export kcidb of every real log as one series is one valid document', { skip: realFixturesSkip }, async (t) => {
  const path = await storeWith(t, realFixtureNames().map((name, i) => [readFileSync(realFixturePath(name)), { ...META, version: `v${i + 1}` }]))
  const res = await runKsft(['export', 'kcidb', '--series', SERIES, '--origin', 'lab_1', '--db', path])
  assert.equal(res.code, 0, res.stderr)
  const doc = parsedDoc(res.stdout)
  assert.equal(doc.checkouts.length, realFixtureNames().length)
  assert.equal(doc.builds.length, realFixtureNames().length)
  for (const build of doc.builds) {
    const paths = doc.tests.filter(kt => kt.build_id === build.id).map(kt => kt.path)
    assert.equal(new Set(paths).size, paths.length, `${build.id}: paths unique within the build`)
  }
})

test('ksft export: a wrong call ends with 2, an unknown run, series or version with 1, and nothing is written', async (t) => {
  const db = await seeded(t)
  const usage: Array<[string[], RegExp]> = [
    [['export', 'kcidb', '--run', '1', '--series', SERIES, '--origin', 'lab'], /give exactly one of --run ID and --series ID/],
    [['export', 'kcidb', '--origin', 'lab'], /give exactly one of --run ID and --series ID/],
    [['export', 'kcidb', '--run', '1', '--version', 'v1', '--origin', 'lab'], /--version goes with --series/],
    [['export', 'kcidb', '--run', '1', '--origin', 'Lab-1'], /--origin must be lowercase letters, digits and _/],
    [['export', 'kcidb', '--run', '1'], /required option '--origin <origin>' not specified/],
    [['export', 'kcidb', '--run', 'x1', '--origin', 'lab'], /--run takes a run id/],
    [['export', 'kcidb', '--run', '1', '--origin', 'lab', '--base-url', 'ftp://x'], /--base-url must be an http\(s\) URL/],
    [['export', 'kcidb', '--run', '1', '--origin', 'lab', '--bogus'], /unknown option '--bogus'/],
  ]
  for (const [args, stderr] of usage) {
    const res = await runKsft([...args, '--db', db])
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`)
    assert.match(res.stderr, stderr)
    assert.equal(res.stdout, '')
  }
  const missing: Array<[string[], RegExp]> = [
    [['export', 'kcidb', '--run', '99', '--origin', 'lab'], /^ksft: error: no run 99\n$/],
    [['export', 'junit', '--run', '99'], /^ksft: error: no run 99\n$/],
    [['export', 'kcidb', '--series', 'no such series', '--origin', 'lab'], /^ksft: error: no series "no such series"\n$/],
    [['export', 'kcidb', '--series', SERIES, '--version', 'v9', '--origin', 'lab'], /has no version "v9"/],
  ]
  for (const [args, stderr] of missing) {
    const res = await runKsft([...args, '--db', db])
    assert.equal(res.code, 1, `${args.join(' ')}: ${res.stderr}`)
    assert.match(res.stderr, stderr)
    assert.equal(res.stdout, '')
  }
  const nowhere = join(tempDir(t), 'none.db')
  const res = await runKsft(['export', 'kcidb', '--run', '1', '--origin', 'lab', '--db', nowhere])
  assert.equal(res.code, 1)
  assert.match(res.stderr, /cannot open the database/)
  assert.equal(existsSync(nowhere), false, 'an export never creates a database')
})
