import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import type { SubtestRecord, TestRecord } from '../../../ingest/index.ts'
import { buildJunitXml } from '../../../server/export/junit.ts'
import { exportedRun } from '../../../server/export/run-source.ts'
import { openTestBackendStore } from '../../helpers/backend.ts'
import { realFixtureNames, realFixturePath, realFixturesSkip } from '../../helpers/fixtures.ts'
import { ingestText } from '../../helpers/store.ts'

const META = { series: 'KVM: guest_memfd', machine: 'snp-host-1', arch: 'x86_64', cpu: 'AMD EPYC 9654', flags: 'sev,sev_snp', kernel: '6.12.0-rc1' }

// synthetic log written for these tests: every status, and names and output no XML can carry as they are
const EVERY_STATUS = `TAP version 13
1..8
# selftests: kvm: passes
ok 1 selftests: kvm: passes
# selftests: kvm: fails
# progress 10%\r20%
# something broke <here> & "there"
not ok 2 selftests: kvm: fails # exit=1
# selftests: kvm: skipped
ok 3 selftests: kvm: skipped # SKIP no kvm
# selftests: kvm: expected
not ok 4 selftests: kvm: expected # TODO known bug
# selftests: kvm: surprise
ok 5 selftests: kvm: surprise # TODO fixed?
# selftests: kvm: slow
not ok 6 selftests: kvm: slow # TIMEOUT 45 seconds
# selftests: kvm: names
# TAP version 13
# 1..2
# ok 1 quote " apostrophe ' <tag> & amp
# not ok 2 bell \u0007 nul \u0000 esc \u001b[31m red
not ok 7 selftests: kvm: names # exit=1
# selftests: kvm: dies
[  12.345678] Kernel panic - not syncing: oops
`

// XML 1.0's Char production: what a document may contain at all, escaped or not
const XML_CHAR = /^[\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]*$/u

interface Node { [key: string]: unknown }

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  htmlEntities: true,
  isArray: (name, _path, _leaf, isAttribute) => !isAttribute && ['testsuite', 'testcase', 'property', 'failure', 'error', 'skipped', 'system-out', 'system-err'].includes(name),
})

// the elements and attributes of the Jenkins junit-10.xsd, which GitLab's reader accepts too
const ALLOWED: Record<string, { attributes: string[], required: string[], children: string[] }> = {
  testsuites: { attributes: ['name', 'time', 'tests', 'failures', 'disabled', 'errors'], required: [], children: ['testsuite'] },
  testsuite: {
    attributes: ['name', 'tests', 'failures', 'errors', 'time', 'disabled', 'skipped', 'timestamp', 'hostname', 'id', 'package'],
    required: ['name', 'tests'],
    children: ['properties', 'testcase', 'system-out', 'system-err'],
  },
  properties: { attributes: [], required: [], children: ['property'] },
  property: { attributes: ['name', 'value'], required: ['name', 'value'], children: [] },
  testcase: { attributes: ['name', 'assertions', 'time', 'classname', 'status'], required: ['name'], children: ['skipped', 'error', 'failure', 'system-out', 'system-err'] },
  skipped: { attributes: ['message'], required: [], children: [] },
  error: { attributes: ['message', 'type'], required: ['message', 'type'], children: [] },
  failure: { attributes: ['message', 'type'], required: ['message', 'type'], children: [] },
  'system-out': { attributes: [], required: [], children: [] },
  'system-err': { attributes: [], required: [], children: [] },
}

/** Checks a parsed element against the junit-10 vocabulary, recursively. */
function assertShape (name: string, node: unknown, where: string): void {
  const rule = ALLOWED[name]
  assert.ok(rule, `${where}: <${name}> is a JUnit element`)
  if (typeof node === 'string') return
  const element = node as Node
  for (const [key, value] of Object.entries(element)) {
    if (key === '#text') {
      // the indentation between elements is all the text a container may hold
      assert.ok(rule.children.length === 0 || /^\s*$/.test(String(value)), `${where}: <${name}> holds no text`)
      continue
    }
    if (typeof value === 'string' && !rule.children.includes(key)) {
      assert.ok(rule.attributes.includes(key), `${where}: ${key} is an attribute of <${name}>`)
      continue
    }
    assert.ok(rule.children.includes(key), `${where}: <${key}> may sit in <${name}>`)
    for (const child of Array.isArray(value) ? value : [value]) assertShape(key, child, `${where}/${key}`)
  }
  for (const key of rule.required) assert.equal(typeof element[key], 'string', `${where}: <${name}> has ${key}`)
}

