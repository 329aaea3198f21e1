import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseKselftestLog, KERNEL_TROUBLE_FLAGS } from '../../../ingest/index.ts'
import {
  generateLog, generateLogChunks, outcomeStatus, scaledLogSpec,
  type LogSpec, type TestOutcome, type TestSpec,
} from '../../../server/demo/log-generator.ts'
import { catalogFor, TEST_CATALOG, type Arch } from '../../../server/demo/test-catalog.ts'

const OUTCOMES: readonly TestOutcome[] = ['pass', 'fail', 'skip', 'timeout']

/** Every catalog test of an arch, each with the outcome at its index shifted by `shift`. */
function everyOutcome (arch: Arch, shift: number): TestSpec[] {
  return catalogFor(arch).map((template, i) => ({
    collection: template.collection, name: template.name, outcome: OUTCOMES[(i + shift) % OUTCOMES.length]!,
  }))
}

describe('the synthetic log generator', () => {
  test('the same spec gives the same bytes, whatever the chunk size; another seed changes the text, not the results', () => {
    const spec: LogSpec = { seed: 42, tests: everyOutcome('x86_64', 0) }
    const whole = generateLog(spec)
    assert.equal([...generateLogChunks(spec, { chunkBytes: 100 })].join(''), whole)
    assert.equal([...generateLogChunks(spec, { chunkBytes: 1 << 20 })].join(''), whole)
    assert.equal(generateLog(structuredClone(spec)), whole)
    const other = generateLog({ ...spec, seed: 43 })
    assert.notEqual(other, whole)
    const statuses = (text: string) => parseKselftestLog(text).tests.map(t => `${t.name}=${t.status}`)
    assert.deepEqual(statuses(other), statuses(whole))
  })

  for (const arch of ['x86_64', 'aarch64'] as const) {
    test(`every ${arch} catalog test parses into the outcome asked for, each outcome in turn`, () => {
      for (let shift = 0; shift < OUTCOMES.length; shift++) {
        const tests = everyOutcome(arch, shift)
        const parsed = parseKselftestLog(generateLog({ seed: shift, tests, arch }))
        assert.deepEqual(parsed.tests.map(t => [t.collection, t.name, t.status]),
          tests.map(t => [t.collection, t.name, outcomeStatus(t.outcome)]))
        for (const [i, record] of parsed.tests.entries()) {
          const outcome = tests[i]!.outcome
          if (outcome === 'skip') assert.match(record.reason ?? '', /Requirement not met|skipping/, record.name)
          if (outcome === 'fail') assert.ok(record.reason, `${record.name} fails with a reason`)
          assert.deepEqual(record.flags.filter(flag => KERNEL_TROUBLE_FLAGS.includes(flag)), [], `${record.name} has no kernel trouble`)
        }
        assert.deepEqual(parsed.plans.map(p => [p.collection, p.planned, p.seen]),
          [['memfd', 3, 3], ['kvm', tests.length - 3, tests.length - 3]])
      }
    })
  }

  test('a KVM failure is an exit=254 assertion whose location and message make the reason', () => {
    const text = generateLog({ seed: 1, tests: [{ collection: 'kvm', name: 'set_memory_region_test', outcome: 'fail' }] })
    assert.match(text, /^# ==== Test Assertion Failure ====$/m)
    const [record] = parseKselftestLog(text).tests
    assert.equal(record!.exitCode, 254)
    assert.equal(record!.reason, 'lib/kvm_util.c:1118: region->mmap_start != MAP_FAILED: mmap() failed, rc: -1 errno: 19 (No such device)')
    assert.deepEqual(record!.flags, ['assertion_failure'])
  })

  test('nested results follow the overrides; a failing test without any fails its last one', () => {
    const parsed = parseKselftestLog(generateLog({
      seed: 7,
      tests: [
        { collection: 'kvm', name: 'guest_memfd_test', outcome: 'fail', subtests: { mmap: 'fail', fallocate: 'skip' } },
        { collection: 'kvm', name: 'kvm_binary_stats_test', outcome: 'fail' },
        { collection: 'kvm', name: 'userspace_msr_exit_test', outcome: 'pass', subtests: { msr_filter_allow: 'fail' } },
        { collection: 'kvm', name: 'made_up_test', outcome: 'pass', extraSubtests: 3 },
      ],
    }))
    const shape = (name: string) => parsed.tests.find(t => t.name === name)!.subtests.map(s => `${s.name}=${s.status}`)
    assert.deepEqual(shape('guest_memfd_test'), ['file_read_write=pass', 'mmap=fail', 'file_size=pass', 'fallocate=skip',
      'invalid_punch_hole=pass', 'create_guest_memfd_invalid=pass', 'create_guest_memfd_multiple=pass'])
    assert.deepEqual(shape('kvm_binary_stats_test'), ['vm0=pass', 'vm1=pass', 'vm2=pass', 'vm3=fail'])
    assert.deepEqual(shape('userspace_msr_exit_test'), ['user_msr.msr_filter_deny=pass', 'user_msr.msr_permission_bitmap=pass',
      'user_msr.msr_filter_allow=fail', 'user_msr.user_exit_msr_flags=pass'])
    assert.deepEqual(shape('made_up_test'), ['case_000001=pass', 'case_000002=pass', 'case_000003=pass'])
    assert.deepEqual(parsed.tests.map(t => t.status), ['fail', 'fail', 'pass', 'pass'])
  })

  test('a kernel warning flags a passing test; a panic ends the log with the test in error and nothing after it', () => {
    const text = generateLog({
      seed: 3,
      arch: 'aarch64',
      tests: [
        { collection: 'kvm', name: 'arch_timer', outcome: 'pass', kernelWarning: true },
        { collection: 'kvm', name: 'vgic_init', outcome: 'panic' },
        { collection: 'kvm', name: 'set_id_regs', outcome: 'pass' },
      ],
    })
    assert.match(text.trimEnd().split('\n').at(-1)!, /\] ---\[ end Kernel panic - not syncing: Fatal exception \]---$/)
    const parsed = parseKselftestLog(text)
    assert.deepEqual(parsed.tests.map(t => [t.name, t.status]), [['arch_timer', 'pass'], ['vgic_init', 'error']])
    assert.deepEqual(parsed.tests[0]!.flags, ['kernel_warning', 'call_trace'])
    assert.ok(parsed.tests[1]!.flags.includes('kernel_panic'))
    assert.match(parsed.tests[1]!.reason!, /^no result line: the log ends before its result line, after a kernel panic/)
  })

  test('benign console lines appear and flag nothing', () => {
    let seen = 0
    for (let seed = 0; seed < 20; seed++) {
      const text = generateLog({ seed, tests: everyOutcome('x86_64', 0).map(t => ({ ...t, outcome: 'pass' as const })) })
      seen += (text.match(/split_lock trap/g) ?? []).length
      for (const record of parseKselftestLog(text).tests) assert.deepEqual(record.flags, [], record.name)
    }
    assert.ok(seen > 5, `only ${seen} console lines in 20 logs`)
  })

  test('scaledLogSpec reaches the asked size within a few hundred bytes and streams it in bounded chunks', () => {
    const targetBytes = 3 * 1024 * 1024
    const spec = scaledLogSpec({ seed: 9, targetBytes, tests: 60, extraSubtests: 2 })
    let bytes = 0
    let text = ''
    for (const chunk of generateLogChunks(spec, { chunkBytes: 64 * 1024 })) {
      assert.ok(chunk.length < 64 * 1024 + 200, 'a chunk is its size and at most one line more')
      assert.ok(chunk.endsWith('\n'))
      bytes += Buffer.byteLength(chunk)
      text += chunk
    }
    assert.ok(Math.abs(bytes - targetBytes) < 500, `${bytes} bytes for a target of ${targetBytes}`)
    const parsed = parseKselftestLog(text)
    assert.equal(parsed.tests.length, 60)
    assert.deepEqual(parsed.tests.map(t => t.status), spec.tests.map(t => outcomeStatus(t.outcome)))
    assert.ok(new Set(spec.tests.map(t => t.outcome)).size >= 3, 'the seeded outcomes are mixed')
    assert.equal(new Set(parsed.tests.map(t => `${t.collection}/${t.name}`)).size, 60, 'copies of catalog tests get their own names')
  })

  test('the catalog names each test once per collection', () => {
    const ids = TEST_CATALOG.map(t => `${t.collection}/${t.name}`)
    assert.equal(new Set(ids).size, ids.length)
  })
})
