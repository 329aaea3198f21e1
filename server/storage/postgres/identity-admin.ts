import type pg from 'pg'
import { seriesNameKey } from '../../domain/series-identity.ts'
import { COUNTS } from '../outcome-sql.ts'
import type { IdentityRefusal, MachineMergeReport, NamedRef, SeriesMergeReport } from '../rows.ts'
import { PostgresAdminStore } from './admin-store.ts'
import type { PostgresIssueStore } from './issue-store.ts'
import { OUTCOME_CELL_SQL } from './outcomes.ts'
import { bumpWriteCounter, inTransaction, type Queryable } from './transaction.ts'

/**
 * Renaming and merging series and machines in PostgreSQL: storage/identity-admin.ts's methods,
 * each a Promise, each in one transaction that keeps every aggregate equal to a recount. The rows
 * renamed or merged are held (FOR UPDATE, in id order) from the first statement: an upload to
 * either on another node waits for the merge, since its insert of a version or a run checks the
 * row it names, and two merges of the same pair cannot deadlock.
 */
export class PostgresIdentityAdmin {
  private readonly admin: PostgresAdminStore

  constructor (private readonly pool: pg.Pool, private readonly issues: PostgresIssueStore, private readonly clock: () => Date = () => new Date()) {
    this.admin = new PostgresAdminStore(pool, issues)
  }

  /** Gives a series a new name; its old names stay names. */
  async renameSeries (id: number, name: string): Promise<NamedRef | IdentityRefusal | null> {
    const now = this.clock().toISOString()
    return inTransaction(this.pool, async (client): Promise<NamedRef | IdentityRefusal | null> => {
      const series = (await held(client, 'series', [id])).get(id)
      if (!series) return null
      if (series.name === name) return { refused: 'same' }
      const holder = await one<NamedRef>(client, 'SELECT id, name FROM series WHERE name = $1', [name]) ??
        await one<NamedRef>(client, 'SELECT s.id, s.name FROM series_names n JOIN series s ON s.id = n.series_id WHERE n.name_key = $1', [seriesNameKey(name)])
      if (holder !== undefined && holder.id !== id) return { refused: 'name_taken', by: holder }
      await client.query('UPDATE series SET name = $1 WHERE id = $2', [name, id])
      await addSeriesName(client, seriesNameKey(name), id, name, now)
      await bumpWriteCounter(client)
      return { id, name }
    })
  }

  /**
   * Series `fromId` into series `intoId`, which stays; `from` is gone afterwards. The known issues
   * scoped to either are matched again, or with `match: false` left to the caller (rematchSteps):
   * they are pending until then, also after a crash.
   */
  async mergeSeries (fromId: number, intoId: number, actor: string, options: { match?: boolean } = {}): Promise<SeriesMergeReport | IdentityRefusal | null> {
    const now = this.clock().toISOString()
    const report = await inTransaction(this.pool, async (client): Promise<SeriesMergeReport | IdentityRefusal | null> => {
      const series = await held(client, 'series', [fromId, intoId])
      const from = series.get(fromId)
      const into = series.get(intoId)
      if (!from || !into) return null
      if (from.id === into.id) return { refused: 'same' }
      const versionsMoved: string[] = []
      const versionsMerged: string[] = []
      const folded: number[] = []
      let runs = 0
      const { rows: versions } = await client.query<{ id: number, label: string, runs: number }>(`
        SELECT v.id, v.label, (SELECT count(*) FROM runs r WHERE r.version_id = v.id) AS runs FROM versions v
        WHERE v.series_id = $1 ORDER BY v.sort_key, v.id FOR UPDATE OF v`, [from.id])
      for (const version of versions) {
        const target = await one<{ id: number }>(client, 'SELECT id FROM versions WHERE series_id = $1 AND label = $2 FOR UPDATE', [into.id, version.label])
        if (target === undefined) {
          await client.query('UPDATE versions SET series_id = $1 WHERE id = $2', [into.id, version.id])
          versionsMoved.push(version.label)
          runs += version.runs
        } else {
          runs += await this.admin.foldVersion(client, version.id, target.id)
          versionsMerged.push(version.label)
          folded.push(target.id)
        }
      }
      await writeOutcomeSets(client, folded)
      await client.query(`
        INSERT INTO series_tests (series_id, collection, test, case_id)
        SELECT $1, collection, test, case_id FROM series_tests WHERE series_id = $2
        ON CONFLICT DO NOTHING`, [into.id, from.id])
      // its name and every title it had (a name stored before names were folded has no key row yet)
      await addSeriesName(client, seriesNameKey(from.name), into.id, from.name, now)
      await client.query('UPDATE series_names SET series_id = $1 WHERE series_id = $2', [into.id, from.id])
      await client.query('UPDATE series_change_ids SET series_id = $1 WHERE series_id = $2', [into.id, from.id])
      const issuesRematched = await this.issues.renameInScopes(client, 'series', from.id, into.id, actor)
      await client.query('DELETE FROM series WHERE id = $1', [from.id])
      await bumpWriteCounter(client)
      return { from, into, versionsMoved, versionsMerged, runs, issuesRematched }
    })
    await this.matchAgain(report, options)
    return report
  }

