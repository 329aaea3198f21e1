/**
 * A test's own lines of the raw log, read in windows and cut to a size other formats accept.
 */

/** Reads lines `from`..`to` (1-based, inclusive) of one run's raw log. */
export type LineSource = (from: number, to: number) => string[]

/** Lines read per query when a test asks for fewer: results follow each other in the log. */
const WINDOW_LINES = 8192

/**
 * A reader that keeps the last window of lines: tests and their subtests ask for ranges in log
 * order, so one inflated chunk serves many of them instead of being inflated once per subtest.
 */
export class LineWindow {
  private from = 1
  private lines: string[] = []

  constructor (private readonly source: LineSource, private readonly windowLines = WINDOW_LINES) {}

  read (from: number, to: number): string[] {
    if (to < from) return []
    const cachedTo = this.from + this.lines.length - 1
    if (from < this.from || to > cachedTo) {
      this.from = from
      this.lines = this.source(from, Math.max(to, from + this.windowLines - 1))
    }
    return this.lines.slice(from - this.from, to - this.from + 1)
  }
}

/**
 * The last lines of a range that fit in `maxChars` characters, joined by newlines, with a first
 * line saying how many were cut. The end of a test's output (its failure, its result) is what
 * explains it, so the beginning goes. NUL characters go too: KCIDB forbids them in strings.
 */
export function tailExcerpt (window: LineWindow, range: readonly [number, number], maxChars: number, where = 'the raw log'): string {
  const [from, to] = range
  // every line costs at least its newline, so no more lines than characters can fit
  const first = Math.max(from, to - maxChars + 1)
  const lines = window.read(first, to).map(line => line.replaceAll('\u0000', ''))
  const skippedBefore = first - from
  const whole = lines.join('\n')
  if (skippedBefore === 0 && whole.length <= maxChars) return whole

  const kept: string[] = []
  let size = 0
  for (let i = lines.length - 1; i >= 0; i--) {
    const cut = skippedBefore + i
    const marker = cutMarker(cut, where)
    const line = lines[i]!
    const extra = line.length + (kept.length > 0 ? 1 : 0)
    if (size + extra + marker.length + 1 > maxChars) {
      if (kept.length === 0) {
        // one line longer than the whole excerpt: keep its end
        const room = Math.max(0, maxChars - marker.length - 1)
        return `${marker}\n${safeTail(line, room)}`
      }
      return `${cutMarker(cut + 1, where)}\n${kept.reverse().join('\n')}`
    }
    kept.push(line)
    size += extra
  }
  return skippedBefore > 0 ? `${cutMarker(skippedBefore, where)}\n${kept.reverse().join('\n')}` : kept.reverse().join('\n')
}

function cutMarker (lines: number, where: string): string {
  return `[ksft: ${lines} earlier line${lines === 1 ? '' : 's'} of this test cut; ${where} has them all]`
}

/** The last `room` UTF-16 units of a line, never starting inside a surrogate pair. */
function safeTail (line: string, room: number): string {
  if (line.length <= room) return line
  let start = line.length - room
  const code = line.charCodeAt(start)
  if (code >= 0xdc00 && code <= 0xdfff) start++
  return line.slice(start)
}
