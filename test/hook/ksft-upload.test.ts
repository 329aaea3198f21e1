import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname, machine, release } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { freePort } from '../helpers/cli.ts'
import { realFixturePath, realFixturesSkip } from '../helpers/fixtures.ts'
import { tempDir } from '../helpers/store.ts'
import { startFlakyServer } from './flaky-server.ts'
import { b4Cover, dashboard, dryRunMetadata, fakeMachine, git, HOOK, run, SHELLS, toolsSkip } from './hook-helpers.ts'

// characters that break a hand-built query string: & = + % # / ? and a non-ASCII letter
const SERIES = 'KVM: x86/mmu: a & b = c + 100% #2? Müller'
// synthetic log written for these tests, used when the real logs are absent
const SYNTHETIC = 'TAP version 13\n1..2\n# selftests: kvm: a\nok 1 selftests: kvm: a\n# selftests: kvm: b\nnot ok 2 selftests: kvm: b # exit=254\n'
const REAL_LOG = 'real-kvm-pvm-subset-8-tests.txt'

function cpuinfo (model: string | null, flags: string): string {
  // two processors, as on any real machine: only the first block may be read
  const block = (n: number) => `processor\t: ${n}\n${model === null ? '' : `model name\t: ${model}\n`}flags\t\t: ${flags}\n\n`
  return block(0) + block(1)
}

const AMD_FLAGS = 'fpu vme de pse tsc msr pae mce cx8 apic sep mtrr svm sme sev sev_es sev_snp'

/** A git tree that looks like the kernel's, with a base commit, b4's cover letter and one patch. */
function kernelTree (dir: string, options: { kernel?: boolean, title?: string, revision?: number } = {}): { top: string, base: string, head: string } {
  const top = join(dir, 'linux')
  mkdirSync(join(top, 'tools', 'testing', 'selftests'), { recursive: true })
  git(top, 'init', '-q', '-b', 'master')
  if (options.kernel ?? true) {
    writeFileSync(join(top, 'Kbuild'), '# kernel build\n')
    writeFileSync(join(top, 'tools', 'testing', 'selftests', 'Makefile'), 'all:\n')
  } else {
    writeFileSync(join(top, 'README'), 'not a kernel\n')
  }
  git(top, 'add', '-A')
  git(top, 'commit', '-q', '-m', 'base')
  const base = git(top, 'rev-parse', 'HEAD')
  git(top, 'checkout', '-q', '-b', 'b4/guest-memfd')
  writeFileSync(join(dir, 'cover'), b4Cover(options.title ?? 'KVM: guest_memfd: a file for guest memory', options.revision ?? 3))
  git(top, 'commit', '-q', '--allow-empty', '-F', join(dir, 'cover'))
  writeFileSync(join(top, 'patch.c'), 'int x;\n')
  git(top, 'add', 'patch.c')
  git(top, 'commit', '-q', '-m', 'KVM: add x')
  return { top, base, head: git(top, 'rev-parse', 'HEAD') }
}

function theLog (): { raw: Buffer, summary: RegExp } {
  if (realFixturesSkip) return { raw: Buffer.from(SYNTHETIC), summary: /2 tests: 1 pass, 1 fail/ }
  return { raw: readFileSync(realFixturePath(REAL_LOG)), summary: /8 tests: 4 pass, 2 fail, 2 skip/ }
}

