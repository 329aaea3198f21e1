import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, uploadUrl } from '../helpers/app.ts'
import { runKsft } from '../helpers/cli.ts'
import { realFixturesSkip } from '../helpers/fixtures.ts'
import { createMaxVcpusFails, realLog } from '../helpers/kvm-variants.ts'

/**
 * `ksft issue` against a real server: add, list, show, resolve, reopen, untriaged. The logs are the
 * real fixtures/real/real-kvm-pvm-subset-8-tests.txt and a synthetic variant of it
 * (test/helpers/kvm-variants.ts: kvm_create_max_vcpus fails).
 */
test('ksft issue: triage from the command line, with the exit codes of the other commands', { skip: realFixturesSkip }, async (t) => {
  const { app, token } = await buildTestApp(t)
  const admin = (await app.store.tokens.create('lab-admin', ['admin'])).token
  for (const [version, text] of [['v1', realLog().join('\n')], ['v2', createMaxVcpusFails()]] as const) {
    const res = await app.inject({ method: 'POST', url: uploadUrl({ series: 'cli triage', version, machine: 'snp-lab-1', flags: 'sev_snp' }), payload: text, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
    assert.equal(res.statusCode, 201, res.body)
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  const server = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const ksft = (args: string[], env: NodeJS.ProcessEnv = {}) => runKsft(['issue', ...args, '--server', server], { env: { KSFT_TOKEN: '', ...env } })

  const untriaged = await ksft(['untriaged', '--series', 'cli triage'])
  assert.equal(untriaged.code, 0, untriaged.stderr)
  assert.match(untriaged.stdout, /^cli triage v2: 3 untriaged failures\n/)
  assert.match(untriaged.stdout, /\n {2}kvm\/kvm_create_max_vcpus \(snp-lab-1\): fail, failing since v2 \(1 version\)\n {6}KVM_CREATE_VCPU failed for id 4095\n/)
  assert.match(untriaged.stdout, /\n {2}kvm\/cpuid_test \(snp-lab-1\): fail, failing since v1 \(2 versions\)\n/)

  const refused = await ksft(['add', '--title', 'x', '--glob', 'kvm/*'])
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /UNAUTHORIZED/)

  const added = await ksft(['add', '--title', 'CPUID nent mismatch on PVM hosts', '--glob', 'kvm/cpuid_test', '--reason', 'CPUID nent mismatch',
    '--cpu-flag', 'sev_snp', '--versions', 'v1..', '--culprit', 'infrastructure', '--url', 'https://bugzilla.kernel.org/show_bug.cgi?id=218000'], { KSFT_TOKEN: admin })
  assert.equal(added.code, 0, added.stderr)
  assert.match(added.stdout, /^recorded #1 active infrastructure: CPUID nent mismatch on PVM hosts\n {4}matches kvm\/cpuid_test, reason ~ \/CPUID nent mismatch\/ on flags sev_snp; versions v1\.\.; 2 results in 2 runs\n {4}https:\/\/bugzilla/)

  const bad = await ksft(['add', '--title', 'x', '--glob', 'kvm/*', '--reason', '(a)\\1'], { KSFT_TOKEN: admin })
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /cannot be matched in linear time/)
  assert.equal((await ksft(['add', '--title', 'x', '--glob', 'kvm/*', '--versions', 'v3'], { KSFT_TOKEN: admin })).code, 2, 'a wrong call is 2')

  const after = await ksft(['untriaged', '--series', 'cli triage'])
  assert.match(after.stdout, /^cli triage v2: 2 untriaged failures\n/)
  assert.doesNotMatch(after.stdout, /cpuid_test/)

  const resolved = await ksft(['resolve', '#1'], { KSFT_TOKEN: admin })
  assert.equal(resolved.code, 0, resolved.stderr)
  assert.match(resolved.stdout, /^#1 resolved infrastructure/)
  assert.match((await ksft(['untriaged', '--series', 'cli triage'])).stdout, /3 untriaged failures/)
  assert.equal((await ksft(['reopen', '1'], { KSFT_TOKEN: admin })).code, 0)

  const list = await ksft(['list', '--active'])
  assert.equal(list.code, 0, list.stderr)
  assert.match(list.stdout, /^#1 active infrastructure: CPUID nent mismatch on PVM hosts\n/)
  const show = await ksft(['show', '1'])
  assert.equal(show.code, 0, show.stderr)
  assert.match(show.stdout, /\nmatched:\n {2}cli triage v1 on snp-lab-1: 1 results in 1 runs\n {2}cli triage v2 on snp-lab-1: 1 results in 1 runs\n/)
  assert.match(show.stdout, /\nhistory:\n {2}\S+ lab-admin create\n {2}\S+ lab-admin resolve\n {2}\S+ lab-admin reopen\n/)
  const missing = await ksft(['show', '9'])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /no known issue 9 \(ISSUE_NOT_FOUND\)/)
})
