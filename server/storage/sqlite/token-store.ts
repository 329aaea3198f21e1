import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { Database } from 'better-sqlite3'
import type { TokenInfo, TokenScope } from '../rows.ts'
import { sha256, TOKEN_FORMAT, tokenInfo, type TokenRow } from '../token-rows.ts'

export class TokenStore {
  private readonly statements
  /** When each token was last used and not yet written: see flushLastUsed. */
  private readonly lastUsed = new Map<number, string>()
  private readonly touchAll

  /**
   * `writeDb`: the connection `last_used_at` is written through (the app's write connection, whose
   * busy timeout is 0), when not `db`.
   */
  constructor (db: Database, private readonly clock: () => Date = () => new Date(), writeDb: Database = db) {
    const touch = writeDb.prepare('UPDATE tokens SET last_used_at = ? WHERE id = ?')
    this.touchAll = writeDb.transaction((entries: Array<[number, string]>) => {
      for (const [id, at] of entries) touch.run(at, id)
    })
    this.statements = {
      insert: db.prepare('INSERT INTO tokens (name, secret_sha256, scopes, created_at) VALUES (?, ?, ?, ?)'),
      byId: db.prepare('SELECT * FROM tokens WHERE id = ?'),
      byName: db.prepare('SELECT * FROM tokens WHERE name = ?'),
      all: db.prepare('SELECT * FROM tokens ORDER BY id'),
      revoke: db.prepare('UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL'),
    }
  }

  /** Creates a token and returns it; this is the only time the whole token exists. */
  create (name: string, scopes: TokenScope[]): { token: string, info: TokenInfo } {
    if (this.statements.byName.get(name)) throw new Error(`a token named "${name}" exists already`)
    const secret = randomBytes(32).toString('base64url')
    const id = Number(this.statements.insert.run(name, sha256(secret).toString('hex'), scopes.join(','), this.clock().toISOString()).lastInsertRowid)
    return { token: `ksft_${id}_${secret}`, info: tokenInfo(this.statements.byId.get(id) as TokenRow) }
  }

  list (): TokenInfo[] {
    return (this.statements.all.all() as TokenRow[]).map(row => {
      const used = this.lastUsed.get(row.id)
      return used === undefined ? tokenInfo(row) : { ...tokenInfo(row), lastUsedAt: used }
    })
  }

  /**
   * Writes the last uses kept since the last flush, in one short transaction. When the database is
   * busy (another process holds the write lock) nothing waits: they stay kept for the next flush.
   * Returns how many were written.
   */
  flushLastUsed (): number {
    if (this.lastUsed.size === 0) return 0
    const entries = [...this.lastUsed]
    try {
      this.touchAll.immediate(entries)
    } catch (err) {
      if (/^SQLITE_BUSY/.test((err as { code?: string }).code ?? '')) return 0
      throw err
    }
    // a use recorded meanwhile is newer than the one written: keep it
    for (const [id, at] of entries) if (this.lastUsed.get(id) === at) this.lastUsed.delete(id)
    return entries.length
  }

  revoke (name: string): boolean {
    return this.statements.revoke.run(this.clock().toISOString(), name).changes > 0
  }

  /**
   * The live token a presented string names, or null. When it was used is kept in memory and
   * written by flushLastUsed: a write here, under the database's write lock, made every
   * authenticated request wait up to the busy timeout (5 s) while another process was writing.
   */
  verify (presented: string): TokenInfo | null {
    const m = TOKEN_FORMAT.exec(presented)
    if (!m) return null
    const row = this.statements.byId.get(Number(m[1])) as TokenRow | undefined
    if (!row || row.revoked_at !== null) return null
    const expected = Buffer.from(row.secret_sha256, 'hex')
    if (!timingSafeEqual(expected, sha256(m[2]!))) return null
    const at = this.clock().toISOString()
    this.lastUsed.set(row.id, at)
    return { ...tokenInfo(row), lastUsedAt: at }
  }
}