  /** Gives a machine a new name; uploads under the old one land on it still. */
  async renameMachine (id: number, name: string, actor: string): Promise<NamedRef | IdentityRefusal | null> {
    const now = this.clock().toISOString()
    return inTransaction(this.pool, async (client): Promise<NamedRef | IdentityRefusal | null> => {
      const machine = (await held(client, 'machines', [id])).get(id)
      if (!machine) return null
      if (machine.name === name) return { refused: 'same' }
      const holder = await one<NamedRef>(client, 'SELECT id, name FROM machines WHERE name = $1', [name]) ??
        await one<NamedRef>(client, 'SELECT m.id, m.name FROM machine_names o JOIN machines m ON m.id = o.machine_id WHERE o.name = $1', [name])
      if (holder !== undefined && holder.id !== id) return { refused: 'name_taken', by: holder }
      await client.query('DELETE FROM machine_names WHERE name = $1', [name])
      await addOldName(client, machine.name, id, now)
      await client.query('UPDATE machines SET name = $1 WHERE id = $2', [name, id])
      // the same results, under the new name: nothing to match again
      await this.issues.renameInScopes(client, 'machines', machine.name, name, actor, { merge: false })
      await bumpWriteCounter(client)
      return { id, name }
    })
  }

  /** Machine `fromId` into machine `intoId`, which stays; its runs and their aggregates go along. Known issues as mergeSeries. */
  async mergeMachines (fromId: number, intoId: number, actor: string, options: { match?: boolean } = {}): Promise<MachineMergeReport | IdentityRefusal | null> {
    const now = this.clock().toISOString()
    const report = await inTransaction(this.pool, async (client): Promise<MachineMergeReport | IdentityRefusal | null> => {
      const machines = await held(client, 'machines', [fromId, intoId])
      const from = machines.get(fromId)
      const into = machines.get(intoId)
      if (!from || !into) return null
      if (from.id === into.id) return { refused: 'same' }
      const { rows: versions } = await client.query<{ version_id: number }>('SELECT DISTINCT version_id FROM runs WHERE machine_id = $1', [from.id])
      // the runs' move drops the outcome sets of both machines in their versions (the trigger of 001-schema.sql)
      const moved = await client.query('UPDATE runs SET machine_id = $1 WHERE machine_id = $2', [into.id, from.id])
      await client.query(`
        INSERT INTO case_stats (version_id, machine_id, case_id, ${COUNTS.join(', ')})
        SELECT version_id, $1, case_id, ${COUNTS.join(', ')} FROM case_stats WHERE machine_id = $2
        ON CONFLICT (version_id, machine_id, case_id) DO UPDATE SET
          ${COUNTS.map(c => `${c} = case_stats.${c} + excluded.${c}`).join(', ')}`, [into.id, from.id])
      await client.query('DELETE FROM case_stats WHERE machine_id = $1', [from.id])
      await writeOutcomeSets(client, versions.map(row => row.version_id))
      // what the merged machine lacked, it takes from the other; it was seen first when either was
      // (least and greatest: SQLite's min() and max() of two values)
      await client.query(`
        UPDATE machines SET arch = coalesce(machines.arch, f.arch), cpu = coalesce(machines.cpu, f.cpu),
          flags = CASE WHEN machines.flags = '' THEN f.flags ELSE machines.flags END, kernel = coalesce(machines.kernel, f.kernel),
          created_at = least(machines.created_at, f.created_at), updated_at = greatest(machines.updated_at, f.updated_at)
        FROM (SELECT * FROM machines WHERE id = $1) AS f WHERE machines.id = $2`, [from.id, into.id])
      await client.query('UPDATE machine_names SET machine_id = $1 WHERE machine_id = $2', [into.id, from.id])
      await addOldName(client, from.name, into.id, now)
      const issuesRematched = await this.issues.renameInScopes(client, 'machines', from.name, into.name, actor)
      await client.query('DELETE FROM machines WHERE id = $1', [from.id])
      await bumpWriteCounter(client)
      return { from, into, runs: moved.rowCount ?? 0, issuesRematched }
    })
    await this.matchAgain(report, options)
    return report
  }

  private async matchAgain (report: { issuesRematched: number[] } | IdentityRefusal | null, options: { match?: boolean }): Promise<void> {
    if (report === null || 'refused' in report || options.match === false) return
    for (const issue of report.issuesRematched) await this.issues.rematch(issue)
  }
}

/** The series or machines of these ids, by id, held until the transaction ends; locked in id order. */
async function held (db: pg.PoolClient, table: 'series' | 'machines', ids: number[]): Promise<Map<number, NamedRef>> {
  const { rows } = await db.query<NamedRef>(`SELECT id, name FROM ${table} WHERE id = ANY ($1::bigint[]) ORDER BY id FOR UPDATE`, [ids])
  return new Map(rows.map(row => [row.id, row]))
}

async function one<T extends pg.QueryResultRow> (db: Queryable, sql: string, values: unknown[]): Promise<T | undefined> {
  return (await db.query<T>(sql, values)).rows[0]
}

async function addSeriesName (db: Queryable, key: string, seriesId: number, name: string, now: string): Promise<void> {
  await db.query('INSERT INTO series_names (name_key, series_id, name, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [key, seriesId, name, now])
}

/** SQLite's INSERT OR REPLACE: the name, whoever had it, is now the machine's old name. */
async function addOldName (db: Queryable, name: string, machineId: number, now: string): Promise<void> {
  await db.query(`INSERT INTO machine_names (name, machine_id, created_at) VALUES ($1, $2, $3)
    ON CONFLICT (name) DO UPDATE SET machine_id = excluded.machine_id, created_at = excluded.created_at`, [name, machineId, now])
}

/** The outcome sets of these versions written again from their case_stats, every machine's. */
async function writeOutcomeSets (db: Queryable, versionIds: number[]): Promise<void> {
  if (versionIds.length === 0) return
  await db.query(`
    INSERT INTO outcome_sets (version_id, machine_id, cells)
    SELECT version_id, machine_id, string_agg(${OUTCOME_CELL_SQL}, ''::bytea ORDER BY case_id)
    FROM case_stats WHERE version_id = ANY ($1::bigint[]) GROUP BY version_id, machine_id
    ON CONFLICT (version_id, machine_id) DO UPDATE SET cells = excluded.cells`, [versionIds])
}
