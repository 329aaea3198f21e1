import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { SeriesPatch } from '../../../server/domain/patch-list.ts'
import { messageIdOfCommit } from '../../../server/domain/patch-list.ts'
import { deltaCounts, kernelLocationLines, namedSourceFiles, patchDelta, suspectsFor } from '../../../server/queries/patch-delta.ts'

/** A patch list from `subject@patch-id-seed|file,file` shorthands, positions from 1. */
function list (...patches: string[]): SeriesPatch[] {
  return patches.map((text, i) => {
    const [head, files = ''] = text.split('|') as [string, string | undefined]
    const [subject, seed] = head.split('@') as [string, string]
    return { position: i + 1, subject, author: 'A <a@example.org>', patchId: seed.padEnd(40, '0'), files: files === '' ? [] : files.split(','), messageId: null }
  })
}

const changes = (base: SeriesPatch[], head: SeriesPatch[]) =>
  patchDelta(base, head).entries.map(e => `${e.change}${e.moved ? '+moved' : ''} ${e.base?.position ?? '-'}>${e.head?.position ?? '-'} ${(e.head ?? e.base)!.subject}`)

test('the delta pairs by patch-id, then by subject; the rest is added or dropped, in head order', () => {
  const base = list('KVM: a@a1', 'KVM: b@b1', 'KVM: c@c1', 'KVM: d@d1')
  // b is changed, c is dropped, e is new after b, d is the same change (on a new base, the same patch-id)
  const head = list('KVM: a@a1', 'KVM: b@b2', 'KVM: e@e1', 'KVM: d@d1')
  assert.deepEqual(changes(base, head), [
    'unchanged 1>1 KVM: a',
    'modified 2>2 KVM: b',
    // c came after b in base: it is listed where it was, after b's pair
    'dropped 3>- KVM: c',
    'added ->3 KVM: e',
    'unchanged 4>4 KVM: d',
  ])
  assert.deepEqual(patchDelta(base, head).counts, { modified: 1, added: 1, dropped: 1, reordered: 0, unchanged: 2 })
  assert.equal(deltaCounts(patchDelta(base, head).counts), '1 patch modified, 1 added, 1 dropped')
})

test('a patch moved against the others is reordered; a modified one that moved says so', () => {
  const base = list('a@a1', 'b@b1', 'c@c1', 'd@d1')
  assert.deepEqual(changes(base, list('a@a1', 'c@c1', 'd@d1', 'b@b1')), [
    'unchanged 1>1 a', 'unchanged 3>2 c', 'unchanged 4>3 d', 'reordered 2>4 b',
  ])
  assert.deepEqual(changes(base, list('d@d2', 'a@a1', 'b@b1', 'c@c1')), [
    'modified+moved 4>1 d', 'unchanged 1>2 a', 'unchanged 2>3 b', 'unchanged 3>4 c',
  ])
  assert.equal(deltaCounts(patchDelta(base, list('b@b1', 'a@a1', 'c@c2', 'd@d2')).counts), '2 patches modified, 1 reordered')
})

test('identical patches pair one for one; a mail subject prefix and spacing do not stop a subject pairing', () => {
  const base = list('fixup@f1', 'KVM:  x@x1', 'fixup@f1')
  const head = list('fixup@f1', '[PATCH v2 2/3] KVM: x@x2')
  assert.deepEqual(changes(base, head), ['unchanged 1>1 fixup', 'modified 2>2 [PATCH v2 2/3] KVM: x', 'dropped 3>- fixup'])
  assert.equal(deltaCounts(patchDelta(base, base).counts), 'no change (3 patches unchanged)')
  assert.equal(deltaCounts(patchDelta([], []).counts), 'no patches in either version')
  assert.deepEqual(changes([], list('a@a1', 'b@b1')), ['added ->1 a', 'added ->2 b'])
})

