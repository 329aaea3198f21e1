/**
 * A generator of SYNTHETIC kselftest logs: what `make -C tools/testing/selftests TARGETS="memfd kvm"
 * run_tests` prints, shaped like the real logs in ../shared/fixtures/real (one TAP stream per
 * collection, `# timeout set to`, `# selftests:` headers, output behind `# `, nested KTAP and harness
 * results, `Requirement not met` skips, `exit=254` KVM assertion failures, timeouts, make noise,
 * kernel console lines, and a run cut short by a kernel panic). No line comes from a real machine.
 *
 * Pure and deterministic: the same spec gives the same bytes, whatever the chunk size. The caller
 * chooses each test's outcome (the demo series encodes regressions and fixes that way) and can
 * scale a log to any size; the text is produced as a stream of chunks, so a 1 GB log never sits in
 * memory whole.
 */
import type { Status } from '../../ingest/index.ts'
import { findTemplate, catalogFor, type Arch, type Assertion, type TestTemplate } from './test-catalog.ts'

/** What happens to a test. `panic`: the kernel panics while it runs and the log ends there. */
export type TestOutcome = 'pass' | 'fail' | 'skip' | 'timeout' | 'panic'
export type SubtestOutcome = 'pass' | 'fail' | 'skip'

export interface TestSpec {
  collection: string
  name: string
  outcome: TestOutcome
  /** Print the output of this catalog test (same collection) under `name`: for logs with more tests than the catalog. */
  like?: string
  /**
   * Outcomes of nested results by name; names the test does not print are added after its own.
   * A failing test with nested results fails its last one unless this says which fail.
   */
  subtests?: Readonly<Record<string, SubtestOutcome>>
  /** Nested results `case_000001`... added to the test's own, all passing: to scale the nested parser's work. */
  extraSubtests?: number
  /** A kernel WARNING with a call trace on the console while the test runs. */
  kernelWarning?: boolean
  /** Progress lines of a fixed length, printed by the test before its results: to scale the log. */
  fillerLines?: number
}

export interface LogSpec {
  /** The run's seed: timestamps, pids and addresses change with it, outcomes do not. */
  seed: number
  tests: readonly TestSpec[]
  /** Shapes the kernel console lines (x86 or arm64 registers and frames). */
  arch?: Arch
  kernel?: string
  hardware?: string
  /** Where the kernel tree is, as make prints it. */
  tree?: string
}

/** The status the project's parser gives a test with this outcome. */
export function outcomeStatus (outcome: TestOutcome): Status {
  return outcome === 'panic' ? 'error' : outcome
}

const DEFAULT_CHUNK_BYTES = 64 * 1024
const TIMEOUTS: Readonly<Record<string, number>> = { kvm: 120, memfd: 45 }

/** The log as chunks of about `chunkBytes` (whole lines, each ending in a newline). */
export function * generateLogChunks (spec: LogSpec, options: { chunkBytes?: number } = {}): Generator<string> {
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES
  let pending: string[] = []
  let size = 0
  for (const line of logLines(spec)) {
    pending.push(line)
    size += line.length + 1
    if (size >= chunkBytes) {
      yield `${pending.join('\n')}\n`
      pending = []
      size = 0
    }
  }
  if (pending.length > 0) yield `${pending.join('\n')}\n`
}

/** The whole log as one string: for the demo's small logs and for tests. */
export function generateLog (spec: LogSpec): string {
  let text = ''
  for (const chunk of generateLogChunks(spec)) text += chunk
  return text
}

/** The log's chunks as Buffers, the shape ingestLog and HTTP bodies take. */
export async function * logBuffers (spec: LogSpec, options: { chunkBytes?: number } = {}): AsyncGenerator<Buffer> {
  for (const chunk of generateLogChunks(spec, options)) yield Buffer.from(chunk)
}

