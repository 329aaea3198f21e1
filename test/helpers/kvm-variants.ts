import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { realFixturePath } from './fixtures.ts'

/**
 * Synthetic variants, made in the tests, of one real log (fixtures/real/real-kvm-pvm-subset-8-tests.txt:
 * 8 KVM tests on a real host: kvm_create_max_vcpus ok, set_memory_region_test ok, guest_memfd_test
 * not ok (exit=254), kvm_binary_stats_test ok with 4 nested subtests, guest_print_test ok,
 * cpuid_test not ok (exit=254, "CPUID nent mismatch"), vmx_msrs_test and svm_vmcall_test skipped).
 * The fixture itself is never changed; each variant is the kind of run that must not mislead a verdict.
 */

const REAL = 'real-kvm-pvm-subset-8-tests.txt'
/** A WARNING as the kernel prints it, at the KVM location a regression in the series would name. */
const WARNING = '[  100.123456] WARNING: CPU: 3 PID: 14290 at arch/x86/kvm/x86.c:11834 kvm_arch_vcpu_ioctl_run+0x3a/0x5a0 [kvm]'

export function realLog (): string[] {
  return readFileSync(realFixturePath(REAL), 'utf8').split('\n')
}

function lineIndex (lines: string[], text: string): number {
  const at = lines.indexOf(text)
  assert.notEqual(at, -1, `the real log has the line ${JSON.stringify(text)}`)
  return at
}

/** The host hung after two of the eight tests: the log ends right after `ok 2`. */
export function cutAfterTwo (): string {
  const lines = realLog()
  return lines.slice(0, lineIndex(lines, 'ok 2 selftests: kvm: set_memory_region_test') + 1).join('\n') + '\n'
}

/** The last test starts and never ends: a kernel panic follows its header and nothing else. */
export function panicInLastTest (): string {
  const lines = realLog()
  const header = lineIndex(lines, '# selftests: kvm: svm_vmcall_test')
  return [...lines.slice(0, header + 1), '# Random seed: 0x6b8b4567',
    '[  812.046581] Kernel panic - not syncing: Fatal exception in interrupt'].join('\n') + '\n'
}

/** A kernel WARNING inside a test that still passes, and a segfault before another's `ok`. */
export function warningAndFalsePass (): string {
  const lines = realLog()
  lines.splice(lineIndex(lines, 'ok 1 selftests: kvm: kvm_create_max_vcpus'), 0, WARNING)
  const print = lineIndex(lines, 'ok 5 selftests: kvm: guest_print_test')
  lines.splice(print, 0, '# Segmentation fault (core dumped)')
  return lines.join('\n')
}

/** guest_print_test fails an assertion. */
export function assertionFails (): string {
  const lines = realLog()
  const print = lineIndex(lines, 'ok 5 selftests: kvm: guest_print_test')
  lines.splice(print, 1,
    '# ==== Test Assertion Failure ====',
    '#   guest_print_test.c:142: !strcmp(ucall.buffer, expected)',
    '#   pid=14377 tid=14377 errno=0 - Success',
    'not ok 5 selftests: kvm: guest_print_test # exit=254')
  return lines.join('\n')
}

/** set_memory_region_test fails with the given exit code. */
export function setMemoryRegionFails (): string {
  const lines = realLog()
  const at = lineIndex(lines, 'ok 2 selftests: kvm: set_memory_region_test')
  lines.splice(at, 1, '# Failed to set memory region: slot 32764 rejected', 'not ok 2 selftests: kvm: set_memory_region_test # exit=1')
  return lines.join('\n')
}

/** kvm_create_max_vcpus fails. */
export function createMaxVcpusFails (): string {
  const lines = realLog()
  const at = lineIndex(lines, 'ok 1 selftests: kvm: kvm_create_max_vcpus')
  lines.splice(at, 1, '# KVM_CREATE_VCPU failed for id 4095', 'not ok 1 selftests: kvm: kvm_create_max_vcpus # exit=1')
  return lines.join('\n')
}

/** A kernel WARNING inside a test that still passes (kvm_create_max_vcpus). */
export function warningOnly (): string {
  const lines = realLog()
  lines.splice(lineIndex(lines, 'ok 1 selftests: kvm: kvm_create_max_vcpus'), 0, WARNING)
  return lines.join('\n')
}
