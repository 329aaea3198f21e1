import { existsSync, readdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

/** The real kselftest logs beside the project (not in a user's clone). */
export const REAL_FIXTURES_DIR = resolve(PROJECT_ROOT, '../shared/fixtures/real')

/** A skip message for node:test when the real logs are absent, or false when they are here. */
export const realFixturesSkip: string | false = existsSync(REAL_FIXTURES_DIR)
  ? false
  : `${REAL_FIXTURES_DIR} is absent: real-log tests skipped`

export function realFixtureNames (): string[] {
  if (realFixturesSkip) return []
  return readdirSync(REAL_FIXTURES_DIR).filter(name => name.endsWith('.txt')).sort()
}

export function realFixturePath (name: string): string {
  return join(REAL_FIXTURES_DIR, name)
}

/** The project's own captured runs (test/fixtures/captured/SOURCES.md), part of every clone. */
export const CAPTURED_FIXTURES_DIR = resolve(PROJECT_ROOT, 'test/fixtures/captured')

export function capturedFixtureNames (): string[] {
  return readdirSync(CAPTURED_FIXTURES_DIR).filter(name => name.endsWith('.txt')).sort()
}

export function capturedFixturePath (name: string): string {
  return join(CAPTURED_FIXTURES_DIR, name)
}
