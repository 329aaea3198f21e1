import { KsftError } from '../errors.ts'

/**
 * Keyset pagination: a cursor is the sort key of the last item of a page, opaque to clients
 * (base64url JSON). Keys rather than offsets, so that a run uploaded between two pages neither
 * repeats nor skips an item that sorts before the cursor.
 */
export type CursorKey = Array<string | number | string[]>

export function encodeCursor (key: CursorKey): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url')
}

/**
 * The key of a cursor whose items have the given types ('s' string, 'n' number, 'a' array of
 * strings), or a 400 naming the parameter: a cursor of another list or a mangled one is refused
 * rather than read as the first page.
 */
export function decodeCursor (cursor: string | undefined, types: string): CursorKey | null {
  if (cursor === undefined) return null
  let key: unknown
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    key = undefined
  }
  const fits = Array.isArray(key) && key.length === types.length && key.every((item: unknown, i) => {
    switch (types[i]) {
      case 's': return typeof item === 'string'
      case 'n': return typeof item === 'number' && Number.isFinite(item)
      case 'a': return Array.isArray(item) && item.every(part => typeof part === 'string')
      default: return false
    }
  })
  if (!fits) throw new KsftError('BAD_REQUEST', 'cursor: not a cursor this list gave; start again without one')
  return key as CursorKey
}

/** Orders subtest paths depth first: a test, then each subtest followed by its own subtests. */
export function comparePaths (a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1
  }
  return a.length - b.length
}

export function compareStrings (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
