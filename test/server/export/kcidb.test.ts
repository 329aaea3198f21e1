import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import type { SubtestRecord, TestRecord } from '../../../ingest/index.ts'
import { buildKcidbDocument, kcidbRunPieces } from '../../../server/export/kcidb.ts'
import { kcidbSchemaFileText } from '../../../server/export/write-kcidb-schema.ts'
import { exportedRun, exportedRuns } from '../../../server/export/run-source.ts'
import type { KcidbDocument, KcidbTest } from '../../../server/export/kcidb-schema.ts'
import { openTestBackendStore } from '../../helpers/backend.ts'
import { realFixtureNames, realFixturePath, realFixturesSkip } from '../../helpers/fixtures.ts'
import { ingestText } from '../../helpers/store.ts'
import { KCIDB_SCHEMA_PATH, kcidbValidator, nullPaths } from './kcidb-validator.ts'

const META = { series: 'KVM: guest_memfd', machine: 'snp-host-1', arch: 'x86_64', cpu: 'AMD EPYC 9654', flags: 'sev,sev_snp', kernel: '6.12.0-rc1' }
const validate = kcidbValidator()

// synthetic log written for these tests: every status, names that slug alike, NUL and BEL in output
const EVERY_STATUS = `TAP version 13
1..8
# selftests: kvm: passes
ok 1 selftests: kvm: passes
# selftests: kvm: fails
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
# 1..4
# ok 1 a.b
# ok 2 a b
# ok 3 a_b
# not ok 4 a/b \u0007 bell \u0000 nul
not ok 7 selftests: kvm: names # exit=1
# selftests: net/forwarding: router.sh
ok 8 selftests: net/forwarding: router.sh
# selftests: kvm: dies
# output \u0000 with nul
[  12.345678] Kernel panic - not syncing: oops
`

function countResults (tests: TestRecord[]): number {
  const count = (subtests: SubtestRecord[]): number => subtests.reduce((n, s) => n + 1 + count(s.subtests), 0)
  return tests.reduce((n, t) => n + 1 + count(t.subtests), 0)
}

/** The checks every export must pass, whatever the log. */
function assertWellFormed (doc: KcidbDocument, label: string): void {
  assert.deepEqual(validate(doc), [], `${label}: valid against docs/kcidb-v5.3-subset.schema.json`)
  assert.deepEqual(nullPaths(doc), [], `${label}: no null anywhere`)
  const buildIds = new Set(doc.builds.map(build => build.id))
  const checkoutIds = new Set(doc.checkouts.map(checkout => checkout.id))
  for (const build of doc.builds) assert.ok(checkoutIds.has(build.checkout_id), `${label}: ${build.id} has its checkout`)
  const testIds = new Set<string>()
  const pathsPerBuild = new Map<string, Set<string>>()
  for (const t of doc.tests) {
    assert.ok(buildIds.has(t.build_id), `${label}: ${t.id} has its build`)
    assert.ok(!testIds.has(t.id), `${label}: test id ${t.id} unique`)
    testIds.add(t.id)
    const paths = pathsPerBuild.get(t.build_id) ?? new Set()
    assert.ok(!paths.has(t.path), `${label}: path ${t.path} unique within ${t.build_id}`)
    paths.add(t.path)
    pathsPerBuild.set(t.build_id, paths)
  }
}

test('the committed docs/kcidb-v5.3-subset.schema.json is the one server/export/kcidb-schema.ts writes', () => {
  assert.equal(readFileSync(KCIDB_SCHEMA_PATH, 'utf8'), kcidbSchemaFileText(),
    'regenerate it: node --import tsx server/export/write-kcidb-schema.ts')
})

