import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import BetterSqlite3 from 'better-sqlite3'
import { parseKselftestLog } from '../../../ingest/index.ts'
import { parseRunMetadata } from '../../../server/domain/run-metadata.ts'
import { KsftError } from '../../../server/errors.ts'
import { openDatabase } from '../../../server/storage/sqlite/database.ts'
import { loadMigrations, migrate } from '../../../server/storage/sqlite/migrate.ts'
import { RunStore } from '../../../server/storage/sqlite/run-store.ts'
import { realFixtureNames, realFixturePath, realFixturesSkip } from '../../helpers/fixtures.ts'
import { ingestText, openTestStore, tempDir } from '../../helpers/store.ts'

// synthetic log written for these tests
const LOG = [
  'TAP version 13', '1..3',
  '# selftests: kvm: kvm_binary_stats_test', '# TAP version 13', '# 1..2', '# ok 1 vm0', '# not ok 2 vm1',
  'not ok 1 selftests: kvm: kvm_binary_stats_test # exit=1',
  '# selftests: kvm: guest_memfd_test', 'ok 2 selftests: kvm: guest_memfd_test',
  '# selftests: kvm: pmu_counters_test', 'ok 3 selftests: kvm: pmu_counters_test # SKIP',
  '',
].join('\n')
const META = { series: 'KVM: guest_memfd', version: 'v7', machine: 'tdx-host-1', flags: 'tdx', kernel: '6.12.0' }

test('a run round-trips: summary, tree, metadata and the raw log line by line', async (t) => {
  const { store } = openTestStore(t)
  const { runId, created } = await ingestText(store, LOG, META)
  assert.equal(created, true)
  const run = store.getRun(runId)!
  assert.deepEqual(run.summary, { total: 3, pass: 1, fail: 1, skip: 1, xfail: 0, xpass: 0, timeout: 0, error: 0 })
  assert.equal(run.series.name, 'KVM: guest_memfd')
  assert.equal(run.version.label, 'v7')
  assert.deepEqual(run.machine.flags, ['tdx'])
  assert.equal(run.logLines, 12)
  assert.deepEqual(store.getRunTests(runId), parseKselftestLog(LOG).tests)
  assert.deepEqual(store.getLogLines(runId, 6, 7)!.lines, ['# ok 1 vm0', '# not ok 2 vm1'])
  assert.equal(Buffer.concat([...store.readLog(runId)]).toString(), LOG)
})

