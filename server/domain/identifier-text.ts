/**
 * Text that names things (series, versions, machines, collections) must look like what it is:
 * NFKC folds compatibility look-alikes (full-width `ｖ7`, ligatures, no-break spaces) into their
 * plain forms, and characters that change how text displays without being seen (bidi controls,
 * zero-width characters, other format characters) or that a terminal acts on (control
 * characters) are refused, with the field and the character named.
 */

/** Names of the characters an uploader most likely meets; others are named by their category. */
const CHARACTER_NAMES: Record<number, string> = {
  0x0000: 'NULL',
  0x0009: 'CHARACTER TABULATION',
  0x000a: 'LINE FEED',
  0x000d: 'CARRIAGE RETURN',
  0x001b: 'ESCAPE',
  0x007f: 'DELETE',
  0x00ad: 'SOFT HYPHEN',
  0x061c: 'ARABIC LETTER MARK',
  0x180e: 'MONGOLIAN VOWEL SEPARATOR',
  0x200b: 'ZERO WIDTH SPACE',
  0x200c: 'ZERO WIDTH NON-JOINER',
  0x200d: 'ZERO WIDTH JOINER',
  0x200e: 'LEFT-TO-RIGHT MARK',
  0x200f: 'RIGHT-TO-LEFT MARK',
  0x202a: 'LEFT-TO-RIGHT EMBEDDING',
  0x202b: 'RIGHT-TO-LEFT EMBEDDING',
  0x202c: 'POP DIRECTIONAL FORMATTING',
  0x202d: 'LEFT-TO-RIGHT OVERRIDE',
  0x202e: 'RIGHT-TO-LEFT OVERRIDE',
  0x2060: 'WORD JOINER',
  0x2066: 'LEFT-TO-RIGHT ISOLATE',
  0x2067: 'RIGHT-TO-LEFT ISOLATE',
  0x2068: 'FIRST STRONG ISOLATE',
  0x2069: 'POP DIRECTIONAL ISOLATE',
  0xfeff: 'ZERO WIDTH NO-BREAK SPACE',
}

// Cc: control characters; Cf: format characters (bidi controls, zero-width ones, soft hyphen, tags);
// Cs: lone surrogates; and the few invisible characters Unicode files elsewhere (Hangul fillers,
// the Mongolian vowel separator, the Braille blank)
const REFUSED = /[\p{Cc}\p{Cf}\p{Cs}\u115f\u1160\u180e\u2800\u3164\uffa0]/u

function codePoint (char: string): string {
  return `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`
}

/** `U+200B ZERO WIDTH SPACE`, or the code point and its kind. */
export function describeCharacter (char: string): string {
  const name = CHARACTER_NAMES[char.codePointAt(0)!]
  if (name) return `${codePoint(char)} ${name}`
  if (/\p{Cc}/u.test(char)) return codePoint(char)
  if (/\p{Cf}/u.test(char)) return `${codePoint(char)}, an invisible format character`
  if (/\p{Cs}/u.test(char)) return `${codePoint(char)}, half of a surrogate pair`
  return `${codePoint(char)}, an invisible character`
}

/** What is wrong with `text`'s first refused character ("contains ..."), or null when it has none. */
export function refusedCharacterProblem (text: string): string | null {
  const m = REFUSED.exec(text)
  if (!m) return null
  return /\p{Cc}/u.test(m[0]) ? `contains control characters (${describeCharacter(m[0])})` : `contains ${describeCharacter(m[0])}`
}

/** NFKC, trimmed, with runs of white space as one space (identifiers only: free text keeps its spacing). */
export function foldIdentifier (text: string): string {
  return text.normalize('NFKC').trim().replace(/\s+/g, ' ')
}