test('every real log exports to a valid KCIDB document: every result once, its own lines, paths stable across databases', { skip: realFixturesSkip }, async (t) => {
  const first = await openTestBackendStore(t)
  const second = await openTestBackendStore(t)
  // shift the second database's ids so that equal paths cannot come from equal ids
  await ingestText(second.store, EVERY_STATUS, { ...META, version: 'v99' })
  for (const [i, name] of realFixtureNames().entries()) {
    const raw = readFileSync(realFixturePath(name))
    const rawLines = raw.toString('utf8').split('\n').map(line => line.replace(/\r$/, ''))
    const meta = { ...META, version: `v${i + 1}` }
    const { runId } = await ingestText(first.store, raw, meta)
    const { runId: otherId } = await ingestText(second.store, raw, meta)
    assert.notEqual(runId, otherId)

    const doc = await buildKcidbDocument([await exportedRun(first.store, runId)], { origin: 'ksft_test' })
    assertWellFormed(doc, name)
    const records = await first.store.runs.getRunTests(runId)
    assert.equal(doc.tests.length, countResults(records), `${name}: a KCIDB test per test and subtest`)
    assert.equal(doc.checkouts.length, 1)
    assert.equal(doc.builds.length, 1)
    assert.equal(doc.builds[0]!.architecture, 'x86_64')

    for (const kt of doc.tests) {
      const [from, to] = kt.misc.log_lines
      const own = rawLines.slice(from - 1, to).join('\n').replaceAll('\u0000', '')
      if (own.length <= 16384) {
        assert.equal(kt.log_excerpt, own, `${name}: ${kt.path} carries its own lines`)
      } else {
        assert.ok(kt.log_excerpt.length <= 16384)
        assert.match(kt.log_excerpt, /^\[ksft: \d+ earlier lines? of this test cut; the raw log has them all\]\n/)
        assert.ok(own.endsWith(kt.log_excerpt.slice(kt.log_excerpt.indexOf('\n') + 1)), `${name}: ${kt.path} keeps the end of its lines`)
      }
      assert.equal(kt.path.split('.').length, kt.misc.names.length + 1, `${name}: ${kt.path} has a component per name`)
    }
    // the status KCIDB gets comes from the stored record with those names
    const top = doc.tests.filter(kt => kt.misc.names.length === 2)
    assert.deepEqual(top.map(kt => [kt.misc.names, kt.misc.ksft_status]), records.map(r => [[r.collection, r.name], r.status]))

    const again = await buildKcidbDocument([await exportedRun(first.store, runId)], { origin: 'ksft_test' })
    assert.deepEqual(again, doc, `${name}: two exports are identical`)
    const elsewhere = await buildKcidbDocument([await exportedRun(second.store, otherId)], { origin: 'ksft_test' })
    assert.deepEqual(elsewhere.tests.map(kt => kt.path), doc.tests.map(kt => kt.path), `${name}: the same log has the same paths in another database`)
  }
})

test('a whole series exports as one document: a checkout per version, a build per run', { skip: realFixturesSkip }, async (t) => {
  const { store } = await openTestBackendStore(t)
  const names = realFixtureNames().slice(0, 4)
  const ids: number[] = []
  for (const [i, name] of names.entries()) {
    const raw = readFileSync(realFixturePath(name))
    // two machines per version
    ids.push((await ingestText(store, raw, { ...META, version: `v${i + 1}` })).runId)
    ids.push((await ingestText(store, raw, { ...META, version: `v${i + 1}`, machine: 'tdx-host-1', flags: 'tdx', arch: 'x86-64' })).runId)
  }
  const doc = await buildKcidbDocument(exportedRuns(store, ids), { origin: 'ksft_test' })
  assertWellFormed(doc, 'series')
  assert.equal(doc.checkouts.length, names.length)
  assert.equal(doc.builds.length, ids.length)
  assert.deepEqual(doc.checkouts.map(c => c.comment), names.map((_, i) => `KVM: guest_memfd v${i + 1}`))
  const tdx = doc.builds.filter(b => b.misc.machine === 'tdx-host-1')
  // KCIDB architectures are [a-z0-9_]*: the upload's spelling is kept beside
  assert.deepEqual(tdx.map(b => [b.architecture, b.misc.arch]), names.map(() => ['x86_64', 'x86-64']))
  const tdxTest = doc.tests.find(kt => kt.build_id === tdx[0]!.id)!
  assert.deepEqual(tdxTest.environment, { comment: 'tdx-host-1', misc: { machine: 'tdx-host-1', cpu: 'AMD EPYC 9654', flags: ['tdx'], arch: 'x86-64', kernel: '6.12.0-rc1' } })
})

