import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Database } from 'better-sqlite3'

export const TOKEN_SCOPES = ['upload', 'admin'] as const
export type TokenScope = (typeof TOKEN_SCOPES)[number]

export interface TokenInfo {
  id: number
  name: string
  scopes: TokenScope[]
  createdAt: string
  lastUsedAt: string | null
  revokedAt: string | null
}

interface TokenRow {
  id: number
  name: string
  secret_sha256: string
  scopes: string
  created_at: string
  last_used_at: string | null
  revoked_at: string | null
}

// `ksft_<id>_<secret>`: the id finds the row, the secret is compared in constant time
const TOKEN_FORMAT = /^ksft_(\d{1,12})_([A-Za-z0-9_-]{43})$/

function sha256 (text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

export class TokenStore {
  private readonly statements

  constructor (db: Database, private readonly clock: () => Date = () => new Date()) {
    this.statements = {
      insert: db.prepare('INSERT INTO tokens (name, secret_sha256, scopes, created_at) VALUES (?, ?, ?, ?)'),
      byId: db.prepare('SELECT * FROM tokens WHERE id = ?'),
      byName: db.prepare('SELECT * FROM tokens WHERE name = ?'),
      all: db.prepare('SELECT * FROM tokens ORDER BY id'),
      revoke: db.prepare('UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL'),
      touch: db.prepare('UPDATE tokens SET last_used_at = ? WHERE id = ?'),
    }
  }

  /** Creates a token and returns it; this is the only time the whole token exists. */
  create (name: string, scopes: TokenScope[]): { token: string, info: TokenInfo } {
    if (this.statements.byName.get(name)) throw new Error(`a token named "${name}" exists already`)
    const secret = randomBytes(32).toString('base64url')
    const id = Number(this.statements.insert.run(name, sha256(secret).toString('hex'), scopes.join(','), this.clock().toISOString()).lastInsertRowid)
    return { token: `ksft_${id}_${secret}`, info: info(this.statements.byId.get(id) as TokenRow) }
  }

  list (): TokenInfo[] {
    return (this.statements.all.all() as TokenRow[]).map(info)
  }

  revoke (name: string): boolean {
    return this.statements.revoke.run(this.clock().toISOString(), name).changes > 0
  }

  /** The live token a presented string names, or null; records when it was last used. */
  verify (presented: string): TokenInfo | null {
    const m = TOKEN_FORMAT.exec(presented)
    if (!m) return null
    const row = this.statements.byId.get(Number(m[1])) as TokenRow | undefined
    if (!row || row.revoked_at !== null) return null
    const expected = Buffer.from(row.secret_sha256, 'hex')
    if (!timingSafeEqual(expected, sha256(m[2]!))) return null
    this.statements.touch.run(this.clock().toISOString(), row.id)
    return info(row)
  }
}

function info (row: TokenRow): TokenInfo {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes.split(',') as TokenScope[],
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  }
}