test('suspects: the test\'s own source first, its collection next, then what the failure names, then the rest', () => {
  const base = list(
    'KVM: x86: rework MSR filtering@m1|arch/x86/kvm/x86.c',
    'KVM: selftests: add a helper@h1|tools/testing/selftests/kvm/lib/kvm_util.c,tools/testing/selftests/kvm/include/kvm_util.h',
    'mm: shmem: cleanup@s1|mm/shmem.c',
    'Documentation: typo@d1|Documentation/virt/kvm/api.rst',
  )
  const head = list(
    'KVM: x86: rework MSR filtering@m2|arch/x86/kvm/x86.c',
    'KVM: selftests: add a helper@h2|tools/testing/selftests/kvm/lib/kvm_util.c,tools/testing/selftests/kvm/include/kvm_util.h',
    'KVM: x86/mmu: zap less@z1|arch/x86/kvm/mmu/mmu.c',
    'KVM: selftests: test MSR filtering@t1|tools/testing/selftests/kvm/x86/userspace_msr_exit_test.c',
    'mm: shmem: cleanup@s1|mm/shmem.c',
    'Documentation: typo@d2|Documentation/virt/kvm/api.rst',
  )
  const delta = patchDelta(base, head)
  const ranked = (texts: string[], test = 'userspace_msr_exit_test', collection = 'kvm') =>
    suspectsFor({ collection, test, texts }, delta).map(s => `${s.strength} [${s.patch.position}] ${s.evidence[0]!.file ?? '-'}${s.evidence[0]!.matched ? ` (${s.evidence[0]!.matched})` : ''}`)

  // an assertion in the selftest's own file, and a WARNING in arch/x86/kvm/mmu during the test
  assert.deepEqual(ranked(['x86/userspace_msr_exit_test.c:456: exit_reason == KVM_EXIT_X86_RDMSR',
    '[  12.3] WARNING: CPU: 1 PID: 42 at arch/x86/kvm/mmu/mmu.c:4321 kvm_mmu_page_fault+0x1a/0x2b0']), [
    'test_source [4] tools/testing/selftests/kvm/x86/userspace_msr_exit_test.c (kvm/userspace_msr_exit_test)',
    'test_collection [2] tools/testing/selftests/kvm/lib/kvm_util.c (tools/testing/selftests/kvm/)',
    'reason_file [3] arch/x86/kvm/mmu/mmu.c (arch/x86/kvm/mmu/mmu.c)',
    // x86.c is in arch/x86/kvm, the directory above mmu/
    'reason_subsystem [1] arch/x86/kvm/x86.c (arch/x86/kvm/ (from arch/x86/kvm/mmu/mmu.c))',
    'changed [6] - ',
  ].map(line => line.trimEnd()))
  // unchanged patches (mm: shmem) are never suspects, whatever they touch
  assert.ok(!ranked(['kernel BUG at mm/shmem.c:1234!']).some(line => line.includes('[5]')))

  // another test of the collection: the MSR test is only in its collection; a selftest-relative location counts
  assert.deepEqual(ranked(['include/kvm_util.h:527: !ret'], 'set_memory_region_test').slice(0, 2), [
    'test_collection [2] tools/testing/selftests/kvm/lib/kvm_util.c (tools/testing/selftests/kvm/)',
    'test_collection [4] tools/testing/selftests/kvm/x86/userspace_msr_exit_test.c (tools/testing/selftests/kvm/)',
  ])
  const helper = suspectsFor({ collection: 'kvm', test: 'set_memory_region_test', texts: ['include/kvm_util.h:527: !ret'] }, delta).find(s => s.patch.position === 2)!
  // every piece of evidence, strongest first; the location's directory (include/) holds nothing else it touches
  assert.deepEqual(helper.evidence.map(e => `${e.kind} ${e.file}`), [
    'test_collection tools/testing/selftests/kvm/lib/kvm_util.c',
    'test_collection tools/testing/selftests/kvm/include/kvm_util.h',
    'reason_file tools/testing/selftests/kvm/include/kvm_util.h',
  ])

  // a memfd test: nothing in the series touches memfd; the rest is ranked by what the failure names
  assert.deepEqual(ranked(['memfd_test.c:139: fd == -1'], 'memfd_test', 'memfd').map(line => line.trimEnd()), [1, 2, 3, 4, 6].map(n => `changed [${n}] -`))
  assert.deepEqual(suspectsFor({ collection: 'kvm', test: 'x', texts: [] }, patchDelta(base, base)), [], 'no change, no suspect')
})

test('the failure\'s texts name source locations; only kernel WARNING and BUG lines of a log are kept', () => {
  assert.deepEqual(namedSourceFiles([
    '  x86_64/coco_pre_fault_memory_test.c:145: expect_fail',
    'WARNING: CPU: 3 PID: 1234 at arch/x86/kvm/x86.c:11834 kvm_arch_vcpu_ioctl_run+0x1a/0x2b0 [kvm]',
    'tls.c:323:sendfile:Expected ret (-1) == 0 (0)',
    'see https://example.org/a.c for more', 'version 6.12.0',
  ]), ['x86_64/coco_pre_fault_memory_test.c', 'arch/x86/kvm/x86.c', 'tls.c'])
  assert.deepEqual(kernelLocationLines([
    '# ok 1 test', '[ 1.2] WARNING: CPU: 0 PID: 1 at mm/shmem.c:10 shmem_x+0x1/0x2', '[ 1.3] kernel BUG at mm/filemap.c:77!', 'BUG: unable to handle page fault',
  ]), ['[ 1.2] WARNING: CPU: 0 PID: 1 at mm/shmem.c:10 shmem_x+0x1/0x2', '[ 1.3] kernel BUG at mm/filemap.c:77!'])
})

test('a commit names its mail in a Message-Id trailer or a Link to lore or patch.msgid.link', () => {
  assert.equal(messageIdOfCommit('KVM: x\n\nBody.\n\nSigned-off-by: A <a@b>\nLink: https://lore.kernel.org/r/20240105.1-3-a%40b.org\n'), '20240105.1-3-a@b.org')
  assert.equal(messageIdOfCommit('x\n\nLink: https://patch.msgid.link/20240105.1-3-a@b.org\nMessage-Id: <20240106.2-3-a@b.org>\n'), '20240106.2-3-a@b.org')
  assert.equal(messageIdOfCommit('x\n\nLink: https://lore.kernel.org/kvm/20240105.1-3-a@b.org/\n'), '20240105.1-3-a@b.org')
  assert.equal(messageIdOfCommit('x\n\nLink: https://bugzilla.kernel.org/show_bug.cgi?id=1\n'), null)
})