for (const shell of SHELLS) {
  describe(`ksft-upload.sh under ${shell.name}`, { skip: shell.skip || toolsSkip }, () => {
    const hook = (args: string[], options: Parameters<typeof run>[1] = {}) => run([...shell.argv, HOOK, ...args], options)

    test('uploads a log tagged with the machine it ran on; the same upload again is the same run', async (t) => {
      if (realFixturesSkip) t.diagnostic(realFixturesSkip)
      const { base, token, get } = await dashboard(t)
      const dir = tempDir(t)
      const { raw, summary } = theLog()
      writeFileSync(join(dir, 'ksft.log'), raw)
      // KVM has SEV-SNP off although the CPU has it: the kvm selftests will skip it
      const env = {
        ...fakeMachine(join(dir, 'm'), cpuinfo('AMD EPYC 9654 96-Core Processor', AMD_FLAGS), {
          'kvm_amd/parameters/sev': 'Y', 'kvm_amd/parameters/sev_es': 'Y', 'kvm_amd/parameters/sev_snp': 'N',
        }),
        KSFT_SERVER: base,
        KSFT_TOKEN: token,
      }
      const args = ['--series', SERIES, '--version', 'v7', '--flags', 'nested', '--job-url', 'https://ci.example.org/kvm/-/jobs/42?a=1&b=2', 'ksft.log']
      const first = await hook(args, { env, cwd: dir })
      assert.equal(first.code, 0, first.stderr)
      assert.equal(first.stdout, `${base}/runs/1\n`)
      assert.match(first.stderr, /^ksft-upload: run 1 stored: /m)
      assert.match(first.stderr, summary)

      const run = (await get('/api/v1/runs/1')).body
      assert.equal(run.series.name, SERIES)
      assert.equal(run.version.label, 'v7')
      assert.equal(run.machine.name, hostname())
      assert.equal(run.arch, machine())
      assert.equal(run.kernel, release())
      assert.equal(run.cpu, 'AMD EPYC 9654 96-Core Processor')
      assert.deepEqual(run.flags, ['nested', 'sev', 'sev_es'])
      assert.equal(run.jobUrl, 'https://ci.example.org/kvm/-/jobs/42?a=1&b=2')
      assert.equal(run.commit, null, 'no kernel tree here, so no commit')
      assert.ok((await get('/api/v1/runs/1/log.txt')).body.equals(raw), 'the log arrives byte for byte')

      const again = await hook(args, { env, cwd: dir })
      assert.equal(again.code, 0, again.stderr)
      assert.equal(again.stdout, first.stdout)
      assert.match(again.stderr, /run 1 already stored \(same log and metadata\)/)
      assert.equal((await get('/api/v1/runs/2')).status, 404)
    })

    test('curl | sh from the server: commit, version, series and base come from a b4 prep branch', async (t) => {
      const { base, token, get } = await dashboard(t)
      const dir = tempDir(t)
      const tree = kernelTree(dir, { title: 'KVM: guest_memfd: a file for guest memory', revision: 3 })
      writeFileSync(join(dir, 'ksft.log'), theLog().raw)
      const env = { ...fakeMachine(join(dir, 'm'), cpuinfo('AMD EPYC 9654 96-Core Processor', AMD_FLAGS)), KSFT_SERVER: base, KSFT_TOKEN: token }
      const sh = shell.argv.join(' ')
      // the documented one-liner, run from where kselftests run: deep inside the kernel tree
      const res = await run([...shell.argv, '-c', `curl -fsS "$0/hook.sh" | ${sh} -s -- --machine snp-host-1 "$1"`, base, join(dir, 'ksft.log')], {
        env, cwd: join(tree.top, 'tools', 'testing', 'selftests'),
      })
      assert.equal(res.code, 0, res.stderr)
      assert.equal(res.stdout, `${base}/runs/1\n`)
      const run1 = (await get('/api/v1/runs/1')).body
      assert.equal(run1.series.name, 'KVM: guest_memfd: a file for guest memory')
      assert.equal(run1.version.label, 'v3')
      assert.equal(run1.commit, tree.head)
      assert.equal(run1.version.baseCommit, tree.base)
      assert.equal(run1.machine.name, 'snp-host-1')
      assert.deepEqual(run1.flags, ['sev', 'sev_es', 'sev_snp'])
    })

    test('what it detects: host confidential computing, never a guest\'s; b4 tracking in the branch config', async (t) => {
      const dir = tempDir(t)
      const cases: Array<{ name: string, cpuinfo: string, params?: Record<string, string>, args?: string[], flags?: string, cpu?: string }> = [
        { name: 'an SEV-SNP host before kvm_amd is loaded', cpuinfo: cpuinfo('AMD EPYC 9654', AMD_FLAGS), flags: 'sev,sev_es,sev_snp', cpu: 'AMD EPYC 9654' },
        // kvm_amd of a kernel before SNP host support has no sev_snp parameter at all; old kernels say 1, not Y
        { name: 'a kernel whose KVM cannot run SNP guests', cpuinfo: cpuinfo('AMD EPYC 9654', AMD_FLAGS), params: { 'kvm_amd/parameters/sev': '1', 'kvm_amd/parameters/sev_es': '1' }, flags: 'sev,sev_es', cpu: 'AMD EPYC 9654' },
        { name: 'a TDX host', cpuinfo: cpuinfo('Intel(R) Xeon(R)   Platinum 8580', 'fpu vmx ept tme'), params: { 'kvm_intel/parameters/tdx': 'Y' }, flags: 'tdx', cpu: 'Intel(R) Xeon(R) Platinum 8580' },
        { name: 'an Intel host with TDX off', cpuinfo: cpuinfo('Intel(R) Xeon(R) Platinum 8580', 'fpu vmx'), params: { 'kvm_intel/parameters/tdx': 'N' }, cpu: 'Intel(R) Xeon(R) Platinum 8580' },
        { name: 'a TDX guest', cpuinfo: cpuinfo('INTEL(R) XEON(R) PLATINUM 8580', 'fpu hypervisor tdx_guest'), flags: 'tdx_guest', cpu: 'INTEL(R) XEON(R) PLATINUM 8580' },
        { name: 'an SEV-SNP guest', cpuinfo: cpuinfo('AMD EPYC-v4 Processor', `${AMD_FLAGS} hypervisor`), cpu: 'AMD EPYC-v4 Processor' },
        { name: 'a powerpc host, flags given by hand', cpuinfo: 'processor\t: 0\ncpu\t\t: POWER9 (architected), altivec supported\n', args: ['--flags', 'sev,tdx'], flags: 'sev,tdx', cpu: 'POWER9 (architected), altivec supported' },
        { name: 'an arm64 host without cpuinfo', cpuinfo: '' },
      ]
      for (const [i, c] of cases.entries()) {
        const env = fakeMachine(join(dir, `m${i}`), c.cpuinfo, c.params)
        if (c.cpuinfo === '') env.KSFT_CPUINFO = join(dir, 'no-such-cpuinfo')
        const res = await hook(['--dry-run', '--series', 's', '--version', 'v1', ...(c.args ?? []), '-'], { env, cwd: dir })
        assert.equal(res.code, 0, `${c.name}: ${res.stderr}`)
        const fields = dryRunMetadata(res.stdout)
        assert.equal(fields.flags, c.flags, c.name)
        assert.equal(fields.cpu, c.cpu, c.name)
        assert.equal(fields.kernel, release(), c.name)
      }

      // b4's "branch-description" strategy keeps the tracking data in git config, not in a commit
      const top = join(dir, 'linux')
      mkdirSync(join(top, 'tools', 'testing', 'selftests'), { recursive: true })
      writeFileSync(join(top, 'Kbuild'), '\n')
      git(top, 'init', '-q', '-b', 'b4/memfd')
      git(top, 'add', '-A')
      git(top, 'commit', '-q', '-m', 'base')
      git(top, 'config', 'branch.b4/memfd.b4-tracking', '{"series": {"revision": 12, "change-id": "20240105-memfd-0123456789ab", "base-branch": "master", "prefixes": ["RFC"]}}')
      git(top, 'config', 'branch.b4/memfd.description', 'memfd: seal the deal\n\nWhy.')
      const res = await hook(['--dry-run', '-'], { env: fakeMachine(join(dir, 'plain'), ''), cwd: top })
      assert.equal(res.code, 0, res.stderr)
      const fields = dryRunMetadata(res.stdout)
      assert.equal(fields.version, 'v12')
      assert.equal(fields.series, 'memfd: seal the deal')
      assert.equal(fields.commit, git(top, 'rev-parse', 'HEAD'))
      assert.equal(fields.base_commit, undefined)
      assert.match(res.stdout, /^POST <KSFT_SERVER unset>\/api\/v1\/runs\?series=memfd%3a%20seal%20the%20deal&version=v12&/m)
    })

    test('without b4 data --version is required, and a git tree that is not a kernel gives no commit', async (t) => {
      const dir = tempDir(t)
      // a CI configuration repository that happens to hold a b4 cover letter is still no kernel
      const notKernel = kernelTree(dir, { kernel: false })
      writeFileSync(join(dir, 'ksft.log'), SYNTHETIC)
      const env = { ...fakeMachine(join(dir, 'm'), ''), KSFT_SERVER: 'http://127.0.0.1:9', KSFT_TOKEN: 't' }
      const res = await hook(['--series', 's', join(dir, 'ksft.log')], { env, cwd: notKernel.top })
      assert.equal(res.code, 2)
      assert.match(res.stderr, /^ksft-upload: error: --version is required \(no b4 tracking data found in \.\)$/m)
      assert.equal(res.stdout, '')
      const dry = await hook(['--dry-run', '--series', 's', '--version', 'base', join(dir, 'ksft.log')], { env, cwd: notKernel.top })
      assert.equal(dry.code, 0, dry.stderr)
      assert.equal(dryRunMetadata(dry.stdout).commit, undefined)
      assert.equal(dryRunMetadata(dry.stdout).version, 'base')
    })

    test('a bad token fails with the server\'s message, even when the server answers before the log is sent', async (t) => {
      const { base, get } = await dashboard(t)
      const dir = tempDir(t)
      // 6 MiB that gzip cannot shrink: the 401 comes back while curl is still sending
      writeFileSync(join(dir, 'big.log'), `${SYNTHETIC}${randomBytes(6 * 1024 * 1024).toString('base64')}\n`)
      const env = { ...fakeMachine(join(dir, 'm'), ''), KSFT_SERVER: base, KSFT_TOKEN: 'ksft_1_not-a-real-token' }
      const res = await hook(['--series', 's', '--version', 'v1', join(dir, 'big.log')], { env, cwd: dir })
      assert.equal(res.code, 1)
      assert.match(res.stderr, /^ksft-upload: error: the server refused the upload \(401 UNAUTHORIZED: the token is unknown or revoked\)$/m)
      assert.equal(res.stdout, '')
      assert.equal((await get('/api/v1/runs/1')).status, 404)
    })

    test('the token reaches curl on its standard input: no argument shows it and no file holds it', async (t) => {
      const dir = tempDir(t)
      const bin = join(dir, 'bin')
      const spool = join(dir, 'tmp')
      mkdirSync(bin)
      mkdirSync(spool)
      writeFileSync(join(dir, 'ksft.log'), SYNTHETIC)
      // a curl that records what it was given and which files held the token while it ran
      writeFileSync(join(bin, 'curl'), [
        '#!/bin/sh',
        'out=; prev=',
        'for a; do case $prev in -o) out=$a ;; esac; prev=$a; done',
        'printf "%s\\n" "$@" > "$RECORD/argv"',
        'cat > "$RECORD/stdin"',
        'grep -rl "$KSFT_TOKEN" "$TMPDIR" > "$RECORD/files" 2>/dev/null',
        'printf \'{"id":1,"url":"/runs/1","summary":{"total":2,"pass":1,"fail":1,"skip":0,"xfail":0,"xpass":0,"timeout":0,"error":0}}\' > "$out"',
        'printf 201',
      ].join('\n'), { mode: 0o755 })
      const token = `ksft_1_${'s'.repeat(43)}`
      const env = { ...fakeMachine(join(dir, 'm'), ''), KSFT_SERVER: 'http://127.0.0.1:9', KSFT_TOKEN: token, TMPDIR: spool, RECORD: dir, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` }
      const res = await hook(['--series', 's', '--version', 'v1', 'ksft.log'], { env, cwd: dir })
      assert.equal(res.code, 0, res.stderr)
      assert.doesNotMatch(readFileSync(join(dir, 'argv'), 'utf8'), new RegExp(token))
      assert.match(readFileSync(join(dir, 'argv'), 'utf8'), /^-K\n-\n/m)
      assert.equal(readFileSync(join(dir, 'stdin'), 'utf8'), `header = "Authorization: Bearer ${token}"\n`)
      assert.equal(readFileSync(join(dir, 'files'), 'utf8'), '', 'a file held the token')
      assert.deepEqual(readdirSync(spool), [], 'the temp directory is removed')
    })

    test('5xx and 429 are retried with backoff and the same gzip body, a 4xx never; attempts are bounded', async (t) => {
      const { base, token, get } = await dashboard(t)
      const dir = tempDir(t)
      const { raw } = theLog()
      writeFileSync(join(dir, 'ksft.log'), raw)
      const env = { ...fakeMachine(join(dir, 'm'), ''), KSFT_TOKEN: token }
      const args = ['--series', 's', '--version', 'v1', join(dir, 'ksft.log')]

      const restarting = await startFlakyServer(t, base, [{ status: 503 }, { status: 502, headers: { 'content-type': 'text/html' }, body: '<html>Bad Gateway</html>' }])
      const res = await hook(args, { env: { ...env, KSFT_SERVER: restarting.url, KSFT_RETRY_DELAY: '1' }, cwd: dir })
      assert.equal(res.code, 0, res.stderr)
      assert.equal(res.stdout, `${restarting.url}/runs/1\n`)
      assert.match(res.stderr, /the server answered 503 \(STORE_UNAVAILABLE: canned 503\); retrying in 1s \(1 of 5 attempts made\)/)
      assert.match(res.stderr, /the server answered 502 \(not a ksft-dashboard answer: <html>Bad Gateway<\/html>\); retrying in 2s \(2 of 5/)
      assert.ok(res.ms >= 3000, `waited 1 s then 2 s, not ${res.ms} ms`)
      assert.equal(restarting.seen.length, 3)
      for (const seen of restarting.seen) {
        assert.equal(seen.method, 'POST')
        assert.equal(seen.headers['content-encoding'], 'gzip')
        assert.equal(seen.headers['content-type'], 'text/plain')
        assert.equal(seen.headers.authorization, `Bearer ${token}`)
        assert.ok(gunzipSync(seen.body).equals(raw), 'every attempt sends the whole log, gzipped')
      }
      assert.ok((await get('/api/v1/runs/1/log.txt')).body.equals(raw))

      // the rate limit's Retry-After wins over a long backoff
      const limited = await startFlakyServer(t, base, [{ status: 429, headers: { 'content-type': 'application/json', 'retry-after': '0' }, body: '{"error":{"code":"RATE_LIMITED","message":"too many requests; retry in 1 minute"}}' }])
      const after = await hook(args, { env: { ...env, KSFT_SERVER: limited.url, KSFT_RETRY_DELAY: '30' }, cwd: dir })
      assert.equal(after.code, 0, after.stderr)
      assert.match(after.stderr, /answered 429 \(RATE_LIMITED: too many requests; retry in 1 minute\); retrying in 0s/)
      assert.equal(limited.seen.length, 2)
      assert.ok(after.ms < 20_000)

      const refusing = await startFlakyServer(t, base, [{ status: 400, body: '{"error":{"code":"INVALID_METADATA","message":"flags has \\"x-y\\""}}' }])
      const refused = await hook(args, { env: { ...env, KSFT_SERVER: refusing.url }, cwd: dir })
      assert.equal(refused.code, 1)
      assert.match(refused.stderr, /error: the server refused the upload \(400 INVALID_METADATA: flags has "x-y"\)$/m)
      assert.equal(refusing.seen.length, 1, 'a 4xx is never retried')

      const down = await startFlakyServer(t, null, Array.from({ length: 10 }, () => ({ status: 503 })))
      const gaveUp = await hook(args, { env: { ...env, KSFT_SERVER: down.url, KSFT_RETRIES: '2' }, cwd: dir })
      assert.equal(gaveUp.code, 1)
      assert.match(gaveUp.stderr, /error: giving up after 3 attempts: the server answered 503/)
      assert.equal(down.seen.length, 3)
    })

    test('a server that cannot be reached is retried, then reported', async (t) => {
      const dir = tempDir(t)
      writeFileSync(join(dir, 'ksft.log'), SYNTHETIC)
      const port = await freePort()
      const env = { ...fakeMachine(join(dir, 'm'), ''), KSFT_SERVER: `http://127.0.0.1:${port}/`, KSFT_TOKEN: 't', KSFT_RETRIES: '1' }
      const res = await hook(['--series', 's', '--version', 'v1', join(dir, 'ksft.log')], { env, cwd: dir })
      assert.equal(res.code, 1)
      assert.match(res.stderr, new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port}: .*; retrying in 0s \\(1 of 2 attempts made\\)`))
      assert.match(res.stderr, /error: giving up after 2 attempts: cannot reach /)
    })

    test('usage errors say what is missing and exit 2', async (t) => {
      const dir = tempDir(t)
      writeFileSync(join(dir, 'ksft.log'), SYNTHETIC)
      const env = fakeMachine(join(dir, 'm'), '')
      const cases: Array<[string[], Record<string, string>, RegExp, number]> = [
        [['--series', 's', '--version', 'v1', 'ksft.log'], { KSFT_TOKEN: 't' }, /no server: set KSFT_SERVER/, 2],
        [['--series', 's', '--version', 'v1', 'ksft.log'], { KSFT_SERVER: 'http://127.0.0.1:9' }, /no token: set KSFT_TOKEN/, 2],
        [['--series', 's', '--version', 'v1', '--server', 'dash:8080', 'ksft.log'], { KSFT_TOKEN: 't' }, /the server must be an http:\/\/ or https:\/\/ URL/, 2],
        [['--series', 's', '--version', 'v1', '--colour', 'ksft.log'], {}, /unknown option --colour/, 2],
        [['--series', 's', '--version'], {}, /--version needs a value/, 2],
        [['--series', 's', '--version', 'v1', 'missing.log'], {}, /cannot read missing\.log: no such file/, 1],
        [['--series', 's', '--version', 'v1', 'a.log', 'b.log'], {}, /one log at a time/, 2],
        [['--version', 'v1', 'ksft.log'], {}, /--series is required/, 2],
      ]
      for (const [args, extra, message, code] of cases) {
        const res = await hook(args, { env: { ...env, ...extra }, cwd: dir })
        assert.equal(res.code, code, args.join(' '))
        assert.match(res.stderr, message, args.join(' '))
        assert.equal(res.stdout, '')
      }
    })
  })
}

test('the server serves this very script at /hook.sh', async (t) => {
  const { base } = await dashboard(t)
  const res = await fetch(`${base}/hook.sh`)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/x-shellscript/)
  assert.equal(await res.text(), readFileSync(HOOK, 'utf8'))
})
