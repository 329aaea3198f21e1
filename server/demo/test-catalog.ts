/**
 * The memfd and KVM selftests the synthetic log generator knows, with the output each prints when it
 * passes, skips or fails. The texts are modelled on real runner output (see the logs in
 * ../shared/fixtures/real: real-kvm-pvm-subset-8-tests.txt, real-memfd-debian-6.12.117-root.txt,
 * memfd-v6.7-rc8-...-hugetlbfs-abort.txt, kvm-2024-arm64-set_id_regs-...) but every line here is
 * written for the demo: no real log is copied into the repository.
 */

export type Arch = 'x86_64' | 'aarch64'

/** A CPU or platform feature a test needs; on a machine without it the test skips. */
export type Requirement = 'vmx' | 'svm' | 'sev' | 'sev_snp' | 'tdx'

/** What a test prints when a KVM `TEST_ASSERT` fires: the `==== Test Assertion Failure ====` block. */
export interface Assertion {
  at: string
  expression: string
  errno: number
  message: string
  /** the functions in the backtrace, innermost first (`main` and libc are added) */
  frames: readonly string[]
}

export interface NestedResults {
  /** `ktap`: kselftest.h's `ok 1 vm0`; `harness`: kselftest_harness.h's RUN/OK markers around each result */
  style: 'ktap' | 'harness'
  /** the harness fixture name, printed as `fixture.name` */
  fixture?: string
  names: readonly string[]
}

export interface TestTemplate {
  collection: string
  name: string
  arches: readonly Arch[]
  requires?: Requirement
  /** what the test prints before its results, on every run */
  chatter: readonly string[]
  nested?: NestedResults
  /**
   * Why it skips. KVM tests print it as kselftest.h's `1..0 # SKIP - Requirement not met: ...`;
   * a text that does not start with `Requirement not met` is printed as it is (the memfd scripts).
   */
  skip: string
  /** how it fails: a KVM assertion (exit=254), or memfd's abort (exit=134) after these lines */
  failure: { assertion: Assertion } | { aborts: readonly string[] }
}

const requirement = (feature: string): string => `Requirement not met: kvm_cpu_has(X86_FEATURE_${feature})`

const MEMFD_CHATTER = [
  'memfd: CREATE', 'memfd: BASIC', 'memfd: SEAL-EXEC', 'memfd:\tApply SEAL_EXEC', 'memfd:\tApply ALL_SEALS',
  'memfd: EXEC_NO_SEAL', 'memfd: NOEXEC_SEAL', 'memfd: SEAL-WRITE', 'memfd: SEAL-FUTURE-WRITE',
  'memfd: SEAL-SHRINK', 'memfd: SEAL-GROW', 'memfd: SEAL-RESIZE', 'memfd: sysctl 0', 'memfd: sysctl 1',
  'memfd: sysctl 2', 'memfd: nested sysctl 0', 'memfd: nested sysctl 1', 'memfd: nested sysctl 2',
  'memfd: SHARE-DUP ', 'memfd: SHARE-MMAP ', 'memfd: SHARE-OPEN ', 'memfd: SHARE-FORK ', 'memfd: DONE',
]

const X86 = ['x86_64'] as const
const BOTH = ['x86_64', 'aarch64'] as const
const ARM = ['aarch64'] as const

