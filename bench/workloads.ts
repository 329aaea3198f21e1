/**
 * The logs the benchmark feeds the project, all from the demo's synthetic generator
 * (server/demo/log-generator.ts): memfd and kvm collections, nested KTAP and harness results,
 * output lines, skips, failures, timeouts, kernel console noise. Deterministic from a seed, and
 * written to disk a chunk at a time, so a 1 GB log never sits in memory whole.
 */
import { createReadStream, createWriteStream, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { join } from 'node:path'
import { Rng, generateLogChunks, scaledLogSpec, type LogSpec } from '../server/demo/log-generator.ts'
import type { Arch } from '../server/demo/test-catalog.ts'

export const OUT_DIR = join(import.meta.dirname, 'out')

/**
 * A whole `make run_tests` of memfd and kvm stretched to `targetBytes`: `tests` tests (the catalog's,
 * then numbered copies), a quarter of them printing 20 nested results more than their own, and the
 * rest of the bytes as each test's progress output. Real full runs carry about a result per few
 * KB (the net-forwarding attachment in fixtures/real: 1 173 results in 283 KB); this shape is
 * sparser in results and heavier in output, as the big kvm and memfd logs are.
 */
export function fullRunSpec (options: { seed: number, targetBytes: number, tests: number, arch?: Arch }): LogSpec {
  const spec = scaledLogSpec({ seed: options.seed, targetBytes: options.targetBytes, tests: options.tests, arch: options.arch })
  // "nested TAP in some tests": the extra nested lines add well under 1% to the size
  return { ...spec, tests: spec.tests.map((test, i) => (i % 4 === 3 ? { ...test, extraSubtests: 20 } : test)) }
}

/** The log shapes the ingest benchmark reads: today's sparse one, and two as dense in results as real full runs. */
export const LOG_SHAPES = ['sparse', 'dense-1k', 'dense-250'] as const
export type LogShape = (typeof LOG_SHAPES)[number]

/**
 * A run as dense in results as real full runs (fixtures/real's net-forwarding attachment: a result
 * every 240 bytes; kselftest runs of many small tests: one every 0.25-1 KB): every test prints 4
 * nested results more than its own, and progress lines pad the log to `bytesPerResult` a result.
 * Unpadded, this generator writes a result every ~87 bytes, so both shapes are padding, not noise.
 */
export function denseRunSpec (options: { seed: number, targetBytes: number, bytesPerResult: number, arch?: Arch }): LogSpec {
  const resultsPerTest = 5.26 // measured: 400 catalog tests with 4 extra subtests each carry 2 103 results
  const tests = Math.max(1, Math.round(options.targetBytes / options.bytesPerResult / resultsPerTest))
  return scaledLogSpec({ seed: options.seed, targetBytes: options.targetBytes, tests, extraSubtests: 4, arch: options.arch })
}

/** The spec of a benchmark log of `shape`. */
export function shapeSpec (shape: LogShape, options: { seed: number, targetBytes: number, tests: number }): LogSpec {
  if (shape === 'dense-1k') return denseRunSpec({ ...options, bytesPerResult: 1000 })
  if (shape === 'dense-250') return denseRunSpec({ ...options, bytesPerResult: 250 })
  return fullRunSpec(options)
}

/**
 * One run of the big store: `tests` tests with `subtests` nested results each (about
 * tests × (subtests + 1) results), outcomes drawn from the seed, no progress output.
 */
export function storeRunSpec (options: { seed: number, tests: number, subtests: number, arch: Arch }): LogSpec {
  return scaledLogSpec({
    seed: options.seed,
    targetBytes: 0,
    tests: options.tests,
    extraSubtests: options.subtests,
    arch: options.arch,
    failRate: 0.03,
    skipRate: 0.04,
    timeoutRate: 0.005,
  })
}

/**
 * The log of `spec` as a file in bench/out, written only when it is not there already: the name
 * carries every parameter, and a finished file is renamed into place, so a file of that name is
 * always whole.
 */
export async function logFile (name: string, spec: () => LogSpec): Promise<{ path: string, bytes: number, generatedMs: number }> {
  const path = join(OUT_DIR, `${name}.log`)
  if (existsSync(path)) return { path, bytes: statSync(path).size, generatedMs: 0 }
  const start = performance.now()
  const partial = `${path}.partial`
  const out = createWriteStream(partial)
  for (const chunk of generateLogChunks(spec(), { chunkBytes: 1 << 20 })) {
    if (!out.write(chunk)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
  renameSync(partial, path)
  return { path, bytes: statSync(path).size, generatedMs: performance.now() - start }
}

/** A file read the way `ksft ingest` reads it. */
export function readLog (path: string): AsyncIterable<Buffer> {
  return createReadStream(path)
}

/** A SQLite file and its WAL companions. */
export function removeDatabase (path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true })
}

/** Metadata of the runs the benchmark stores. */
export function benchMetadata (fields: { series?: string, version: string, machine: string, arch?: Arch, run?: number }): Record<string, string> {
  const meta: Record<string, string> = {
    series: fields.series ?? 'bench: synthetic memfd and kvm runs',
    version: fields.version,
    machine: fields.machine,
    arch: fields.arch ?? 'x86_64',
    kernel: `6.8.0-rc1-bench-${fields.version}`,
  }
  if (fields.run !== undefined) meta.job_url = `https://ci.example.org/ksft-bench/${fields.run}`
  return meta
}

/** A JSON sidecar in bench/out, for what a cached file was made with. */
export function readSidecar<T> (name: string): T | null {
  const path = join(OUT_DIR, `${name}.json`)
  if (!existsSync(path)) return null
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T
  } catch {
    return null
  }
}

export function writeSidecar (name: string, value: unknown): void {
  writeFileSync(join(OUT_DIR, `${name}.json`), `${JSON.stringify(value, null, 2)}\n`)
}

/** Deterministic shuffling for the order queries are sent in. */
export function shuffled<T> (items: readonly T[], seed: number): T[] {
  const rng = new Rng(seed)
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    ;[copy[i], copy[j]] = [copy[j]!, copy[i]!]
  }
  return copy
}