function * logLines (spec: LogSpec): Generator<string> {
  const run = new RunContext(spec)
  const make = (level: string, verb: string, dir: string) => `make${level}: ${verb} directory '${run.tree}/tools/testing/selftests${dir}'`
  const streams = groupByCollection(spec.tests)

  yield make('', 'Entering', '')
  // `run_tests` builds every target first; with a built tree make has nothing to do
  for (const stream of streams) {
    yield make('[1]', 'Entering', `/${stream.collection}`)
    yield "make[1]: Nothing to be done for 'all'."
    yield make('[1]', 'Leaving', `/${stream.collection}`)
  }
  for (const stream of streams) {
    yield make('[1]', 'Entering', `/${stream.collection}`)
    yield 'TAP version 13'
    yield `1..${stream.tests.length}`
    for (const [index, test] of stream.tests.entries()) {
      yield * testLines(run, test, index + 1)
      // the machine is gone: no result line, no more tests, no make epilogue
      if (test.outcome === 'panic') return
    }
    yield make('[1]', 'Leaving', `/${stream.collection}`)
  }
  yield make('', 'Leaving', '')
}

function groupByCollection (tests: readonly TestSpec[]): Array<{ collection: string, tests: TestSpec[] }> {
  const streams: Array<{ collection: string, tests: TestSpec[] }> = []
  for (const test of tests) {
    const last = streams[streams.length - 1]
    if (last && last.collection === test.collection) last.tests.push(test)
    else streams.push({ collection: test.collection, tests: [test] })
  }
  return streams
}

/** The run-wide state: the console clock and the machine's description. */
class RunContext {
  readonly arch: Arch
  readonly kernel: string
  readonly hardware: string
  readonly tree: string
  readonly seed: number
  private seconds: number

  constructor (spec: LogSpec) {
    this.seed = spec.seed
    this.arch = spec.arch ?? 'x86_64'
    this.kernel = spec.kernel ?? '6.8.0-rc1'
    this.hardware = spec.hardware ?? (this.arch === 'aarch64' ? 'linux,dummy-virt (DT)' : 'QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.3-debian-1.16.3-2 04/01/2014')
    this.tree = spec.tree ?? '/home/ci/linux'
    this.seconds = 40 + (hashString(`${spec.seed}|boot`) % 60_000_000) / 1_000_000
  }

  /** A console timestamp `[  492.217268]`; time moves on by up to `maxStep` seconds. */
  stamp (rng: Rng, maxStep = 0.01): string {
    this.seconds += rng.next() * maxStep
    const [whole, fraction] = this.seconds.toFixed(6).split('.')
    return `[${whole!.padStart(5)}.${fraction}]`
  }

  rngFor (test: TestSpec): Rng {
    return new Rng(hashString(`${this.seed}|${test.collection}|${test.name}`))
  }
}

function * testLines (run: RunContext, test: TestSpec, number: number): Generator<string> {
  const template = templateOf(test)
  const rng = run.rngFor(test)
  const timeout = TIMEOUTS[test.collection] ?? 45
  const id = `selftests: ${test.collection}: ${test.name}`
  // a test's run takes a few seconds of console time
  run.stamp(rng, 5)

  // drawn before anything of variable length, so that scaledLogSpec's size estimate holds
  const consoleNoise = test.collection === 'kvm' && rng.next() < 0.1
  yield `# timeout set to ${timeout}`
  yield `# ${id}`
  if (test.outcome === 'skip') {
    for (const line of template.chatter.filter(line => line.startsWith('Random seed'))) yield `# ${line}`
    yield * fillerLines(test, rng)
    yield template.skip.startsWith('Requirement not met') ? `# 1..0 # SKIP - ${template.skip}` : `# ${template.skip}`
    yield `ok ${number} ${id} # SKIP`
    return
  }

  const cut = test.outcome === 'timeout' || test.outcome === 'panic'
  const chatter = cut ? template.chatter.slice(0, Math.ceil(template.chatter.length / 2)) : template.chatter
  // an aborting test stops talking where its abort story begins
  const aborts = test.outcome === 'fail' && 'aborts' in template.failure && !template.nested ? template.failure.aborts : null
  const until = aborts ? Math.max(0, chatter.indexOf(aborts[0]!)) : chatter.length
  for (const line of chatter.slice(0, until)) yield `# ${line}`
  if (consoleNoise) yield `${run.stamp(rng)} ${benignConsoleLine(run, rng, test.name)}`
  yield * fillerLines(test, rng)
  if (test.kernelWarning) yield * kernelWarning(run, rng, test.name)

  const nested = nestedResults(template, test)
  let failedSubtests = 0
  if (nested) {
    const shown = cut ? nested.slice(0, Math.ceil(nested.length / 2)) : nested
    failedSubtests = shown.filter(([, outcome]) => outcome === 'fail').length
    yield * nestedLines(template, shown, nested.length, rng)
  }

  switch (test.outcome) {
    case 'pass':
      yield `ok ${number} ${id}`
      return
    case 'timeout':
      yield `not ok ${number} ${id} # TIMEOUT ${timeout} seconds`
      return
    case 'panic':
      yield * kernelPanic(run, rng, test.name)
      return
    case 'fail':
      if (failedSubtests > 0) {
        yield `not ok ${number} ${id} # exit=1`
      } else if ('assertion' in template.failure) {
        yield * assertionBlock(template.failure.assertion, rng)
        yield `not ok ${number} ${id} # exit=254`
      } else {
        for (const line of aborts ?? template.failure.aborts) yield `# ${line}`
        // a script reports its binary's abort as its own failure; the binary dies of SIGABRT
        yield `not ok ${number} ${id} # exit=${test.name.endsWith('.sh') ? 1 : 134}`
      }
  }
}

