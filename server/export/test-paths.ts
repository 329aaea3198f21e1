import { createHash } from 'node:crypto'
import type { SubtestRecord, TestRecord } from '../../ingest/index.ts'

/**
 * Dot-separated test paths for the formats other systems read (KCIDB `path`, JUnit `classname`).
 * Each component matches `[a-zA-Z0-9_-]+`, as KCIDB v5 requires, so the names a log really has
 * (`net/forwarding`, `router_multipath.sh`, `fixture.test` of a harness run directly, descriptions
 * with spaces from `# TEST:` lines) are slugged, and the path stays unique within the run.
 */

export const PATH_ROOT = 'kselftest'

const VALID_COMPONENT = /^[a-zA-Z0-9_-]+$/
const OTHER_CHARACTERS = /[^a-zA-Z0-9_-]+/g
/** Long descriptions make unwieldy paths; a cut name is told apart by its hash like any other slug. */
const MAX_COMPONENT = 100

export interface PathedResult {
  /** The original names from the collection down: `['net/forwarding', 'router.sh', 'IPv4 ping']`. */
  names: string[]
  /** The slugged components from the collection down, without the `kselftest` root. */
  components: string[]
  /** `kselftest.<collection>.<test>[.<subtest>...]`. */
  path: string
  test: TestRecord
  /** The subtest, or null for the test itself. */
  subtest: SubtestRecord | null
  depth: number
}

/** A readable stand-in for a name; `exact` when the name was a valid component already. */
export function slugComponent (name: string): { slug: string, exact: boolean } {
  if (VALID_COMPONENT.test(name) && name.length <= MAX_COMPONENT) return { slug: name, exact: true }
  const slug = name.replace(OTHER_CHARACTERS, '_').replace(/^_+|_+$/g, '').slice(0, MAX_COMPONENT)
  return { slug: slug === '' ? '_' : slug, exact: false }
}

function compare (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function shortHash (name: string): string {
  return createHash('sha256').update(name).digest('hex').slice(0, 8)
}

/**
 * Components for a set of sibling names, unique among them. A name keeps its plain slug unless a
 * sibling's slug is the same; then every slugged member of that group gets `-<hash of its original
 * name>`, so the suffix depends on the name alone and not on the order results arrived in, and a
 * name that was a valid component already never changes.
 */
export function siblingComponents (names: readonly string[]): Map<string, string> {
  const bySlug = new Map<string, Array<{ name: string, exact: boolean }>>()
  for (const name of new Set(names)) {
    const { slug, exact } = slugComponent(name)
    const group = bySlug.get(slug) ?? []
    group.push({ name, exact })
    bySlug.set(slug, group)
  }
  const components = new Map<string, string>()
  const pending: Array<{ name: string, candidate: string }> = []
  for (const [slug, group] of bySlug) {
    for (const { name, exact } of group) {
      if (exact) components.set(name, slug)
      else pending.push({ name, candidate: group.length === 1 ? slug : `${slug}-${shortHash(name)}` })
    }
  }
  // a hashed slug could still meet a sibling spelled that way on purpose, or another hash: number
  // the later ones, in the order of their original names so that two exports agree
  const taken = new Set(components.values())
  pending.sort((a, b) => compare(a.candidate, b.candidate) || compare(a.name, b.name))
  for (const { name, candidate } of pending) {
    let component = candidate
    for (let n = 2; taken.has(component); n++) component = `${candidate}-${n}`
    taken.add(component)
    components.set(name, component)
  }
  return components
}

/**
 * Every test and subtest of a run with its path, depth first in the run's order (a test before
 * its subtests). Paths are unique within the run and are the same for the same results.
 */
export function pathedResults (tests: readonly TestRecord[]): PathedResult[] {
  const out: PathedResult[] = []
  const collections = siblingComponents(tests.map(test => test.collection))
  const testsByCollection = new Map<string, TestRecord[]>()
  for (const test of tests) {
    const list = testsByCollection.get(test.collection) ?? []
    list.push(test)
    testsByCollection.set(test.collection, list)
  }
  const testComponents = new Map<string, Map<string, string>>()
  for (const [collection, list] of testsByCollection) {
    testComponents.set(collection, siblingComponents(list.map(test => test.name)))
  }

  const visit = (test: TestRecord, subtests: readonly SubtestRecord[], names: string[], components: string[]): void => {
    const slugs = siblingComponents(subtests.map(subtest => subtest.name))
    for (const subtest of subtests) {
      const subNames = [...names, subtest.name]
      const subComponents = [...components, slugs.get(subtest.name)!]
      out.push({ names: subNames, components: subComponents, path: joinPath(subComponents), test, subtest, depth: subNames.length - 2 })
      visit(test, subtest.subtests, subNames, subComponents)
    }
  }
  for (const test of tests) {
    const names = [test.collection, test.name]
    const components = [collections.get(test.collection)!, testComponents.get(test.collection)!.get(test.name)!]
    out.push({ names, components, path: joinPath(components), test, subtest: null, depth: 0 })
    visit(test, test.subtests, names, components)
  }
  return out
}

export function joinPath (components: readonly string[]): string {
  return [PATH_ROOT, ...components].join('.')
}
