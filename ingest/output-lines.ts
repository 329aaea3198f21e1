/** A line a test printed, with one level of the runner's `# ` prefix removed. */
export interface OutputLine {
  no: number
  text: string
  /** False for lines that reached the log without the runner's prefix (wrapped, transformed). */
  prefixed: boolean
}