/** The catalog's template, or one for a test the catalog does not know (a KVM-style test). */
function templateOf (test: TestSpec): TestTemplate {
  const known = findTemplate(test.collection, test.like ?? test.name)
  if (known) return known
  return {
    collection: test.collection,
    name: test.name,
    arches: ['x86_64', 'aarch64'],
    chatter: ['Random seed: 0x6b8b4567'],
    skip: 'Requirement not met: the test\'s prerequisites',
    failure: { assertion: { at: 'lib/kvm_util.c:277', expression: 'ret == 0', errno: 22, message: 'Test failed', frames: ['main at lib/kvm_util.c:277'] } },
  }
}

/** The nested results to print, in order, with their outcomes; null when the test prints none. */
function nestedResults (template: TestTemplate, test: TestSpec): Array<[string, SubtestOutcome]> | null {
  const overrides = test.subtests ?? {}
  const names = [...(template.nested?.names ?? [])]
  for (const name of Object.keys(overrides)) if (!names.includes(name)) names.push(name)
  for (let i = 1; i <= (test.extraSubtests ?? 0); i++) names.push(`case_${String(i).padStart(6, '0')}`)
  if (names.length === 0) return null
  const results = names.map((name): [string, SubtestOutcome] => [name, overrides[name] ?? 'pass'])
  if (test.outcome === 'fail' && !results.some(([, outcome]) => outcome === 'fail') && test.subtests === undefined) {
    results[results.length - 1]![1] = 'fail'
  }
  return results
}

/** `results` may stop short of `planned` when the test was killed or the kernel died. */
function * nestedLines (template: TestTemplate, results: Array<[string, SubtestOutcome]>, planned: number, rng: Rng): Generator<string> {
  const harness = template.nested?.style === 'harness'
  const fixture = template.nested?.fixture ?? template.name
  const complete = results.length === planned
  yield '# TAP version 13'
  yield `# 1..${planned}`
  if (harness) yield `# # Starting ${planned} tests from 1 test cases.`
  const failure = 'assertion' in template.failure ? template.failure.assertion : null
  for (const [index, [name, outcome]] of results.entries()) {
    const shown = harness ? `${fixture}.${name}` : name
    if (harness) yield `# #  RUN           ${shown} ...`
    if (outcome === 'fail') {
      if (harness) {
        yield `# # ${template.name}.c:${100 + rng.int(400)}:${name}:Expected 0 (0) == ret (${-1 - rng.int(30)})`
        yield `# # ${name}: Test terminated by assertion`
        yield `# #          FAIL  ${shown}`
      } else {
        yield `# # ${failure ? `${failure.at}: ${failure.expression}` : `${name} failed`}`
        if (failure) yield `# # ${failure.message}`
      }
      yield `# not ok ${index + 1} ${shown}`
    } else if (outcome === 'skip') {
      const reason = 'Requirement not met: host support for this case'
      if (harness) yield `# #      SKIP      ${reason}`
      if (harness) yield `# #            OK  ${shown}`
      yield `# ok ${index + 1} ${shown} # SKIP ${reason}`
    } else {
      if (harness) yield `# #            OK  ${shown}`
      yield `# ok ${index + 1} ${shown}`
    }
  }
  if (!complete) return
  const count = (wanted: SubtestOutcome) => results.filter(([, outcome]) => outcome === wanted).length
  const [pass, fail, skip] = [count('pass'), count('fail'), count('skip')]
  if (harness) yield `# # ${fail > 0 ? 'FAILED' : 'PASSED'}: ${pass + skip} / ${results.length} tests passed.`
  yield `# # Totals: pass:${pass} fail:${fail} xfail:0 xpass:0 skip:${skip} error:0`
}

