import type { Arch } from '../server/demo/test-catalog.ts'

/** The big store of measurements 3 and 6: one series, its versions, its machines, and runs of a fixed size. */
export interface StoreShape {
  runs: number
  versions: number
  machines: number
  /** Tests per run, each with `subtests` nested results: about tests × (subtests + 1) results a run. */
  tests: number
  subtests: number
  /** Runs after which a copy of the store is kept, to measure queries on a smaller store of the same shape. */
  snapshotRuns: number
}

export const STORE_SERIES = 'bench: KVM guest private memory, twenty versions'

const MACHINES: ReadonlyArray<{ name: string, arch: Arch }> = [
  { name: 'x86-tdx-1', arch: 'x86_64' },
  { name: 'arm64-1', arch: 'aarch64' },
  { name: 'x86-snp-1', arch: 'x86_64' },
  { name: 'arm64-2', arch: 'aarch64' },
]

export function versionLabels (shape: StoreShape): string[] {
  return Array.from({ length: shape.versions }, (_, i) => (i === 0 ? 'base' : `v${i}`))
}

export function machinesOf (shape: StoreShape): Array<{ name: string, arch: Arch }> {
  return Array.from({ length: shape.machines }, (_, i) => {
    const machine = MACHINES[i % MACHINES.length]!
    return i < MACHINES.length ? machine : { ...machine, name: `${machine.name}-${Math.floor(i / MACHINES.length) + 1}` }
  })
}

/**
 * Run `index` of the store. Runs go round the versions, then the machines, so that any first tenth
 * of the store already has every version on every machine: the smaller store measured along the
 * way has the same shape as the whole, only fewer runs of each.
 */
export function runPlan (shape: StoreShape, index: number): { version: string, machine: string, arch: Arch, seed: number } {
  const version = versionLabels(shape)[index % shape.versions]!
  const machine = machinesOf(shape)[Math.floor(index / shape.versions) % shape.machines]!
  return { version, machine: machine.name, arch: machine.arch, seed: index + 1 }
}
