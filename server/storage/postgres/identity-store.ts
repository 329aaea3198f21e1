import type pg from 'pg'
import { nameApart, seriesNameKey, type SeriesMatchKind } from '../../domain/series-identity.ts'
import type { MachineRefRow, RunMetadata, SeriesResolution } from '../rows.ts'

/** A pool, or a client inside a transaction: what a read needs. */
export type Queryable = Pick<pg.ClientBase, 'query'>

/** How often a series is looked for again after another node created the one this upload was creating. */
const CREATE_ATTEMPTS = 3

/**
 * Which series and which machine an upload belongs to: the PostgreSQL twin of identity-store.ts,
 * the same rules (domain/series-identity.ts) and the same rows, inside the run's transaction.
 * Where SQLite holds the one write lock of the file, here two nodes may meet a new series or
 * machine at once: every insert names the key it may conflict on, and an insert that conflicted
 * (the other node's row, committed meanwhile) is followed by the lookup again.
 */
export class PostgresIdentityStore {
  /**
   * The series of an upload: by its change-id, else by the cover letters it names, else by its
   * title. With `write`, a new series is created when nothing matches, and the title and change-id
   * are kept as the series' own; without, nothing is written and null means "a new series".
   */
  async resolveSeries (q: Queryable, meta: RunMetadata, now: string, options: { write: boolean }): Promise<SeriesResolution | null> {
    for (let attempt = 1; ; attempt++) {
      const found = await this.findSeries(q, meta)
      if (!options.write) return found
      let created: SeriesResolution | null = null
      if (found === null) created = await this.createSeries(q, meta.series, meta, now, 'created')
      else if (found.match === 'created_apart') created = await this.createSeries(q, nameApart(meta.series, meta.changeId!), meta, now, 'created_apart')
      else {
        if (meta.changeId !== null) await q.query(ADD_CHANGE_ID, [meta.changeId, found.id, now])
        await q.query(ADD_NAME, [seriesNameKey(meta.series), found.id, meta.series, now])
        return found
      }
      if (created !== null) return created
      // another node created a series of that name between the lookup and the insert: look again
      if (attempt === CREATE_ATTEMPTS) throw new Error(`the series ${JSON.stringify(meta.series)} could not be created: its name is taken`)
    }
  }

  /**
   * The machine an upload names, by its name or a name it had before a rename or merge; created
   * when new. `created` says whether this upload made it: a machine found is described by the
   * upload (describeMachine), which the run store does last in its transaction, so that the lock on
   * the machine's row is held for the commit only and uploads from one machine on several nodes
   * do not wait for each other's whole transaction.
   */
  async resolveMachine (q: Queryable, meta: RunMetadata, now: string): Promise<MachineRefRow & { created: boolean }> {
    const found = await this.findMachine(q, meta.machine)
    if (found !== undefined) return { ...found, created: false }
    const { rows } = await q.query<{ id: number }>(`
      INSERT INTO machines (name, arch, cpu, flags, kernel, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)
      ON CONFLICT (name) DO NOTHING RETURNING id`, [meta.machine, meta.arch, meta.cpu, meta.flags.join(','), meta.kernel, now])
    if (rows[0] !== undefined) return { id: rows[0].id, name: meta.machine, created: true }
    // created by another node meanwhile (the insert waited for its commit)
    const raced = await this.findMachine(q, meta.machine)
    if (raced === undefined) throw new Error(`the machine ${JSON.stringify(meta.machine)} could not be created`)
    return { ...raced, created: false }
  }

  /** A machine's description is what its latest upload said (a run keeps its own copy). */
  async describeMachine (q: Queryable, id: number, meta: RunMetadata, now: string): Promise<void> {
    await q.query(`
      UPDATE machines SET arch = coalesce($2, arch), cpu = coalesce($3, cpu),
        flags = CASE WHEN $4 <> '' THEN $4 ELSE flags END, kernel = coalesce($5, kernel), updated_at = $6
      WHERE id = $1`, [id, meta.arch, meta.cpu, meta.flags.join(','), meta.kernel, now])
  }

