import assert from 'node:assert/strict'
import { execSync } from 'node:child_process'
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, test } from 'node:test'
import { runKsft } from '../helpers/cli.ts'
import { SEV_SMOKE_CHANGE_ID, SEV_SMOKE_PASSING_LOG, SEV_SMOKE_SELFTEST, sevSmokeFailingLog } from '../helpers/sev-smoke.ts'
import { tempDir } from '../helpers/store.ts'
import { startFlakyServer } from './flaky-server.ts'
import { b4Cover, dashboard, dryRunMetadata, fakeMachine, git, HOOK, run, SHELLS, toolsSkip } from './hook-helpers.ts'

/**
 * Issue 17 end to end: a kernel tree built in the test with b4's cover letter, a series of four
 * patches (v1), re-spun as v2 under a new title with one patch modified, one added and one dropped.
 * The hook, run from the tree under dash and busybox sh, sends each version's log and patch list;
 * the server's delta must be exactly that, and the suspects of v2's failures ranked as designed
 * (queries/patch-delta.ts). The logs are synthetic, written for this test.
 */

const CHANGE_ID = SEV_SMOKE_CHANGE_ID
const V1_COVER = '20240301-sev-smoke-v1-0-5f0e3a9c21d4@example.org'
const SELFTEST = SEV_SMOKE_SELFTEST
const HELPER = 'tools/testing/selftests/kvm/lib/kvm_util.c'
const SEV = 'arch/x86/kvm/svm/sev.c'
const X86 = 'arch/x86/kvm/x86.c'

const V1_LOG = SEV_SMOKE_PASSING_LOG
// v2: the selftest fails on its own assertion, and the kernel warns in x86.c while another test passes
const V2_LOG = sevSmokeFailingLog('[   12.345678] WARNING: CPU: 1 PID: 42 at arch/x86/kvm/x86.c:11834 kvm_arch_hardware_disable+0x1a/0x2b0 [kvm]\n')

interface SeriesTree { top: string, base: string, v1: string[], v2: string[] }

/** A commit that appends a line to each file. */
function commit (top: string, message: string, files: string[], line: string): string {
  for (const file of files) appendFileSync(join(top, file), `${line}\n`)
  git(top, 'add', '-A')
  git(top, 'commit', '-q', '-m', message)
  return git(top, 'rev-parse', 'HEAD')
}

function seriesTree (dir: string): SeriesTree {
  const top = join(dir, 'linux')
  for (const file of ['Kbuild', 'tools/testing/selftests/Makefile', SELFTEST, HELPER, SEV, X86, 'mm/shmem.c']) {
    mkdirSync(dirname(join(top, file)), { recursive: true })
    writeFileSync(join(top, file), `/* ${file} */\n`)
  }
  git(top, 'init', '-q', '-b', 'master')
  git(top, 'add', '-A')
  git(top, 'commit', '-q', '-m', 'Linux 6.14')
  const base = git(top, 'rev-parse', 'HEAD')

  git(top, 'checkout', '-q', '-b', 'b4/sev-smoke-v1')
  writeFileSync(join(dir, 'cover'), b4Cover('KVM: SEV: smoke tests', 1, { changeId: CHANGE_ID, history: {} }))
  git(top, 'commit', '-q', '--allow-empty', '-F', join(dir, 'cover'))
  const v1 = [
    commit(top, 'KVM: SEV: add the smoke path', [SEV], 'int sev_smoke;'),
    commit(top, 'KVM: x86: rework MSR filtering', [X86], 'int msr_filter;'),
    commit(top, 'KVM: selftests: check SEV in sev_smoke_test', [SELFTEST], 'TEST_ASSERT(sev, "SEV");'),
    commit(top, 'KVM: selftests: add a helper', [HELPER], 'void vm_helper(void);'),
  ]

  // v2 from the same base, sent in reply to v1 (b4 keeps v1's cover letter in its history)
  git(top, 'checkout', '-q', '-b', 'b4/sev-smoke', base)
  writeFileSync(join(dir, 'cover'), b4Cover('KVM: SEV: smoke tests for SNP', 2, { changeId: CHANGE_ID, history: { v1: [V1_COVER] } }))
  git(top, 'commit', '-q', '--allow-empty', '-F', join(dir, 'cover'))
  git(top, 'cherry-pick', v1[0]!, v1[1]!)
  const v2 = [
    git(top, 'rev-parse', 'HEAD~1'),
    git(top, 'rev-parse', 'HEAD'),
    commit(top, 'KVM: selftests: check SEV in sev_smoke_test\n\nNow for SNP too.\n\nLink: https://lore.kernel.org/r/20240315.3-v2-a%40example.org', [SELFTEST], 'TEST_ASSERT(sev && snp, "SEV-SNP");'),
    commit(top, 'KVM: x86: warn on a bad MSR\n\nMessage-Id: <20240315.4-v2-a@example.org>', [X86], 'WARN_ON(bad_msr);'),
  ]
  return { top, base, v1, v2 }
}

