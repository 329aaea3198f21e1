import { randomBytes, timingSafeEqual } from 'node:crypto'
import type pg from 'pg'
import type { TokenInfo, TokenScope } from '../rows.ts'
import { sha256, TOKEN_FORMAT, tokenInfo, type TokenRow } from '../token-rows.ts'
import { retryingConflicts } from './transaction.ts'

/**
 * Upload and admin tokens in PostgreSQL: sqlite/token-store.ts's methods, each a Promise. Several
 * nodes share the tokens: a name is taken once by the table's unique key, and a last use written by
 * one node never moves another node's later one back.
 */
export class PostgresTokenStore {
  /** When each token was last used and not yet written: see flushLastUsed. */
  private readonly lastUsed = new Map<number, string>()

  constructor (private readonly pool: pg.Pool, private readonly clock: () => Date = () => new Date()) {}

  /** Creates a token and returns it; this is the only time the whole token exists. */
  async create (name: string, scopes: TokenScope[]): Promise<{ token: string, info: TokenInfo }> {
    const secret = randomBytes(32).toString('base64url')
    // two nodes creating the same name at once: the second insert waits for the first, then finds the name taken
    const { rows } = await retryingConflicts(() => this.pool.query<TokenRow>(`
      INSERT INTO tokens (name, secret_sha256, scopes, created_at) VALUES ($1, $2, $3, $4)
      ON CONFLICT (name) DO NOTHING RETURNING *`,
    [name, sha256(secret).toString('hex'), scopes.join(','), this.clock().toISOString()]))
    const row = rows[0]
    if (row === undefined) throw new Error(`a token named "${name}" exists already`)
    return { token: `ksft_${row.id}_${secret}`, info: tokenInfo(row) }
  }

  async list (): Promise<TokenInfo[]> {
    const { rows } = await this.pool.query<TokenRow>('SELECT * FROM tokens ORDER BY id')
    return rows.map(row => {
      const used = this.lastUsed.get(row.id)
      return used === undefined ? tokenInfo(row) : { ...tokenInfo(row), lastUsedAt: used }
    })
  }

  /**
   * Writes the last uses kept since the last flush, in one statement. A token whose row another
   * transaction holds locked (a revoke, another node's flush) is not waited for: its use stays kept
   * for the next flush. Returns how many were written.
   */
  async flushLastUsed (): Promise<number> {
    if (this.lastUsed.size === 0) return 0
    const entries = [...this.lastUsed]
    const { rows } = await retryingConflicts(() => this.pool.query<{ id: number }>(`
      UPDATE tokens t SET last_used_at = greatest(t.last_used_at, u.at)
      FROM unnest($1::bigint[], $2::timestamptz[]) AS u (id, at)
      WHERE t.id = u.id AND t.id IN (SELECT id FROM tokens WHERE id = ANY ($1::bigint[]) FOR UPDATE SKIP LOCKED)
      RETURNING t.id`,
    [entries.map(([id]) => id), entries.map(([, at]) => at)]))
    // a use recorded meanwhile is newer than the one written: keep it
    const written = new Map(entries)
    for (const { id } of rows) if (this.lastUsed.get(id) === written.get(id)) this.lastUsed.delete(id)
    return rows.length
  }

  async revoke (name: string): Promise<boolean> {
    const revokedAt = this.clock().toISOString()
    const { rowCount } = await retryingConflicts(() => this.pool.query('UPDATE tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL', [revokedAt, name]))
    return (rowCount ?? 0) > 0
  }

  /**
   * The live token a presented string names, or null. When it was used is kept in memory and
   * written by flushLastUsed: a write per authenticated request would make every request wait for
   * a row lock whenever another node writes the same token's row.
   */
  async verify (presented: string): Promise<TokenInfo | null> {
    const m = TOKEN_FORMAT.exec(presented)
    if (!m) return null
    const { rows } = await this.pool.query<TokenRow>('SELECT * FROM tokens WHERE id = $1', [m[1]])
    const row = rows[0]
    if (!row || row.revoked_at !== null) return null
    const expected = Buffer.from(row.secret_sha256, 'hex')
    if (!timingSafeEqual(expected, sha256(m[2]!))) return null
    const at = this.clock().toISOString()
    this.lastUsed.set(row.id, at)
    return { ...tokenInfo(row), lastUsedAt: at }
  }
}
