import { createHash } from 'node:crypto'
import type { TokenInfo, TokenScope } from './rows.ts'

/** A row of `tokens`, the same columns in both backends. */
export interface TokenRow {
  id: number
  name: string
  secret_sha256: string
  scopes: string
  created_at: string
  last_used_at: string | null
  revoked_at: string | null
}

// `ksft_<id>_<secret>`: the id finds the row, the secret is compared in constant time
export const TOKEN_FORMAT = /^ksft_(\d{1,12})_([A-Za-z0-9_-]{43})$/

/** What the store keeps of a secret: its SHA-256, never the secret. */
export function sha256 (text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

export function tokenInfo (row: TokenRow): TokenInfo {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes.split(',') as TokenScope[],
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  }
}
