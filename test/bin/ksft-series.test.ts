import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, uploadUrl } from '../helpers/app.ts'
import { runKsft } from '../helpers/cli.ts'

/**
 * Issue 17 from the command line: `ksft series` and `ksft machine` rename and merge on a server,
 * and `ksft compare` prints the patch delta and the suspects. Logs and patch lists are synthetic,
 * written for this test.
 */
const PASS = 'TAP version 13\n1..1\n# selftests: kvm: sev_smoke_test\nok 1 selftests: kvm: sev_smoke_test\n'
const FAIL = 'TAP version 13\n1..1\n# selftests: kvm: sev_smoke_test\n# ==== Test Assertion Failure ====\n#   x86/sev_smoke_test.c:88: ret == 0\n' +
  '#   pid=1 tid=1 errno=22 - Invalid argument\nnot ok 1 selftests: kvm: sev_smoke_test # exit=254\n'
const patch = (subject: string, seed: string, file: string, messageId: string | null = null) => ({ subject, author: 'A <a@example.org>', patchId: seed.repeat(40).slice(0, 40), files: [file], messageId })

test('ksft series and ksft machine rename and merge; ksft compare prints the delta and a hint beside the regression', async (t) => {
  const { app, token } = await buildTestApp(t)
  const admin = (await app.store.tokens.create('lab-admin', ['admin'])).token
  const upload = async (series: string, version: string, machine: string, log: string, patches: unknown[]) => {
    const res = await app.inject({ method: 'POST', url: uploadUrl({ series, version, machine }), payload: log, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
    assert.equal(res.statusCode, 201, res.body)
    const put = await app.inject({ method: 'PUT', url: `/api/v1/runs/${res.json().id}/patches`, payload: { patches }, headers: { authorization: `Bearer ${token}` } })
    assert.equal(put.statusCode, 200, put.body)
  }
  const sev = patch('KVM: SEV: add the smoke path', 'a1', 'arch/x86/kvm/svm/sev.c')
  await upload('KVM: SEV: smoke', 'v6', 'snp-1', PASS, [sev, patch('KVM: selftests: check SEV', 'b1', 'tools/testing/selftests/kvm/x86/sev_smoke_test.c')])
  // v7 went out under a new title from a host that calls itself by its full name
  await upload('KVM: SEV: smoke tests', 'v7', 'snp-1.lab', FAIL, [sev, patch('KVM: selftests: check SEV', 'b2', 'tools/testing/selftests/kvm/x86/sev_smoke_test.c', '20240301.1-2-a@example.org')])
  await app.listen({ host: '127.0.0.1', port: 0 })
  const server = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const ksft = (args: string[], env: NodeJS.ProcessEnv = { KSFT_TOKEN: admin }) => runKsft([...args, '--server', server], { env })

  const refused = await ksft(['series', 'merge', 'KVM: SEV: smoke', 'KVM: SEV: smoke tests'], { KSFT_TOKEN: token })
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /lacks the admin scope \(FORBIDDEN\)/)

  const merged = await ksft(['series', 'merge', 'KVM: SEV: smoke', 'KVM: SEV: smoke tests'])
  assert.equal(merged.code, 0, merged.stderr)
  assert.equal(merged.stdout, 'series 1 "KVM: SEV: smoke" merged into 2 "KVM: SEV: smoke tests": 1 runs\n  moved: v6\n')
  const machine = await ksft(['machine', 'merge', 'snp-1.lab', 'snp-1'])
  assert.equal(machine.code, 0, machine.stderr)
  assert.equal(machine.stdout, 'machine "snp-1.lab" merged into "snp-1": 1 runs\n')
  const renamed = await ksft(['series', 'rename', '2', 'KVM: SEV: smoke tests for SNP'])
  assert.equal(renamed.stdout, 'series 2 renamed: "KVM: SEV: smoke tests" -> "KVM: SEV: smoke tests for SNP"\n')
  const taken = await ksft(['machine', 'rename', 'snp-1', 'snp-1'])
  assert.equal(taken.code, 1)
  assert.match(taken.stderr, /that is the same machine \(BAD_REQUEST\)/)
  const wrong = await ksft(['series', 'merge', 'only-one-argument'])
  assert.equal(wrong.code, 2)

  // the first title still names the series; v6 and v7 now compare on the one machine
  const compared = await ksft(['compare', '--series', 'KVM: SEV: smoke', '--base', 'v6', '--head', 'v7'], {})
  assert.equal(compared.code, 0, compared.stderr)
  assert.match(compared.stdout, /\n\npatches v6→v7: 1 patch modified\n {2}modified {2}\[2\] KVM: selftests: check SEV {2}https:\/\/lore\.kernel\.org\/r\/20240301\.1-2-a%40example\.org\n/)
  assert.match(compared.stdout, /\n {2}kvm: sev_smoke_test +snp-1 +pass -> fail +\S+\n {6}x86\/sev_smoke_test\.c:88: ret == 0\n {6}hint, look first at \[2\] KVM: selftests: check SEV \(modified; touches the failing test's own source: tools\/testing\/selftests\/kvm\/x86\/sev_smoke_test\.c\)\n/)
  const markdown = await ksft(['compare', '--series', '2', '--base', 'v6', '--head', 'v7', '--format', 'markdown'], {})
  assert.match(markdown.stdout, /\n- modified \\\[2\\\] \[KVM: selftests: check SEV\]\(https:\/\/lore\.kernel\.org\/r\/20240301\.1-2-a%40example\.org\)\n/)
  assert.match(markdown.stdout, /hint, look first at \\\[2\\\] KVM: selftests: check SEV/)
})