test('statuses map to KCIDB words with the kselftest word kept; odd names become unique slugs; NUL never leaves', async (t) => {
  const { store } = await openTestBackendStore(t)
  const { runId } = await ingestText(store, EVERY_STATUS, {
    ...META,
    version: 'v3',
    message_id: '20231105163040.14904-1-pbonzini@redhat.com',
    base_commit: '0123456789abcdef0123456789abcdef01234567',
    started_at: '2024-05-01T10:00:00Z',
    job_url: 'https://ci.example.org/job/7',
  })
  const doc = await buildKcidbDocument([await exportedRun(store, runId)], { origin: 'lab_1', logUrl: (id: number) => `https://ksft.example.org/api/v1/runs/${id}/log.txt` })
  assertWellFormed(doc, 'synthetic')
  const byPath = new Map<string, KcidbTest>(doc.tests.map(kt => [kt.path, kt]))
  const statusOf = (path: string) => [byPath.get(path)?.status, byPath.get(path)?.misc.ksft_status]
  assert.deepEqual(statusOf('kselftest.kvm.passes'), ['PASS', 'pass'])
  assert.deepEqual(statusOf('kselftest.kvm.fails'), ['FAIL', 'fail'])
  assert.deepEqual(statusOf('kselftest.kvm.skipped'), ['SKIP', 'skip'])
  assert.deepEqual(statusOf('kselftest.kvm.expected'), ['PASS', 'xfail'])
  assert.deepEqual(statusOf('kselftest.kvm.surprise'), ['FAIL', 'xpass'])
  assert.deepEqual(statusOf('kselftest.kvm.slow'), ['ERROR', 'timeout'])
  assert.deepEqual(statusOf('kselftest.kvm.dies'), ['ERROR', 'error'])
  assert.equal(byPath.get('kselftest.kvm.slow')!.misc.timeout_seconds, 45)
  assert.equal(byPath.get('kselftest.kvm.fails')!.misc.exit_code, 1)
  assert.equal(byPath.get('kselftest.kvm.fails')!.misc.reason, 'something broke <here> & "there"')
  assert.equal(byPath.get('kselftest.kvm.passes')!.misc.reason, undefined, 'absent, not null')
  assert.deepEqual(byPath.get('kselftest.kvm.dies')!.misc.flags, ['kernel_panic'])

  // "a_b" is a valid component and keeps it; "a.b" and "a b" slug to it too and get their name's hash
  const subPaths = doc.tests.filter(kt => kt.misc.names[1] === 'names' && kt.misc.names.length === 3)
  assert.deepEqual(subPaths.map(kt => [kt.misc.names[2], kt.path.split('.')[3]]), [
    ['a.b', subPaths[0]!.path.split('.')[3]],
    ['a b', subPaths[1]!.path.split('.')[3]],
    ['a_b', 'a_b'],
    ['a/b \u0007 bell  nul', 'a_b_bell_nul'],
  ])
  assert.match(subPaths[0]!.path, /\.a_b-[0-9a-f]{8}$/)
  assert.match(subPaths[1]!.path, /\.a_b-[0-9a-f]{8}$/)
  assert.notEqual(subPaths[0]!.path, subPaths[1]!.path)
  assert.ok(byPath.has('kselftest.net_forwarding.router_sh'))
  assert.equal(byPath.get('kselftest.net_forwarding.router_sh')!.comment, 'net/forwarding: router.sh')
  assert.ok(!JSON.stringify(doc).includes('\\u0000'), 'no NUL in any string')
  assert.equal(byPath.get('kselftest.kvm.dies')!.log_excerpt, '# selftests: kvm: dies\n# output  with nul\n[  12.345678] Kernel panic - not syncing: oops')

  assert.deepEqual(doc.checkouts, [{
    id: `lab_1:version-${(await store.runs.getRun(runId))!.version.id}`,
    origin: 'lab_1',
    git_commit_hash: '0123456789abcdef0123456789abcdef01234567',
    message_id: '20231105163040.14904-1-pbonzini@redhat.com',
    comment: 'KVM: guest_memfd v3',
    misc: {
      series: 'KVM: guest_memfd',
      series_id: 1,
      version: 'v3',
      version_id: 1,
      lore_url: 'https://lore.kernel.org/r/20231105163040.14904-1-pbonzini%40redhat.com',
    },
  }])
  const build = doc.builds[0]!
  assert.equal(build.start_time, '2024-05-01T10:00:00.000Z')
  assert.equal(build.misc.job_url, 'https://ci.example.org/job/7')
  assert.equal(build.comment, `kselftest run ${runId} on snp-host-1 (6.12.0-rc1)`)
  assert.ok(doc.tests.every(kt => kt.log_url === `https://ksft.example.org/api/v1/runs/${runId}/log.txt`))
})

