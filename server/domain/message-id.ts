/**
 * Message-IDs of mails on a mailing list (a version's cover letter, a patch), as lore.kernel.org
 * finds them: written without the angle brackets of the mail header.
 */

/** A Message-ID without its angle brackets: one `@`, no spaces. */
const MESSAGE_ID = /^[^\s<>@]+@[^\s<>@]+$/

export const MESSAGE_ID_EXAMPLE = '20231105163040.14904-1-pbonzini@redhat.com'

/** The Message-ID without `<` `>`, or null when the text is not one. */
export function normalizeMessageId (text: string): string | null {
  const bare = text.trim().replace(/^<|>$/g, '')
  return MESSAGE_ID.test(bare) ? bare : null
}

/** The mail on lore.kernel.org, which finds any list's mail by its Message-ID alone. */
export function loreUrl (messageId: string | null): string | null {
  return messageId === null ? null : `https://lore.kernel.org/r/${encodeURIComponent(messageId)}`
}
