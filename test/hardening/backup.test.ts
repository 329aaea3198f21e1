import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import BetterSqlite3 from 'better-sqlite3'
import { uploadUrl } from '../helpers/app.ts'
import { runKsft, startServer } from '../helpers/cli.ts'
import { tempDir } from '../helpers/store.ts'

// synthetic logs written for this test
const log = (i: number) => `TAP version 13\n1..1\n# selftests: kvm: t${i}\n${'# line of output\n'.repeat(3000)}ok 1 selftests: kvm: t${i}\n`

test('ksft backup takes a consistent copy while a server keeps storing uploads', async (t) => {
  const dir = tempDir(t)
  const db = join(dir, 'ksft.db')
  const token = (await runKsft(['token', 'create', '--name', 'ci', '--db', db])).stdout.trim().split('\n').at(-1)!
  const { url } = await startServer(t, [], { KSFT_DB: db, KSFT_UPLOADS_PER_MINUTE: '0' })
  let uploading = true
  let stored = 0
  const uploads = (async () => {
    for (let i = 0; uploading && i < 400; i++) {
      const res = await fetch(`${url}${uploadUrl({ series: 'S', version: `v${i}`, machine: 'm' })}`, { method: 'POST', body: log(i), headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
      assert.equal(res.status, 201)
      stored++
    }
  })()
  while (stored < 5) await new Promise(resolve => setTimeout(resolve, 20))
  const copies = [join(dir, 'one.db'), join(dir, 'two.db')]
  for (const copy of copies) {
    const res = await runKsft(['backup', copy, '--db', db])
    assert.equal(res.code, 0, res.stderr)
    assert.match(res.stdout, /^backup written to .*: \d+ runs, integrity ok\n$/)
  }
  uploading = false
  await uploads
  const counts = copies.map(copy => {
    const handle = new BetterSqlite3(copy, { readonly: true })
    try {
      assert.equal(handle.pragma('integrity_check', { simple: true }), 'ok')
      // every run in the copy is whole: its results and its log came with it
      assert.equal(handle.prepare('SELECT count(*) FROM runs r WHERE NOT EXISTS (SELECT 1 FROM results WHERE run_id = r.id) OR NOT EXISTS (SELECT 1 FROM log_chunks WHERE run_id = r.id)').pluck().get(), 0)
      return handle.prepare('SELECT count(*) FROM runs').pluck().get() as number
    } finally {
      handle.close()
    }
  })
  assert.ok(counts[0]! >= 5 && counts[0]! <= counts[1]! && counts[1]! <= stored, `copies ${counts}, stored ${stored}`)
})