test('an abbreviated base commit and a Message-ID that is no e-mail address stay in misc, out of the KCIDB fields', async (t) => {
  const { store } = await openTestBackendStore(t)
  const { runId } = await ingestText(store, EVERY_STATUS, { ...META, version: 'v1', base_commit: 'abc1234', message_id: 'patch-1@localhost' })
  const doc = await buildKcidbDocument([await exportedRun(store, runId)], { origin: 'lab' })
  assertWellFormed(doc, 'odd checkout')
  const checkout = doc.checkouts[0]!
  assert.equal(checkout.git_commit_hash, undefined)
  assert.equal(checkout.message_id, undefined)
  assert.equal(checkout.misc.base_commit, 'abc1234')
  assert.equal(checkout.misc.message_id, 'patch-1@localhost')
})

test('a test whose output is longer than 16384 characters keeps its last lines under a note of the cut', async (t) => {
  const { store } = await openTestBackendStore(t)
  const noise = Array.from({ length: 3000 }, (_, i) => `# line ${i} of a very chatty test, padded to be long enough`).join('\n')
  const log = `TAP version 13\n1..1\n# selftests: mm: chatty\n${noise}\n# the real failure\nnot ok 1 selftests: mm: chatty # exit=1\n`
  const { runId } = await ingestText(store, log, { ...META, version: 'v1' })
  const doc = await buildKcidbDocument([await exportedRun(store, runId)], { origin: 'lab' })
  assertWellFormed(doc, 'chatty')
  const excerpt = doc.tests[0]!.log_excerpt
  assert.ok(excerpt.length <= 16384 && excerpt.length > 16000, `near the limit: ${excerpt.length}`)
  assert.ok(excerpt.endsWith('# the real failure\nnot ok 1 selftests: mm: chatty # exit=1'))
  const cut = Number(/^\[ksft: (\d+) earlier lines of this test cut; the raw log has them all\]\n/.exec(excerpt)?.[1])
  assert.equal(cut + excerpt.split('\n').length - 1, 3003, 'lines cut and lines kept add up to the test\'s lines')
})

test('the schema refuses what KCIDB refuses: a null, an uppercase origin, a path outside kselftest, a long excerpt', async (t) => {
  const { store } = await openTestBackendStore(t)
  const { runId } = await ingestText(store, EVERY_STATUS, { ...META, version: 'v1' })
  const doc = await buildKcidbDocument([await exportedRun(store, runId)], { origin: 'lab' })
  const broken: Array<[string, (d: KcidbDocument) => void]> = [
    ['null', d => { (d.tests[0] as Record<string, unknown>).duration = null }],
    ['origin', d => { d.builds[0]!.origin = 'Lab' }],
    ['path', d => { d.tests[0]!.path = 'ltp.sem01' }],
    ['path component', d => { d.tests[0]!.path = 'kselftest.net/forwarding.x' }],
    ['excerpt', d => { d.tests[0]!.log_excerpt = 'x'.repeat(16385) }],
    ['status', d => { (d.tests[0] as Record<string, unknown>).status = 'XFAIL' }],
    ['version', d => { (d.version as Record<string, unknown>).minor = 4 }],
  ]
  for (const [what, breakIt] of broken) {
    const copy = structuredClone(doc)
    breakIt(copy)
    assert.notDeepEqual(validate(copy), [], `${what} is refused`)
  }
})

