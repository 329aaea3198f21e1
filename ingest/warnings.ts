/**
 * What the parser has to say about a log, bounded: a log of one result line repeated a million
 * times once gave a million warnings (a 76 MB run answer, issue 12). Each kind keeps its first
 * `perKind` warnings and then counts; a warning about one thing (a test reported again) is said
 * once for that thing, with how many more times it happened.
 */
export const WARNINGS_PER_KIND = 20

export type WarningKind =
  | 'long_line'
  | 'output_capped'
  | 'nested'
  | 'reported_again'
  | 'plan'
  | 'loose_trouble'
  | 'format'

/** How each kind is named in the closing "… and N more" line. */
const KIND_WORDS: Record<WarningKind, string> = {
  long_line: 'long-line',
  output_capped: 'output-length',
  nested: 'nested-result',
  reported_again: 'reported-again',
  plan: 'plan',
  loose_trouble: 'kernel-trouble',
  format: 'format',
}

interface Kept {
  text: string
  /** Further occurrences of the same subject, said at the end. */
  again: number
  againWords: string
}

export class WarningList {
  private readonly kept: Kept[] = []
  private readonly perKind = new Map<WarningKind, number>()
  private readonly dropped = new Map<WarningKind, number>()
  private readonly bySubject = new Map<string, Kept>()

  constructor (private readonly limit = WARNINGS_PER_KIND) {}

  /**
   * `subject`, when given, names what the warning is about: a second warning about the same
   * subject is counted into the first (`again` says how, as in "reported again 3 more times").
   */
  add (kind: WarningKind, text: () => string, subject?: string, againWords = 'more times'): void {
    if (subject !== undefined) {
      const first = this.bySubject.get(`${kind}\u0000${subject}`)
      if (first) {
        first.again++
        return
      }
    }
    const count = this.perKind.get(kind) ?? 0
    if (count >= this.limit) {
      this.dropped.set(kind, (this.dropped.get(kind) ?? 0) + 1)
      return
    }
    this.perKind.set(kind, count + 1)
    const kept: Kept = { text: text(), again: 0, againWords }
    this.kept.push(kept)
    if (subject !== undefined) this.bySubject.set(`${kind}\u0000${subject}`, kept)
  }

  list (): string[] {
    const out = this.kept.map(kept => kept.again === 0 ? kept.text : `${kept.text} (and ${kept.again} ${kept.againWords})`)
    for (const [kind, n] of this.dropped) out.push(`… and ${n} more ${KIND_WORDS[kind]} warning${n === 1 ? '' : 's'}`)
    return out
  }
}
