/** A line a test printed, with one level of the runner's `# ` prefix removed. */
export interface OutputLine {
  no: number
  text: string
  /** False for lines that reached the log without the runner's prefix (wrapped, transformed). */
  prefixed: boolean
}

/**
 * A test's own lines (those behind the runner's `# `, with it removed) and their line numbers, side
 * by side: what nested results are read from. Most tests of a dense log pass with a few nested
 * results; an object per line cost them more than reading the results did.
 */
export interface OwnLines {
  texts: string[]
  nos: number[]
}

/** Lines `from` to `to` (exclusive) of `own` as OutputLines, for the readers of reasons. */
export function ownOutput (own: OwnLines, from = 0, to = own.texts.length): OutputLine[] {
  const lines: OutputLine[] = []
  for (let i = from; i < to; i++) lines.push({ no: own.nos[i]!, text: own.texts[i]!, prefixed: true })
  return lines
}

/**
 * A net/forwarding style `TEST: description   [ OK ]` line taken apart by hand: the description
 * (trimmed at its end) and the word in the last brackets, or null. The regex it replaces,
 * `^\s*TEST: (.+?)\s*\[\s*[A-Z]+\s*\]\s*$`, took time quadratic in the padding.
 */
export function splitTestLine (text: string): { name: string, verdict: string } | null {
  const at = text.indexOf('TEST: ')
  if (at === -1 || text.slice(0, at).trim() !== '') return null
  const end = text.trimEnd()
  if (!end.endsWith(']')) return null
  const open = end.lastIndexOf('[')
  if (open <= at + 6) return null
  const verdict = end.slice(open + 1, -1).trim()
  if (!/^[A-Z]+$/.test(verdict)) return null
  return { name: end.slice(at + 6, open).trimEnd(), verdict }
}