function * assertionBlock (assertion: Assertion, rng: Rng): Generator<string> {
  const pid = 1000 + rng.int(60_000)
  yield '# ==== Test Assertion Failure ===='
  yield `#   ${assertion.at}: ${assertion.expression}`
  yield `#   pid=${pid} tid=${pid} errno=${assertion.errno} - ${ERRNO_TEXT[assertion.errno] ?? 'Unknown error'}`
  const frames = [...assertion.frames, `main at ${assertion.at.split('/').pop()!.split(':')[0]}:${200 + rng.int(300)}`, '?? ??:0', '?? ??:0', '_start at ??:?']
  for (const [i, frame] of frames.entries()) {
    // the test binary is mapped low, libc high
    const address = frame.startsWith('??') ? `00007f${hex(rng, 10)}` : `0000000000${(0x400000 + rng.int(0x20000)).toString(16)}`
    yield `#      ${i + 1}\t0x${address}: ${frame}`
  }
  yield `#   ${assertion.message}`
}

const ERRNO_TEXT: Readonly<Record<number, string>> = {
  0: 'Success', 4: 'Interrupted system call', 5: 'Input/output error', 11: 'Resource temporarily unavailable',
  12: 'Cannot allocate memory', 14: 'Bad address', 16: 'Device or resource busy', 17: 'File exists',
  19: 'No such device', 22: 'Invalid argument',
}

/** Fixed-width progress lines: every line of one test has the same length, so a log's size can be planned exactly. */
function * fillerLines (test: TestSpec, rng: Rng): Generator<string> {
  const count = test.fillerLines ?? 0
  for (let i = 0; i < count; i++) {
    yield `# ${test.name}: iteration ${String(i).padStart(8, '0')}: gpa 0x${hex(rng, 16)} npages 0x${hex(rng, 4)} done`
  }
}

function * kernelWarning (run: RunContext, rng: Rng, comm: string): Generator<string> {
  const x86 = run.arch === 'x86_64'
  const pid = 1000 + rng.int(60_000)
  const cpu = rng.int(16)
  const site = x86 ? 'arch/x86/kvm/mmu/mmu.c:4448 kvm_mmu_page_fault+0x61e/0x6d0 [kvm]' : 'arch/arm64/kvm/mmu.c:1472 user_mem_abort+0x6a4/0x8c0'
  const lines = [
    '------------[ cut here ]------------',
    `WARNING: CPU: ${cpu} PID: ${pid} at ${site}`,
    `Modules linked in: ${x86 ? 'kvm_intel kvm irqbypass' : 'kvm'} vfio_iommu_type1 vfio fuse`,
    `CPU: ${cpu} PID: ${pid} Comm: ${comm.slice(0, 15)} Not tainted ${run.kernel} #1`,
    `Hardware name: ${run.hardware}`,
    ...(x86 ? ['RIP: 0010:kvm_mmu_page_fault+0x61e/0x6d0 [kvm]', 'Call Trace:', ' <TASK>'] : ['pc : user_mem_abort+0x6a4/0x8c0', 'Call trace:']),
    ...(x86 ? X86_FAULT_FRAMES : ARM_FAULT_FRAMES),
    ...(x86 ? [' </TASK>'] : []),
    `---[ end trace ${hex(rng, 16)} ]---`,
  ]
  for (const line of lines) yield `${run.stamp(rng)} ${line}`
}