test('the same log with the same metadata is the same run; other metadata is another run', async (t) => {
  const { store, db } = openTestStore(t)
  const first = await ingestText(store, LOG, META)
  const again = await ingestText(store, LOG, META)
  assert.deepEqual(again, { ...again, runId: first.runId, created: false })
  const other = await ingestText(store, LOG, { ...META, machine: 'snp-host-1' })
  assert.notEqual(other.runId, first.runId)
  assert.equal((db.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n, 2)
  assert.equal(store.writeCounter(), 2)
})

test('a failing ingest leaves nothing behind', async (t) => {
  const { store, db } = openTestStore(t)
  await ingestText(store, LOG, META)
  const counts = () => db.prepare(`SELECT (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM results) AS results,
    (SELECT count(*) FROM log_chunks) AS chunks, (SELECT count(*) FROM versions) AS versions`).get()
  const before = counts()
  await assert.rejects(ingestText(store, 'just some text\n', { ...META, version: 'v8' }), (err: KsftError) => err.code === 'NOT_KSELFTEST')
  await assert.rejects(ingestText(store, '', { ...META, version: 'v8' }), (err: KsftError) => err.code === 'EMPTY_LOG')
  await assert.rejects(ingestText(store, LOG, { ...META, version: 'v8' }, { maxBytes: 100 }), (err: KsftError) => err.code === 'LOG_TOO_LARGE')
  // a failure inside the transaction itself: the CHECK constraint refuses an unknown status
  const parsed = parseKselftestLog(LOG)
  parsed.tests[2]!.status = 'exploded' as never
  assert.throws(() => store.ingestRun({ ...parseMeta(), version: 'v9' }, parsed, { sha256: 'x', bytes: 1, lines: 1, chunks: [] }), /CHECK constraint/)
  assert.deepEqual(counts(), before)
})

function parseMeta () {
  return parseRunMetadata({ series: 'KVM: guest_memfd', version: 'v7', machine: 'm' })
}

test('migrations: a fresh file gets every one; an existing file only the new ones; data survives', (t) => {
  const dir = tempDir(t)
  const path = join(dir, 'old.db')
  const all = loadMigrations()
  assert.ok(all.length >= 1)
  // a database made by the first migration only, with a run in it
  const old = new BetterSqlite3(path)
  migrate(old, all.slice(0, 1))
  assert.equal(old.pragma('user_version', { simple: true }), 1)
  old.prepare("INSERT INTO series (name, created_at) VALUES ('s', '2024-01-01')").run()
  old.close()

  const db = openDatabase(path)
  t.after(() => db.close())
  assert.equal(db.pragma('user_version', { simple: true }), all.at(-1)!.version)
  assert.equal((db.prepare('SELECT count(*) AS n FROM series').get() as { n: number }).n, 1)
  assert.deepEqual(migrate(db), [])
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  assert.equal(db.pragma('foreign_keys', { simple: true }), 1)
})

test('a database newer than the code is refused, not damaged', (t) => {
  const dir = tempDir(t)
  const path = join(dir, 'future.db')
  const future = new BetterSqlite3(path)
  future.pragma('user_version = 999')
  future.close()
  assert.throws(() => openDatabase(path), /schema version 999, newer than this ksft-dashboard/)
})

test('log chunks hold a multi-megabyte log and any line range of it', async (t) => {
  const { store } = openTestStore(t)
  const lines = ['TAP version 13', '1..1', '# selftests: kvm: big']
  for (let i = 0; i < 60_000; i++) lines.push(`# output line ${i} ${'x'.repeat(40)}`)
  lines.push('ok 1 selftests: kvm: big')
  const text = lines.join('\n')
  const { runId } = await ingestText(store, text, META)
  const run = store.getRun(runId)!
  assert.equal(run.logLines, lines.length)
  const slice = store.getLogLines(runId, 40_000, 40_002)!
  assert.deepEqual(slice.lines, [lines[39_999], lines[40_000], lines[40_001]])
  assert.deepEqual(store.getLogLines(runId, lines.length, lines.length + 50)!.lines, ['ok 1 selftests: kvm: big'])
  assert.equal(Buffer.concat([...store.readLog(runId)]).toString(), text)
})

for (const name of realFixtureNames()) {
  test(`real log ${name} round-trips through the store`, { skip: realFixturesSkip }, async (t) => {
    const { store } = openTestStore(t)
    const text = readFileSync(realFixturePath(name))
    const { runId } = await ingestText(store, text, META)
    assert.deepEqual(store.getRunTests(runId), parseKselftestLog(text.toString('utf8')).tests)
    assert.ok(Buffer.concat([...store.readLog(runId)]).equals(text))
  })
}

test('an open store can be used by a second RunStore on the same file (one writer at a time)', async (t) => {
  const { path, store } = openTestStore(t)
  await ingestText(store, LOG, META)
  const second = openDatabase(path)
  t.after(() => second.close())
  assert.equal(new RunStore(second).writeCounter(), 1)
})

test('a runaway 20 MB line is stored across chunks, read back whole, and parsed by its start only', async (t) => {
  const { store } = openTestStore(t)
  const runaway = `# ${'x'.repeat(20 * 1024 * 1024)}`
  const text = ['TAP version 13', '1..1', '# selftests: kvm: big', runaway, '# after', 'ok 1 selftests: kvm: big', ''].join('\n')
  const { runId, parse } = await ingestText(store, text, META)
  assert.equal(parse.tests[0]!.status, 'pass')
  assert.deepEqual(parse.tests[0]!.lines, [3, 6])
  assert.match(parse.warnings[0]!, /^line 4 is longer than 16384 characters; only its start was parsed/)
  const slice = store.getLogLines(runId, 3, 5)!
  assert.equal(slice.lines.length, 3)
  assert.equal(slice.lines[0], '# selftests: kvm: big')
  assert.equal(slice.lines[1]!.length, runaway.length)
  assert.equal(slice.lines[2], '# after')
  assert.deepEqual(store.getLogLines(runId, 5, 6)!.lines, ['# after', 'ok 1 selftests: kvm: big'])
  assert.equal(Buffer.concat([...store.readLog(runId)]).toString(), text)
})

test('a run is stored with foreign keys unchecked: nothing dangles, and the connection checks them again after, stored or failed', async (t) => {
  const { store, db } = openTestStore(t)
  const fixtures = realFixturesSkip ? [] : realFixtureNames().slice(0, 4)
  for (const [i, name] of fixtures.entries()) await ingestText(store, readFileSync(realFixturePath(name)), { ...META, machine: `host-${i}` })
  await ingestText(store, LOG, META)
  const parsed = parseKselftestLog(LOG)
  const steps = { stepMs: 0, pause: () => Promise.resolve(), busyWaitMs: 1000 }
  const stored = await store.ingestRunInSteps(parseRunMetadata({ ...META, version: 'v8' }), parsed,
    { sha256: 'b'.repeat(64), bytes: LOG.length, lines: 12, chunks: [{ firstLine: 1, lineCount: 12, content: Buffer.from(LOG) }] }, steps)
  assert.equal(stored.created, true)
  // a store that starts cold (a restart, another process) finds the cases there are
  const cases = () => (db.prepare('SELECT count(*) AS n FROM cases').get() as { n: number }).n
  const before = cases()
  const cold = await ingestText(new RunStore(db), LOG, { ...META, machine: 'cold-host' })
  assert.equal(cases(), before)
  assert.deepEqual(new RunStore(db).getRunTests(cold.runId), parsed.tests)
  assert.deepEqual(db.pragma('foreign_key_check'), [])
  assert.equal(db.pragma('foreign_keys', { simple: true }), 1)

  const broken = (sha256: string) => ({
    sha256, bytes: 1, lines: 1,
    chunks: { * [Symbol.iterator] () { throw new Error('the spool went away') } },
  })
  assert.throws(() => store.ingestRun(parseRunMetadata({ ...META, version: 'v9' }), parsed, broken('c'.repeat(64))), /the spool went away/)
  assert.equal(db.pragma('foreign_keys', { simple: true }), 1)
  await assert.rejects(store.ingestRunInSteps(parseRunMetadata({ ...META, version: 'v9' }), parsed, broken('d'.repeat(64)), steps), /the spool went away/)
  assert.equal(db.pragma('foreign_keys', { simple: true }), 1)
  assert.equal(db.inTransaction, false)
})