function parse (xml: string): Node {
  assert.equal(XMLValidator.validate(xml), true, 'well-formed XML')
  assert.match(xml, XML_CHAR, 'only characters XML 1.0 allows')
  assert.ok(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites '))
  const doc = parser.parse(xml) as Node
  assertShape('testsuites', doc.testsuites, 'testsuites')
  return doc.testsuites as Node
}

function casesOf (root: Node): Array<Node & { suite: string }> {
  return (root.testsuite as Node[]).flatMap(suite => ((suite.testcase as Node[] | undefined) ?? []).map(c => ({ ...c, suite: suite.name as string })))
}

function countResults (tests: TestRecord[]): number {
  const count = (subtests: SubtestRecord[]): number => subtests.reduce((n, s) => n + 1 + count(s.subtests), 0)
  return tests.reduce((n, t) => n + 1 + count(t.subtests), 0)
}

test('every real log becomes JUnit XML: a suite per collection, a case per result, counts that add up, its own lines', { skip: realFixturesSkip }, async (t) => {
  const { store } = await openTestBackendStore(t)
  for (const [i, name] of realFixtureNames().entries()) {
    const raw = readFileSync(realFixturePath(name))
    const rawLines = raw.toString('utf8').split('\n').map(line => line.replace(/\r$/, ''))
    const { runId } = await ingestText(store, raw, { ...META, version: `v${i + 1}` })
    const records = await store.runs.getRunTests(runId)
    const root = parse(buildJunitXml(await exportedRun(store, runId)))
    const suites = root.testsuite as Node[]
    assert.deepEqual(suites.map(s => s.name), [...new Set(records.map(r => r.collection))], `${name}: a suite per collection, in log order`)
    const cases = casesOf(root)
    assert.equal(cases.length, countResults(records), `${name}: a case per test and subtest`)
    let failures = 0
    for (const suite of suites) {
      const own = (suite.testcase as Node[]).map(c => Object.keys(c).filter(k => ['failure', 'error', 'skipped'].includes(k)))
      assert.ok(own.every(outcomes => outcomes.length <= 1), `${name}: one outcome per case`)
      assert.equal(suite.tests, String(own.length))
      assert.equal(suite.failures, String(own.filter(o => o[0] === 'failure').length))
      assert.equal(suite.errors, String(own.filter(o => o[0] === 'error').length))
      assert.equal(suite.skipped, String(own.filter(o => o[0] === 'skipped').length))
      failures += Number(suite.failures)
    }
    assert.equal(root.tests, String(cases.length))
    assert.equal(root.failures, String(failures))

    // a test's case sits under its collection's package; its lines are its own stretch of the raw log
    const tops = cases.filter(c => c.classname === `kselftest.${String(c.classname).split('.')[1]}` && c.suite !== undefined)
    for (const record of records) {
      const found = tops.find(c => c.suite === record.collection && c.name === record.name)
      assert.ok(found, `${name}: ${record.collection}: ${record.name} has a case`)
      const out = (found['system-out'] as string[])[0] ?? ''
      const own = rawLines.slice(record.lines[0] - 1, record.lines[1]).join('\n')
      if (own.length <= 65536 && XML_CHAR.test(own)) assert.equal(out, own, `${name}: ${record.name} carries its own lines`)
      const outcome = record.status === 'pass' ? undefined : record.status === 'skip' || record.status === 'xfail' ? 'skipped' : record.status === 'fail' || record.status === 'xpass' ? 'failure' : 'error'
      assert.deepEqual(Object.keys(found).filter(k => ['failure', 'error', 'skipped'].includes(k)), outcome ? [outcome] : [], `${name}: ${record.name} ${record.status}`)
    }
  }
})

test('each status has its JUnit element and reason; untrusted names and output stay text', async (t) => {
  const { store } = await openTestBackendStore(t)
  const { runId } = await ingestText(store, EVERY_STATUS, { ...META, version: 'v1', started_at: '2024-05-01T10:00:00Z' })
  const xml = buildJunitXml(await exportedRun(store, runId), { logUrl: 'https://ksft.example.org/api/v1/runs/1/log.txt' })
  const root = parse(xml)
  const suite = (root.testsuite as Node[])[0]!
  assert.equal(suite.timestamp, '2024-05-01T10:00:00')
  assert.equal(suite.hostname, 'snp-host-1')
  const properties = Object.fromEntries(((suite.properties as Node).property as Node[]).map(p => [p.name, p.value]))
  assert.deepEqual(properties, {
    'ksft.run': String(runId), 'ksft.series': 'KVM: guest_memfd', 'ksft.version': 'v1', 'ksft.machine': 'snp-host-1',
    'ksft.arch': 'x86_64', 'ksft.cpu': 'AMD EPYC 9654', 'ksft.flags': 'sev,sev_snp', 'ksft.kernel': '6.12.0-rc1',
  })
  const byName = new Map(casesOf(root).map(c => [c.name as string, c]))
  const outcome = (name: string) => {
    const c = byName.get(name)!
    const key = ['failure', 'error', 'skipped'].find(k => k in c)
    return key ? { [key]: (c[key] as Node[])[0] } : {}
  }
  assert.deepEqual(outcome('passes'), {})
  assert.deepEqual(outcome('fails'), { failure: { message: 'something broke <here> & "there"', type: 'fail', '#text': 'something broke <here> & "there"\nexit code 1' } })
  assert.deepEqual(outcome('skipped'), { skipped: { message: 'no kvm' } })
  assert.deepEqual(outcome('expected'), { skipped: { message: 'expected failure: known bug' } })
  assert.deepEqual(outcome('surprise'), { failure: { message: 'passed, but was expected to fail', type: 'xpass', '#text': 'fixed?' } })
  assert.deepEqual(outcome('slow'), { error: { message: 'timed out after 45 seconds', type: 'timeout', '#text': 'timed out after 45 seconds' } })
  assert.equal((outcome('dies').error as Node).type, 'error')
  assert.match((outcome('dies').error as Node).message as string, /^no result line: the log ends before its result line, after a kernel panic/)
  assert.deepEqual(byName.get('dies')!['system-err'], ['ksft flags: kernel_panic'])

  // subtests: named as printed, classname the path of their test
  const quote = byName.get('quote " apostrophe \' <tag> & amp')!
  assert.equal(quote.classname, 'kselftest.kvm.names')
  // a first subtest's lines start after its test's header (docs/parsing.md)
  assert.deepEqual(quote['system-out'], ['# TAP version 13\n# 1..2\n# ok 1 quote " apostrophe \' <tag> & amp'])
  // control characters no XML can hold are shown in caret notation, as cat -v does
  const bell = byName.get('bell ^G nul ^@ esc ^[[31m red')
  assert.ok(bell, 'the control characters of the name became ^G, ^@ and ^[')
  assert.deepEqual(bell.failure, [{ message: 'failed', type: 'fail', '#text': 'failed' }])
  assert.deepEqual(byName.get('fails')!['system-out'], ['# selftests: kvm: fails\n# progress 10%\r20%\n# something broke <here> & "there"\nnot ok 2 selftests: kvm: fails # exit=1'])
})

test('a test with more output than a case holds keeps its last lines and says where the rest is', async (t) => {
  const { store } = await openTestBackendStore(t)
  const noise = Array.from({ length: 2000 }, (_, i) => `# line ${i} of a very chatty test, padded well beyond the size of a case`).join('\n')
  const log = `TAP version 13\n1..1\n# selftests: mm: chatty\n${noise}\nnot ok 1 selftests: mm: chatty # exit=1\n`
  const { runId } = await ingestText(store, log, { ...META, version: 'v1' })
  const root = parse(buildJunitXml(await exportedRun(store, runId), { logUrl: 'https://ksft.example.org/api/v1/runs/1/log.txt' }))
  const out = ((casesOf(root)[0]!['system-out']) as string[])[0]!
  assert.ok(out.length <= 65536 && out.length > 60000, `near the limit: ${out.length}`)
  assert.match(out, /^\[ksft: \d+ earlier lines of this test cut; the raw log at https:\/\/ksft\.example\.org\/api\/v1\/runs\/1\/log\.txt has them all\]\n/)
  assert.ok(out.endsWith('not ok 1 selftests: mm: chatty # exit=1'))
})
