import { USERSPACE_HINT_ANYWHERE } from './trouble.ts'

/**
 * Where, in one push() text, the things are that make a line more than a test's plain output: a
 * `[` (a kernel stamp may start there), a `\r` (a console's line end, or a cut in the line), a sign
 * of userspace trouble (`Aborted`, `Assertion`, `Segmentation`) and a `TEST: ` line. Each is
 * looked for from where the last one was found, so the whole text is scanned once for each
 * whatever the lines: the parser then reads most lines of a log from their first three characters
 * and these positions, without cutting them out of the text as strings of their own.
 */
export class PlainLineScan {
  private bracket = -1
  private carriageReturn = -1
  private trouble = -1
  private testLine = -1

  constructor (private readonly text: string) {}

  /**
   * Whether text[from, to) holds none of `[`, `\r` or a sign of userspace trouble. `to` is the
   * line's end without the `\r`s before its newline, which every line end may have.
   */
  isPlain (from: number, to: number): boolean {
    if (this.bracket !== Infinity && this.bracket < from) this.bracket = found(this.text.indexOf('[', from))
    if (this.bracket < to) return false
    if (this.carriageReturn !== Infinity && this.carriageReturn < from) this.carriageReturn = found(this.text.indexOf('\r', from))
    if (this.carriageReturn < to) return false
    if (this.trouble !== Infinity && this.trouble < from) {
      USERSPACE_HINT_ANYWHERE.lastIndex = from
      this.trouble = found(USERSPACE_HINT_ANYWHERE.exec(this.text)?.index ?? -1)
    }
    return this.trouble >= to
  }

  /** Whether `TEST: ` occurs in text[from, to). */
  hasTestLine (from: number, to: number): boolean {
    if (this.testLine !== Infinity && this.testLine < from) this.testLine = found(this.text.indexOf('TEST: ', from))
    return this.testLine + 6 <= to
  }
}

/** indexOf's -1 as "nowhere further": a search that found nothing is not repeated. */
function found (at: number): number {
  return at === -1 ? Infinity : at
}