function * kernelPanic (run: RunContext, rng: Rng, comm: string): Generator<string> {
  const x86 = run.arch === 'x86_64'
  const pid = 1000 + rng.int(60_000)
  const cpu = rng.int(16)
  const lines = x86
    ? [
        `BUG: unable to handle page fault for address: ffffc900${hex(rng, 8)}`,
        '#PF: supervisor read access in kernel mode',
        '#PF: error_code(0x0000) - not-present page',
        'Oops: 0000 [#1] PREEMPT SMP NOPTI',
        `CPU: ${cpu} PID: ${pid} Comm: ${comm.slice(0, 15)} Not tainted ${run.kernel} #1`,
        `Hardware name: ${run.hardware}`,
        'RIP: 0010:kvm_gmem_get_pfn+0x8c/0x1a0 [kvm]',
        'Call Trace:',
        ' <TASK>',
        ...X86_FAULT_FRAMES,
        ' </TASK>',
      ]
    : [
        `Unable to handle kernel paging request at virtual address ${hex(rng, 16)}`,
        'Internal error: Oops: 0000000096000004 [#1] PREEMPT SMP',
        `CPU: ${cpu} PID: ${pid} Comm: ${comm.slice(0, 15)} Not tainted ${run.kernel} #1`,
        `Hardware name: ${run.hardware}`,
        'pc : kvm_gmem_get_pfn+0x78/0x1b0',
        'Call trace:',
        ...ARM_FAULT_FRAMES,
      ]
  for (const line of [...lines, `---[ end trace ${hex(rng, 16)} ]---`, 'Kernel panic - not syncing: Fatal exception', '---[ end Kernel panic - not syncing: Fatal exception ]---']) {
    yield `${run.stamp(rng)} ${line}`
  }
}

/** Console chatter that is no trouble: it stays in the raw log and must not flag the test. */
function benignConsoleLine (run: RunContext, rng: Rng, comm: string): string {
  const pid = 1000 + rng.int(60_000)
  return run.arch === 'x86_64'
    ? `x86/split lock detection: #AC: ${comm.slice(0, 15)}/${pid} took a split_lock trap at address: 0x40${hex(rng, 4)}`
    : `kvm [${pid}]: Unsupported guest sys_reg access at: 40${hex(rng, 4)} [00000005]`
}

const X86_FAULT_FRAMES = [
  ' kvm_mmu_faultin_pfn+0x2f1/0x6a0 [kvm]', ' kvm_tdp_page_fault+0x9f/0x130 [kvm]', ' kvm_mmu_page_fault+0x8b/0x6d0 [kvm]',
  ' vcpu_enter_guest+0x9c5/0x1680 [kvm]', ' kvm_arch_vcpu_ioctl_run+0x2d6/0x620 [kvm]', ' kvm_vcpu_ioctl+0x23c/0x7a0 [kvm]',
  ' __x64_sys_ioctl+0x94/0xd0', ' do_syscall_64+0x5d/0x170', ' entry_SYSCALL_64_after_hwframe+0x6e/0x76',
]
const ARM_FAULT_FRAMES = [
  ' kvm_gmem_get_pfn+0x78/0x1b0', ' user_mem_abort+0x3c4/0x8c0', ' kvm_handle_guest_abort+0x2a4/0x5a0',
  ' handle_exit+0x70/0x1c8', ' kvm_arch_vcpu_ioctl_run+0x3d4/0x8a0', ' kvm_vcpu_ioctl+0x2b0/0x960',
  ' __arm64_sys_ioctl+0xb4/0x100', ' invoke_syscall+0x50/0x120', ' el0_svc+0x3c/0x108', ' el0t_64_sync+0x190/0x198',
]