/** `git patch-id --stable` of one commit, computed here apart from the hook, as git's documentation does it. */
function patchIdOf (top: string, sha: string): string {
  return execSync(`git show ${sha} | git patch-id --stable`, { cwd: top, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: top, GIT_CONFIG_NOSYSTEM: '1' } }).split(' ')[0]!
}

for (const shell of SHELLS) {
  describe(`the patch list, ksft-upload.sh under ${shell.name}`, { skip: shell.skip || toolsSkip }, () => {
    const hook = (args: string[], options: Parameters<typeof run>[1] = {}) => run([...shell.argv, HOOK, ...args], options)

    test('a re-spun series: both patch lists arrive, the delta is exact, and suspects are ranked by their evidence', async (t) => {
      const { base: server, token, get } = await dashboard(t)
      const dir = tempDir(t)
      const tree = seriesTree(dir)
      writeFileSync(join(dir, 'v1.log'), V1_LOG)
      writeFileSync(join(dir, 'v2.log'), V2_LOG)
      const env = { ...fakeMachine(join(dir, 'm'), ''), KSFT_SERVER: server, KSFT_TOKEN: token }
      const cwd = join(tree.top, 'tools', 'testing', 'selftests')

      git(tree.top, 'checkout', '-q', 'b4/sev-smoke-v1')
      const first = await hook(['--machine', 'snp-1', join(dir, 'v1.log')], { env, cwd })
      assert.equal(first.code, 0, first.stderr)
      assert.match(first.stderr, /^ksft-upload: patch list of 4 patches stored as v1's$/m)
      const v1 = (await get('/api/v1/runs/1/patches')).body
      assert.deepEqual(v1.patches, [
        ['KVM: SEV: add the smoke path', SEV],
        ['KVM: x86: rework MSR filtering', X86],
        ['KVM: selftests: check SEV in sev_smoke_test', SELFTEST],
        ['KVM: selftests: add a helper', HELPER],
      ].map(([subject, file], i) => ({
        position: i + 1, subject, author: 'T <t@example.org>', patchId: patchIdOf(tree.top, tree.v1[i]!), files: [file], messageId: null, loreUrl: null,
      })))

      // v2: retitled, found by its change-id; the hook says so
      git(tree.top, 'checkout', '-q', 'b4/sev-smoke')
      const dry = await hook(['--dry-run', '--machine', 'snp-1', join(dir, 'v2.log')], { env, cwd })
      const sent = dryRunMetadata(dry.stdout)
      // a patch's Message-ID is the patch's, never the cover letter's (message_id)
      assert.deepEqual([sent.change_id, sent.previous_message_ids, sent.version, sent.message_id], [CHANGE_ID, V1_COVER, 'v2', undefined])
      assert.match(dry.stdout, new RegExp(`^# then PUT /api/v1/runs/<id>/patches: 4 patches from ${tree.base} to HEAD$`, 'm'))
      const second = await hook(['--machine', 'snp-1', join(dir, 'v2.log')], { env, cwd })
      assert.equal(second.code, 0, second.stderr)
      assert.match(second.stderr, /^ksft-upload: stored in series 1 "KVM: SEV: smoke tests": the b4 change-id is that series'$/m)
      assert.match(second.stderr, /^ksft-upload: patch list of 4 patches stored as v2's$/m)
      const v2 = (await get('/api/v1/runs/2/patches')).body
      assert.deepEqual(v2.patches.map((p: { patchId: string, messageId: string | null }) => [p.patchId, p.messageId]), [
        [patchIdOf(tree.top, tree.v2[0]!), null],
        [patchIdOf(tree.top, tree.v2[1]!), null],
        [patchIdOf(tree.top, tree.v2[2]!), '20240315.3-v2-a@example.org'],
        [patchIdOf(tree.top, tree.v2[3]!), '20240315.4-v2-a@example.org'],
      ])
      // the cherry-picked patches are the same changes: the same patch-ids on their new parents
      assert.equal(v2.patches[0].patchId, v1.patches[0].patchId)
      assert.notEqual(v2.patches[2].patchId, v1.patches[2].patchId)

      const compare = (await get('/api/v1/series/1/compare?base=v1&head=v2')).body
      assert.equal(compare.delta.summary, 'v1→v2: 1 patch modified, 1 added, 1 dropped')
      assert.deepEqual(compare.delta.entries.map((e: { change: string, base: { position: number } | null, head: { position: number, subject: string } | null }) =>
        `${e.change} ${e.base?.position ?? '-'}>${e.head?.position ?? '-'}`), ['unchanged 1>1', 'unchanged 2>2', 'modified 3>3', 'dropped 4>-', 'added ->4'])
      assert.equal(compare.delta.entries[2].head.loreUrl, 'https://lore.kernel.org/r/20240315.3-v2-a%40example.org')

      const ranked = (test: string) => compare.entries.find((e: { test: string }) => e.test === test).suspects
        .map((s: { strength: string, change: string, patch: { subject: string }, evidence: Array<{ file: string | null }> }) => `${s.strength} ${s.change} ${s.patch.subject} (${s.evidence[0]!.file ?? '-'})`)
      // its own source changed; then the dropped helper of its collection; the added x86 patch only changed
      assert.deepEqual(ranked('sev_smoke_test'), [
        `test_source modified KVM: selftests: check SEV in sev_smoke_test (${SELFTEST})`,
        `test_collection dropped KVM: selftests: add a helper (${HELPER})`,
        'changed added KVM: x86: warn on a bad MSR (-)',
      ])
      // the WARNING names x86.c: the added patch touches it, after the collection's own changes
      assert.equal(compare.entries.find((e: { test: string }) => e.test === 'hardware_disable_test').bucket, 'new_kernel_trouble')
      assert.deepEqual(ranked('hardware_disable_test'), [
        `test_collection modified KVM: selftests: check SEV in sev_smoke_test (${SELFTEST})`,
        `test_collection dropped KVM: selftests: add a helper (${HELPER})`,
        `reason_file added KVM: x86: warn on a bad MSR (${X86})`,
      ])

      // ksft upload, from the same tree, makes the same list as the hook
      const lists = await runKsft(['upload', join(dir, 'v2.log'), '--series', 'KVM: SEV: smoke tests for SNP', '--version', 'v2', '--machine', 'snp-2',
        '--change-id', CHANGE_ID, '--base-commit', tree.base, '--tree', tree.top, '--server', server], { env: { KSFT_TOKEN: token, KSFT_RETRY_DELAY: '0' } })
      assert.equal(lists.code, 0, lists.stderr)
      assert.match(lists.stderr, /^ksft: patch list of 4 patches: the same as v2's$/m)
      assert.equal((await get('/api/v1/runs/3/patches')).body.report.state, 'confirmed')
    })

    test('no list without a kernel tree, for base, or with --no-patches; an older server without patch lists still takes the run', async (t) => {
      const { base: server, token, get } = await dashboard(t)
      const dir = tempDir(t)
      const tree = seriesTree(dir)
      writeFileSync(join(dir, 'v1.log'), V1_LOG)
      const env = { ...fakeMachine(join(dir, 'm'), ''), KSFT_SERVER: server, KSFT_TOKEN: token }

      const optOut = await hook(['--no-patches', '--machine', 'snp-1', join(dir, 'v1.log')], { env, cwd: tree.top })
      assert.equal(optOut.code, 0, optOut.stderr)
      assert.doesNotMatch(optOut.stderr, /patch list/)
      assert.equal((await get('/api/v1/runs/1/patches')).body.patches, null)

      const base = await hook(['--dry-run', '--version', 'base', join(dir, 'v1.log')], { env, cwd: tree.top })
      assert.match(base.stdout, /^# no patch list: the base version has no patches$/m)
      const wrongBase = await hook(['--dry-run', '--base-commit', 'deadbeef', join(dir, 'v1.log')], { env, cwd: tree.top })
      assert.match(wrongBase.stdout, /^# no patch list: the base commit deadbeef is not in /m)
      const notKernel = await hook(['--dry-run', '--series', 's', '--version', 'v1', join(dir, 'v1.log')], { env, cwd: dir })
      assert.match(notKernel.stdout, /^# no patch list: no kernel tree in \.$/m)

      // a server from before patch lists: no such route
      const old = await startFlakyServer(t, server, [], (method) => method === 'PUT'
        ? { status: 404, body: '{"error":{"code":"NOT_FOUND","message":"no route for PUT /api/v1/runs/2/patches"}}' }
        : null)
      const res = await hook(['--machine', 'snp-2', join(dir, 'v1.log')], { env: { ...env, KSFT_SERVER: old.url }, cwd: tree.top })
      assert.equal(res.code, 0, res.stderr)
      assert.equal(res.stdout, `${old.url}/runs/2\n`)
      assert.match(res.stderr, /^ksft-upload: warning: the server keeps no patch lists \(404 NOT_FOUND: no route for PUT \/api\/v1\/runs\/2\/patches\); the run is stored without one$/m)
      assert.deepEqual(old.seen.map(request => `${request.method} ${request.url.split('?')[0]}`), ['POST /api/v1/runs', 'PUT /api/v1/runs/2/patches'])
      const sent = JSON.parse(old.seen[1]!.body.toString()) as { patches: Array<{ subject: string }> }
      assert.equal(sent.patches.length, 4)
      assert.equal(old.seen[1]!.headers['content-type'], 'application/json')
    })
  })
}