export const TEST_CATALOG: readonly TestTemplate[] = [
  {
    collection: 'memfd',
    name: 'memfd_test',
    arches: BOTH,
    chatter: MEMFD_CHATTER,
    skip: 'memfd_create() is not supported by this kernel, skipping',
    failure: { aborts: ['memfd: SEAL-EXEC', 'memfd:\tApply SEAL_EXEC', "fchmod(/memfd:kern_memfd_seal_exec (deleted), 00777) didn't fail as expected", 'Aborted'] },
  },
  {
    collection: 'memfd',
    name: 'run_fuse_test.sh',
    arches: BOTH,
    chatter: ['opening: ./mnt/memfd', 'fuse: DONE'],
    skip: 'fuse_mnt: fusermount is not installed, skipping',
    failure: { aborts: ['opening: ./mnt/memfd', 'ADD_SEALS(6, 0 -> 8) failed: Device or resource busy', '8 != 0 = GET_SEALS(6)', 'Aborted (core dumped)'] },
  },
  {
    collection: 'memfd',
    name: 'run_hugetlbfs_test.sh',
    arches: BOTH,
    chatter: ['memfd-hugetlb: CREATE', 'memfd-hugetlb: BASIC', 'memfd-hugetlb: SEAL-WRITE', 'memfd-hugetlb: SEAL-SHRINK', 'memfd-hugetlb: DONE', 'opening: ./mnt/memfd', 'fuse: DONE'],
    skip: 'no hugepages available: Requirement not met: nr_hugepages > 0, skipping',
    failure: { aborts: ['memfd-hugetlb: SEAL-EXEC', "fchmod(/memfd:kern_memfd_seal_exec (deleted), 00777) didn't fail as expected", './run_hugetlbfs_test.sh: line 60:  7714 Aborted                 ./memfd_test hugetlbfs'] },
  },
  {
    collection: 'kvm',
    name: 'kvm_create_max_vcpus',
    arches: BOTH,
    chatter: ['Random seed: 0x6b8b4567', 'KVM_CAP_MAX_VCPU_ID: 4096', 'KVM_CAP_MAX_VCPUS: 1024', 'Testing creating 1024 vCPUs, with IDs 0...1023.', 'Testing creating 1024 vCPUs, with IDs 3072...4095.'],
    skip: 'Requirement not met: kvm_check_cap(KVM_CAP_MAX_VCPUS)',
    failure: { assertion: { at: 'kvm_create_max_vcpus.c:33', expression: 'ret == 0', errno: 12, message: 'KVM_CREATE_VCPU failed for vcpu 1019', frames: ['test_vcpu_creation at kvm_create_max_vcpus.c:33'] } },
  },
  {
    collection: 'kvm',
    name: 'set_memory_region_test',
    arches: BOTH,
    chatter: ['Random seed: 0x6b8b4567', 'Testing KVM_RUN with zero added memory regions', 'Allowed number of memory slots: 32764', 'Adding slots 0..32763, each memory region with 2048K size', 'Testing MOVE of in-use region, 10 loops', 'Testing DELETE of in-use region, 10 loops'],
    skip: 'Requirement not met: kvm_check_cap(KVM_CAP_NR_MEMSLOTS)',
    failure: { assertion: { at: 'lib/kvm_util.c:1118', expression: 'region->mmap_start != MAP_FAILED', errno: 19, message: 'mmap() failed, rc: -1 errno: 19 (No such device)', frames: ['vm_mem_add at kvm_util.c:1118', '__vm_create at kvm_util.c:411'] } },
  },
  {
    collection: 'kvm',
    name: 'guest_memfd_test',
    arches: BOTH,
    chatter: ['Random seed: 0x6b8b4567'],
    nested: { style: 'ktap', names: ['file_read_write', 'mmap', 'file_size', 'fallocate', 'invalid_punch_hole', 'create_guest_memfd_invalid', 'create_guest_memfd_multiple'] },
    skip: 'Requirement not met: kvm_has_cap(KVM_CAP_GUEST_MEMFD)',
    failure: { assertion: { at: 'guest_memfd_test.c:139', expression: 'fd == -1 && errno == EINVAL', errno: 22, message: "guest_memfd() with flag '0x1' should fail with EINVAL", frames: ['test_create_guest_memfd_invalid at guest_memfd_test.c:139'] } },
  },
  {
    collection: 'kvm',
    name: 'kvm_binary_stats_test',
    arches: BOTH,
    chatter: ['Random seed: 0x6b8b4567'],
    nested: { style: 'ktap', names: ['vm0', 'vm1', 'vm2', 'vm3'] },
    skip: 'Requirement not met: kvm_has_cap(KVM_CAP_BINARY_STATS_FD)',
    failure: { assertion: { at: 'kvm_binary_stats_test.c:62', expression: 'header.name_size > 0', errno: 0, message: 'Bad name size in stats header', frames: ['stats_test at kvm_binary_stats_test.c:62'] } },
  },
  {
    collection: 'kvm',
    name: 'guest_print_test',
    arches: BOTH,
    chatter: ['Random seed: 0x6b8b4567'],
    skip: 'Requirement not met: kvm_has_cap(KVM_CAP_EXIT_HYPERCALL)',
    failure: { assertion: { at: 'guest_print_test.c:141', expression: 'false', errno: 0, message: "Unexpected ucall command: 3", frames: ['run_test at guest_print_test.c:141'] } },
  },
  {
    collection: 'kvm',
    name: 'demand_paging_test',
    arches: BOTH,
    chatter: ['Random seed: 0x6b8b4567', 'Testing guest mode: PA-bits:ANY, VA-bits:48,  4K pages', 'guest physical test memory: [0x7fbffff000, 0x7fffffe000)', 'Finished creating vCPUs and starting uffd threads', 'All vCPU threads joined', 'Total guest execution time:\t0.291826283s'],
    skip: 'Requirement not met: userfaultfd is not enabled in this kernel',
    failure: { assertion: { at: 'demand_paging_test.c:121', expression: '!r', errno: 17, message: 'UFFDIO_COPY failed: File exists', frames: ['handle_uffd_page_request at demand_paging_test.c:121'] } },
  },
  {
    collection: 'kvm',
    name: 'dirty_log_test',
    arches: BOTH,
    chatter: ['Random seed: 0x6b8b4567', 'Test iterations: 32, interval: 10 (ms)', 'Testing Log Mode \'dirty-log\'', 'Testing guest mode: PA-bits:ANY, VA-bits:48,  4K pages', 'guest physical test memory offset: 0x7fbfffc000', 'Dirtied 1024 pages', 'Total bits checked: dirty (209737), clear (7917137), track_next (38159)'],
    skip: 'Requirement not met: kvm_has_cap(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)',
    failure: { assertion: { at: 'dirty_log_test.c:515', expression: 'test_bit_le(page, bmap)', errno: 0, message: 'Page 11953 should have its dirty bit set in this iteration but it is missing', frames: ['vm_dirty_log_verify at dirty_log_test.c:515', 'run_test at dirty_log_test.c:804'] } },
  },
  {
    collection: 'kvm',
    name: 'memslot_perf_test',
    arches: BOTH,
    chatter: ['Testing map performance with 1 runs, 5 seconds each', 'Test took 0.471358713s for slot setup + 5.000036114s all iterations', 'Done 121 iterations, avg 0.041322612s each', 'Best runtime result was 0.041322612s per guest operation'],
    skip: 'Requirement not met: kvm_check_cap(KVM_CAP_NR_MEMSLOTS) >= 2',
    failure: { assertion: { at: 'memslot_perf_test.c:421', expression: 'ret == 0', errno: 12, message: 'Memslot add failed', frames: ['prepare_vm at memslot_perf_test.c:421'] } },
  },
  {
    collection: 'kvm',
    name: 'max_guest_memory_test',
    arches: BOTH,
    chatter: ['Random seed: 0x6b8b4567', 'Testing guest memory of 128 GiB with 4 vCPUs and 1 GiB slots', 'Slot 0: 0x100000000 - 0x140000000', 'Slot 1: 0x140000000 - 0x180000000'],
    skip: 'Requirement not met: host memory >= 128 GiB',
    failure: { assertion: { at: 'max_guest_memory_test.c:247', expression: '!ret', errno: 14, message: 'KVM_SET_USER_MEMORY_REGION failed', frames: ['main at max_guest_memory_test.c:247'] } },
  },
  {
    collection: 'kvm',
    name: 'hardware_disable_test',
    arches: X86,
    chatter: ['Random seed: 0x6b8b4567', 'VM run 1', 'VM run 2', 'VM run 3', 'Done.'],
    skip: 'Requirement not met: kvm_has_cap(KVM_CAP_VM_DISABLE_NX_HUGE_PAGES)',
    failure: { assertion: { at: 'hardware_disable_test.c:103', expression: 'r == 0', errno: 11, message: 'pthread_create failed', frames: ['run_test at hardware_disable_test.c:103'] } },
  },
  {
    collection: 'kvm',
    name: 'cpuid_test',
    arches: X86,
    chatter: ['Random seed: 0x6b8b4567'],
    skip: 'Requirement not met: kvm_has_cap(KVM_CAP_SET_GUEST_DEBUG)',
    failure: { assertion: { at: 'x86_64/cpuid_test.c:78', expression: 'cpuid1->nent == cpuid2->nent', errno: 0, message: 'CPUID nent mismatch: 59 vs. 56', frames: ['compare_cpuids at cpuid_test.c:78'] } },
  },
  {
    collection: 'kvm',
    name: 'private_mem_conversions_test',
    arches: X86,
    chatter: ['Random seed: 0x6b8b4567', 'Testing private memory conversions with 1 vCPU, 1 memslot', 'Testing private memory conversions with 4 vCPUs, 4 memslots', 'Shared to private: 262144 pages', 'Private to shared: 262144 pages'],
    skip: 'Requirement not met: kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM)',
    failure: { assertion: { at: 'x86_64/private_mem_conversions_test.c:360', expression: 'run->exit_reason == KVM_EXIT_MEMORY_FAULT', errno: 14, message: 'Wanted KVM_EXIT_MEMORY_FAULT, got exit reason: 17 (KVM_EXIT_INTERNAL_ERROR)', frames: ['__test_mem_conversions at private_mem_conversions_test.c:360'] } },
  },
  {
    collection: 'kvm',
    name: 'private_mem_kvm_exits_test',
    arches: X86,
    chatter: ['Random seed: 0x6b8b4567'],
    nested: { style: 'ktap', names: ['test_private_access_memslot_deleted', 'test_private_access_memslot_not_private'] },
    skip: 'Requirement not met: kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM)',
    failure: { assertion: { at: 'x86_64/private_mem_kvm_exits_test.c:75', expression: 'exit_reason == KVM_EXIT_MEMORY_FAULT', errno: 0, message: 'Expected KVM_EXIT_MEMORY_FAULT, got KVM_EXIT_MMIO', frames: ['test_private_access_memslot_deleted at private_mem_kvm_exits_test.c:75'] } },
  },
  {
    collection: 'kvm',
    name: 'userspace_msr_exit_test',
    arches: X86,
    chatter: [],
    nested: { style: 'harness', fixture: 'user_msr', names: ['msr_filter_deny', 'msr_permission_bitmap', 'msr_filter_allow', 'user_exit_msr_flags'] },
    skip: 'Requirement not met: kvm_has_cap(KVM_CAP_X86_USER_SPACE_MSR)',
    failure: { assertion: { at: 'x86_64/userspace_msr_exit_test.c:498', expression: 'run->exit_reason == KVM_EXIT_X86_RDMSR', errno: 4, message: 'Unexpected exit reason: 8 (KVM_EXIT_SHUTDOWN)', frames: ['process_rdmsr at userspace_msr_exit_test.c:498'] } },
  },
  {
    collection: 'kvm',
    name: 'vmx_msrs_test',
    arches: X86,
    requires: 'vmx',
    chatter: ['Random seed: 0x6b8b4567'],
    skip: requirement('VMX'),
    failure: { assertion: { at: 'x86_64/vmx_msrs_test.c:40', expression: 'val == expected', errno: 0, message: 'Bit 5 of MSR_IA32_VMX_MISC should be fixed', frames: ['vmx_fixed1_msr_test at vmx_msrs_test.c:40'] } },
  },
  {
    collection: 'kvm',
    name: 'vmx_pmu_caps_test',
    arches: X86,
    requires: 'vmx',
    chatter: [],
    nested: { style: 'harness', fixture: 'vmx_pmu_caps', names: ['guest_wrmsr_perf_capabilities', 'basic_perf_capabilities', 'fungible_perf_capabilities', 'immutable_perf_capabilities'] },
    skip: requirement('PDCM'),
    failure: { assertion: { at: 'x86_64/vmx_pmu_caps_test.c:88', expression: '!r', errno: 0, message: 'Post-KVM_RUN write \'0x2000\' didn\'t fail', frames: ['guest_code at vmx_pmu_caps_test.c:88'] } },
  },
  {
    collection: 'kvm',
    name: 'svm_vmcall_test',
    arches: X86,
    requires: 'svm',
    chatter: ['Random seed: 0x6b8b4567'],
    skip: requirement('SVM'),
    failure: { assertion: { at: 'x86_64/svm_vmcall_test.c:57', expression: 'false', errno: 0, message: 'Unexpected exit reason: 17 (KVM_EXIT_INTERNAL_ERROR)', frames: ['main at svm_vmcall_test.c:57'] } },
  },
  {
    collection: 'kvm',
    name: 'sev_smoke_test',
    arches: X86,
    requires: 'sev',
    chatter: ['Random seed: 0x6b8b4567', 'Testing SEV', 'Testing SEV-ES'],
    skip: requirement('SEV'),
    failure: { assertion: { at: 'x86_64/sev_smoke_test.c:108', expression: 'is_kvm_sev_supported()', errno: 5, message: 'KVM_SEV_LAUNCH_UPDATE_VMSA failed, rc: -1 errno: 5 (Input/output error)', frames: ['test_sev at sev_smoke_test.c:108'] } },
  },
  {
    collection: 'kvm',
    name: 'sev_init2_tests',
    arches: X86,
    requires: 'sev',
    chatter: ['Random seed: 0x6b8b4567', 'Testing KVM_SEV_INIT2 with vmsa_features 0x0', 'Testing KVM_SEV_INIT2 with vmsa_features 0x4'],
    skip: requirement('SEV'),
    failure: { assertion: { at: 'x86_64/sev_init2_tests.c:52', expression: 'ret == -1 && errno == EINVAL', errno: 0, message: 'KVM_SEV_INIT2 with bad flags should fail with EINVAL (ret 0 errno 0)', frames: ['test_init2_invalid at sev_init2_tests.c:52'] } },
  },
  {
    collection: 'kvm',
    name: 'sev_migrate_tests',
    arches: X86,
    requires: 'sev',
    chatter: ['Random seed: 0x6b8b4567'],
    skip: requirement('SEV_ES'),
    failure: { assertion: { at: 'x86_64/sev_migrate_tests.c:133', expression: '!ret', errno: 16, message: 'Source SEV-ES VM migration failed: Device or resource busy', frames: ['test_sev_migrate_from at sev_migrate_tests.c:133'] } },
  },
  {
    collection: 'kvm',
    name: 'xapic_state_test',
    arches: X86,
    chatter: ['Random seed: 0x6b8b4567'],
    skip: requirement('X2APIC'),
    failure: { assertion: { at: 'x86_64/xapic_state_test.c:147', expression: 'apic_id == expected', errno: 4, message: 'APIC_ID not set back to xAPIC format; wanted = 1000000, got = 1', frames: ['test_apic_id at xapic_state_test.c:147'] } },
  },
  {
    collection: 'kvm',
    name: 'set_id_regs',
    arches: ARM,
    chatter: ['Random seed: 0x6b8b4567'],
    nested: { style: 'ktap', names: ['ID_AA64DFR0_EL1_DoubleLock', 'ID_AA64DFR0_EL1_PMUVer', 'ID_AA64ISAR0_EL1_RNDR', 'ID_AA64MMFR0_EL1_BIGEND', 'ID_AA64MMFR0_EL1_TGRAN4', 'ID_AA64PFR0_EL1_EL0'] },
    skip: 'Requirement not met: kvm_has_cap(KVM_CAP_ARM_SUPPORTED_REG_MASK_RANGES)',
    failure: { assertion: { at: 'aarch64/set_id_regs.c:434', expression: 'masks[idx] & ftr_bits[j].mask == ftr_bits[j].mask', errno: 22, message: '0 != 0xf0 (masks[idx] & ftr_bits[j].mask != ftr_bits[j].mask)', frames: ['test_vm_ftr_id_regs at set_id_regs.c:434'] } },
  },
  {
    collection: 'kvm',
    name: 'arch_timer',
    arches: ARM,
    chatter: ['Random seed: 0x6b8b4567', '==== Test configuration ====', 'Number of vCPUs: 4', 'Number of iterations: 5', 'Timer period (us): 10'],
    skip: 'Requirement not met: kvm_has_cap(KVM_CAP_COUNTER_OFFSET)',
    failure: { assertion: { at: 'aarch64/arch_timer.c:182', expression: 'xcnt >= cval', errno: 0, message: 'xcnt = 0x2f7f6a6f9, cval = 0x2f7f6a709', frames: ['guest_validate_irq at arch_timer.c:182'] } },
  },
  {
    collection: 'kvm',
    name: 'vgic_init',
    arches: ARM,
    chatter: ['Random seed: 0x6b8b4567', 'Number of threads: 4', 'Running GIC_v3 tests.'],
    skip: 'Requirement not met: KVM_DEV_TYPE_ARM_VGIC_V3 is supported',
    failure: { assertion: { at: 'aarch64/vgic_init.c:308', expression: '!ret', errno: 16, message: 'KVM_RUN after VGIC init should succeed', frames: ['test_vgic_then_vcpus at vgic_init.c:308'] } },
  },
]

export function findTemplate (collection: string, name: string): TestTemplate | undefined {
  return TEST_CATALOG.find(template => template.collection === collection && template.name === name)
}

/** The catalog's tests that exist on an architecture, in the order the runner runs them. */
export function catalogFor (arch: Arch): TestTemplate[] {
  return TEST_CATALOG.filter(template => template.arches.includes(arch))
}