export interface ScaleOptions {
  seed: number
  /** The log's size in bytes; the result lands within a few hundred bytes of it (never below for targets above the unscaled size). */
  targetBytes: number
  arch?: Arch
  /** How many tests: the catalog's tests for the arch, then numbered copies of them (`guest_memfd_test_2`). */
  tests?: number
  /** Shares of tests that fail, skip and time out; the rest pass. Defaults 0.05, 0.1, 0.01. */
  failRate?: number
  skipRate?: number
  timeoutRate?: number
  /** Nested results added to every test, for a heavier nested-TAP workload. */
  extraSubtests?: number
}

/**
 * A spec for a log of about `targetBytes`: the catalog's memfd and kvm tests with seeded outcomes,
 * their output stretched by fixed-width progress lines. The benchmark streams it with
 * generateLogChunks, so even a 1 GB log is produced a chunk at a time.
 */
export function scaledLogSpec (options: ScaleOptions): LogSpec {
  const arch = options.arch ?? 'x86_64'
  const rng = new Rng(hashString(`${options.seed}|scale`))
  const catalog = catalogFor(arch)
  const count = options.tests ?? catalog.length
  const failRate = options.failRate ?? 0.05
  const skipRate = options.skipRate ?? 0.1
  const timeoutRate = options.timeoutRate ?? 0.01
  const tests: TestSpec[] = []
  for (let i = 0; i < count; i++) {
    const template = catalog[i % catalog.length]!
    const copy = Math.floor(i / catalog.length)
    const draw = rng.next()
    const outcome: TestOutcome = draw < failRate ? 'fail' : draw < failRate + skipRate ? 'skip' : draw < failRate + skipRate + timeoutRate ? 'timeout' : 'pass'
    tests.push({
      collection: template.collection,
      name: copy === 0 ? template.name : `${template.name}_${copy + 1}`,
      like: template.name,
      outcome,
      ...(options.extraSubtests ? { extraSubtests: options.extraSubtests } : {}),
    })
  }
  // memfd runs before kvm, as TARGETS="memfd kvm" orders them
  tests.sort((a, b) => (a.collection === b.collection ? 0 : a.collection === 'memfd' ? -1 : b.collection === 'memfd' ? 1 : 0))
  const spec: LogSpec = { seed: options.seed, tests, arch }
  const base = byteLength(spec)
  let remaining = options.targetBytes - base
  if (remaining <= 0) return spec
  const scaled = tests.map(test => ({ ...test }))
  for (const [i, test] of scaled.entries()) {
    const share = Math.ceil(remaining / (scaled.length - i))
    const lineBytes = fillerLineBytes(test.name)
    test.fillerLines = Math.ceil(share / lineBytes)
    remaining -= test.fillerLines * lineBytes
  }
  return { ...spec, tests: scaled }
}

function fillerLineBytes (name: string): number {
  // `# NAME: iteration 00000000: gpa 0x<16> npages 0x<4> done` and its newline
  return `# ${name}: iteration 00000000: gpa 0x0000000000000000 npages 0x0000 done`.length + 1
}

function byteLength (spec: LogSpec): number {
  let bytes = 0
  for (const chunk of generateLogChunks(spec)) bytes += Buffer.byteLength(chunk)
  return bytes
}

/** sfc32: small, fast, and good enough for synthetic text; seeded from a 32-bit hash. */
export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor (seed: number) {
    this.a = 0x9e3779b9
    this.b = 0x243f6a88
    this.c = 0xb7e15162
    this.d = seed >>> 0
    for (let i = 0; i < 12; i++) this.next()
  }

  /** A float in [0, 1). */
  next (): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return (t >>> 0) / 4294967296
  }

  /** An integer in [0, n). */
  int (n: number): number {
    return Math.floor(this.next() * n)
  }
}

/** FNV-1a, 32 bits: turns a seed and a test's name into the seed of that test's own randomness. */
export function hashString (text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

function hex (rng: Rng, digits: number): string {
  let out = ''
  while (out.length < digits) out += Math.floor(rng.next() * 0x10000).toString(16).padStart(4, '0')
  return out.slice(0, digits)
}
