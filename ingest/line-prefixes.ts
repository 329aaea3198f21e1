/**
 * Text a harness put in front of every line of a log it captured: a time stamp, a logger tag, a
 * paste's indentation. The family is chosen by the log's first non-empty line, which comes before
 * any test could print anything, and a line is stripped only of a prefix of that family: a test's
 * own output behind the runner's `# ` is never touched, and lines without the prefix (wrapped
 * continuations) are read as they are. The raw log keeps every byte.
 *
 * Every pattern is anchored with bounded quantifiers: linear on any line.
 */
export interface PrefixFamily {
  /** For the warning: what the prefix is, with an example. */
  description: string
  /** True when the family's prefixes are not the harness's own record but a paste's damage. */
  reconstructed: boolean
  /** The prefix's length at the start of `line`, or 0. */
  length (line: string): number
}

function patternFamily (description: string, pattern: RegExp): PrefixFamily {
  return {
    description,
    reconstructed: false,
    length: line => pattern.exec(line)?.[0].length ?? 0,
  }
}

const FAMILIES: PrefixFamily[] = [
  // GitHub Actions (7 fraction digits), moreutils' ts, many CI systems
  patternFamily('an ISO 8601 time (`2024-05-01T10:22:33.1234567Z `)', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})? /),
  patternFamily('a bracketed date and time (`[2024-05-01 10:22:33] `)', /^\[\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?\] /),
  // autotest's logger: `18:56:54 DEBUG| [stdout] `
  patternFamily('a time and a logger tag (`18:56:54 DEBUG| [stdout] `)', /^\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})? [A-Z]{4,8} ?\| (?:\[std(?:out|err)\] )?/),
  // LAVA and other consoles' own stamps; printk's have six decimals and are the kernel's (trouble.ts)
  patternFamily('a console time stamp (`[ 12.345] `)', /^\[ {0,12}\d{1,12}\.(?:\d{1,5}|\d{7,9})\] /),
]

/** Whether a line (behind any prefix) is one of kselftest's own: what a log starts with. */
const KSELFTEST_START = /^(?:K?TAP version \d|1\.\.\d|# selftests: |selftests: |(?:not )?ok \d|# )/

/** The family of prefix the first non-empty line of a log carries, or null. */
export function detectPrefixFamily (firstLine: string): PrefixFamily | null {
  for (const family of FAMILIES) {
    if (family.length(firstLine) > 0) return family
  }
  // a paste indented by a constant amount (a mail, a commit message): only when a kselftest line
  // follows the indentation, which a log's own first line never has
  let indent = 0
  while (indent < firstLine.length && indent < 16 && (firstLine.charCodeAt(indent) === 32 || firstLine.charCodeAt(indent) === 9)) indent++
  if (indent > 0 && KSELFTEST_START.test(firstLine.slice(indent))) return indentation(firstLine.slice(0, indent))
  return null
}

function indentation (prefix: string): PrefixFamily {
  const shown = prefix.replace(/\t/g, '\\t')
  return {
    description: `an indentation of ${prefix.length} (\`${shown}\`)`,
    reconstructed: true,
    length (line) {
      // as much of the indentation as the line has: blank lines and shallower ones lose what they have
      let n = 0
      while (n < prefix.length && line.charCodeAt(n) === prefix.charCodeAt(n)) n++
      return n
    },
  }
}