test('known issues export as KCIDB issues, and each test they matched as an incident; the streamed run says the same', { skip: realFixturesSkip }, async (t) => {
  const { store } = await openTestBackendStore(t)
  // the real fixtures/real/real-kvm-pvm-subset-8-tests.txt: cpuid_test and guest_memfd_test fail there
  const { runId } = await ingestText(store, readFileSync(realFixturePath('real-kvm-pvm-subset-8-tests.txt'), 'utf8'), { ...META, version: 'v1' })
  const issue = (title: string, testGlob: string, culprit: 'kernel' | 'infrastructure' | 'unknown', url: string | null = null) => store.issues.create({
    title, url, culprit, intermittent: false,
    matcher: { testGlob, reasonRegex: null, logRegex: null, exitCode: null, statuses: [], kernelTrouble: false },
    scope: { series: [], machines: [], arch: null, cpuFlags: [], kernelGlob: null, versionsFrom: null, versionsTo: null },
  }, 'tester')
  const cpuid = await issue('CPUID nent mismatch on PVM', 'kvm/cpuid_test', 'infrastructure', 'https://bugzilla.kernel.org/show_bug.cgi?id=218000')
  const memfd = await issue('guest_memfd flag 0x1', 'kvm/guest_memfd_test', 'unknown')
  await store.issues.update(memfd.id, { title: 'guest_memfd() flag 0x1 accepted' }, 'tester')
  const resolved = await issue('nothing', 'kvm/*', 'kernel')
  await store.issues.update(resolved.id, { active: false }, 'tester')

  const doc = await buildKcidbDocument([await exportedRun(store, runId)], { origin: 'lab_1' })
  assertWellFormed(doc, 'with known issues')
  assert.deepEqual(doc.issues, [
    {
      id: `lab_1:issue-${cpuid.id}`, version: 0, origin: 'lab_1', report_url: 'https://bugzilla.kernel.org/show_bug.cgi?id=218000',
      report_subject: 'CPUID nent mismatch on PVM', culprit: { code: false, tool: false, harness: true }, comment: 'CPUID nent mismatch on PVM',
      misc: { ksft_issue_id: cpuid.id, test_glob: 'kvm/cpuid_test', intermittent: false, active: true },
    },
    {
      id: `lab_1:issue-${memfd.id}`, version: 1, origin: 'lab_1', report_subject: 'guest_memfd() flag 0x1 accepted', comment: 'guest_memfd() flag 0x1 accepted',
      misc: { ksft_issue_id: memfd.id, test_glob: 'kvm/guest_memfd_test', intermittent: false, active: true },
    },
  ], 'an unknown culprit is left out; a resolved issue is not exported')
  const testIds = new Map(doc.tests.map(kt => [kt.path, kt.id]))
  assert.deepEqual(doc.incidents!.map(incident => [incident.issue_id, incident.issue_version, incident.test_id, incident.present]), [
    [`lab_1:issue-${memfd.id}`, 1, testIds.get('kselftest.kvm.guest_memfd_test'), true],
    [`lab_1:issue-${cpuid.id}`, 0, testIds.get('kselftest.kvm.cpuid_test'), true],
  ])
  const pieces = [...kcidbRunPieces(await exportedRun(store, runId), { origin: 'lab_1' })].join('')
  assert.equal(pieces, JSON.stringify(doc))
})