  private async findMachine (q: Queryable, name: string): Promise<MachineRefRow | undefined> {
    // its name first, then a name it had
    const { rows } = await q.query<MachineRefRow & { rank: number }>(`
      SELECT id, name, 0 AS rank FROM machines WHERE name = $1
      UNION ALL
      SELECT m.id, m.name, 1 FROM machine_names o JOIN machines m ON m.id = o.machine_id WHERE o.name = $1
      ORDER BY rank LIMIT 1`, [name])
    return rows[0] === undefined ? undefined : { id: rows[0].id, name: rows[0].name }
  }

  private async findSeries (q: Queryable, meta: RunMetadata): Promise<SeriesResolution | null> {
    if (meta.changeId !== null) {
      const { rows } = await q.query<{ id: number, name: string }>(
        'SELECT s.id, s.name FROM series_change_ids c JOIN series s ON s.id = c.series_id WHERE c.change_id = $1', [meta.changeId])
      if (rows[0] !== undefined) return { ...rows[0], match: 'change_id' }
    }
    const messageIds = [...new Set([meta.messageId, ...meta.previousMessageIds].filter(id => id !== null))]
    if (messageIds.length > 0) {
      // the oldest version that has one of the Message-IDs: a chain never splits a series further
      const { rows } = await q.query<{ id: number, name: string }>(`
        SELECT s.id, s.name FROM versions v JOIN series s ON s.id = v.series_id
        WHERE v.message_id = ANY($1::text[]) ORDER BY v.id LIMIT 1`, [messageIds])
      if (rows[0] !== undefined) return { ...rows[0], match: 'message_id' }
    }
    let byTitle: SeriesResolution | undefined
    const exact = (await q.query<{ id: number, name: string }>('SELECT id, name FROM series WHERE name = $1', [meta.series])).rows[0]
    if (exact !== undefined) {
      byTitle = { ...exact, match: 'name' }
    } else {
      const { rows } = await q.query<{ id: number, name: string, known_as: string }>(
        'SELECT s.id, s.name, n.name AS known_as FROM series_names n JOIN series s ON s.id = n.series_id WHERE n.name_key = $1', [seriesNameKey(meta.series)])
      const named = rows[0]
      if (named !== undefined) byTitle = { id: named.id, name: named.name, match: named.known_as === meta.series ? 'other_name' : 'folded_name' }
    }
    if (byTitle === undefined) return null
    // a title is not an identity strong enough to join a series that has another change-id
    if (meta.changeId !== null) {
      const { rowCount } = await q.query('SELECT 1 FROM series_change_ids WHERE series_id = $1 LIMIT 1', [byTitle.id])
      if (rowCount !== 0) return { ...byTitle, match: 'created_apart' }
    }
    return byTitle
  }

  /** The new series, or null when another node created one of that name first. */
  private async createSeries (q: Queryable, name: string, meta: RunMetadata, now: string, match: SeriesMatchKind): Promise<SeriesResolution | null> {
    const { rows } = await q.query<{ id: number }>('INSERT INTO series (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id', [name, now])
    const id = rows[0]?.id
    if (id === undefined) return null
    // apart from a series with the same title, the title stays that series' name: only the marked name is this one's
    await q.query(ADD_NAME, [seriesNameKey(name), id, name, now])
    if (meta.changeId !== null) await q.query(ADD_CHANGE_ID, [meta.changeId, id, now])
    return { id, name, match }
  }
}

// SQLite's INSERT OR IGNORE: a key another upload recorded first stays with it
const ADD_NAME = 'INSERT INTO series_names (name_key, series_id, name, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING'
const ADD_CHANGE_ID = 'INSERT INTO series_change_ids (change_id, series_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING'
