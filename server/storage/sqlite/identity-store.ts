import type { Database } from 'better-sqlite3'
import { nameApart, seriesNameKey, type SeriesMatchKind } from '../../domain/series-identity.ts'
import type { MachineRefRow, RunMetadata, SeriesResolution } from '../rows.ts'

/**
 * Which series and which machine an upload belongs to (domain/series-identity.ts has the rules):
 * the reads and writes of migrations/007-series-identity.sql at ingest, inside the run's
 * transaction. Every statement is prepared once.
 */
export class IdentityStore {
  private readonly s: ReturnType<typeof prepare>

  constructor (db: Database) {
    this.s = prepare(db)
  }

  /**
   * The series of an upload: by its change-id, else by the cover letters it names, else by its
   * title (exactly a series' name, else one of the names a series was uploaded under). With
   * `write`, a new series is created when nothing matches, and the title and change-id are kept as
   * the series' own; without, nothing is written and null means "a new series".
   */
  resolveSeries (meta: RunMetadata, now: string, options: { write: boolean }): SeriesResolution | null {
    const found = this.findSeries(meta)
    if (!options.write) return found
    if (found === null) return this.createSeries(meta.series, meta, now, 'created')
    if (found.match === 'created_apart') return this.createSeries(nameApart(meta.series, meta.changeId!), meta, now, 'created_apart')
    if (meta.changeId !== null) this.s.addChangeId.run(meta.changeId, found.id, now)
    this.s.addName.run(seriesNameKey(meta.series), found.id, meta.series, now)
    return found
  }

  /** The machine an upload names, by its name or a name it had before a rename or merge; created when new. */
  resolveMachine (meta: RunMetadata, now: string): MachineRefRow {
    const found = (this.s.machineByName.get(meta.machine) ?? this.s.machineByOldName.get(meta.machine)) as MachineRefRow | undefined
    const flags = meta.flags.join(',')
    // a machine's description is what its latest upload said; a run keeps its own copy
    const description = { arch: meta.arch, cpu: meta.cpu, flags, kernel: meta.kernel, now }
    if (found !== undefined) {
      this.s.describeMachine.run({ ...description, id: found.id })
      return found
    }
    const id = Number(this.s.insertMachine.run({ ...description, name: meta.machine }).lastInsertRowid)
    return { id, name: meta.machine }
  }

  private findSeries (meta: RunMetadata): SeriesResolution | null {
    if (meta.changeId !== null) {
      const byChangeId = this.s.seriesByChangeId.get(meta.changeId) as { id: number, name: string } | undefined
      if (byChangeId) return { ...byChangeId, match: 'change_id' }
    }
    const messageIds = [...new Set([meta.messageId, ...meta.previousMessageIds].filter(id => id !== null))]
    if (messageIds.length > 0) {
      const byMessageId = this.s.seriesByMessageId.get(JSON.stringify(messageIds)) as { id: number, name: string } | undefined
      if (byMessageId) return { ...byMessageId, match: 'message_id' }
    }
    let byTitle: SeriesResolution | undefined
    const exact = this.s.seriesByName.get(meta.series) as { id: number, name: string } | undefined
    if (exact) {
      byTitle = { ...exact, match: 'name' }
    } else {
      const named = this.s.seriesByNameKey.get(seriesNameKey(meta.series)) as { id: number, name: string, known_as: string } | undefined
      if (named) byTitle = { id: named.id, name: named.name, match: named.known_as === meta.series ? 'other_name' : 'folded_name' }
    }
    if (byTitle === undefined) return null
    // a title is not an identity strong enough to join a series that has another change-id
    if (meta.changeId !== null && this.s.hasChangeId.get(byTitle.id) !== undefined) return { ...byTitle, match: 'created_apart' }
    return byTitle
  }

  private createSeries (name: string, meta: RunMetadata, now: string, match: SeriesMatchKind): SeriesResolution {
    const id = Number(this.s.insertSeries.run(name, now).lastInsertRowid)
    // apart from a series with the same title, the title stays that series' name: only the marked name is this one's
    this.s.addName.run(seriesNameKey(name), id, name, now)
    if (meta.changeId !== null) this.s.addChangeId.run(meta.changeId, id, now)
    return { id, name, match }
  }
}

function prepare (db: Database) {
  return {
    seriesByChangeId: db.prepare('SELECT s.id, s.name FROM series_change_ids c JOIN series s ON s.id = c.series_id WHERE c.change_id = ?'),
    // the oldest version that has one of the Message-IDs: a chain never splits a series further
    seriesByMessageId: db.prepare(`
      SELECT s.id, s.name FROM json_each(?) j JOIN versions v ON v.message_id = j.value JOIN series s ON s.id = v.series_id
      ORDER BY v.id LIMIT 1`),
    seriesByName: db.prepare('SELECT id, name FROM series WHERE name = ?'),
    seriesByNameKey: db.prepare('SELECT s.id, s.name, n.name AS known_as FROM series_names n JOIN series s ON s.id = n.series_id WHERE n.name_key = ?'),
    hasChangeId: db.prepare('SELECT 1 FROM series_change_ids WHERE series_id = ? LIMIT 1'),
    insertSeries: db.prepare('INSERT INTO series (name, created_at) VALUES (?, ?)'),
    addName: db.prepare('INSERT OR IGNORE INTO series_names (name_key, series_id, name, created_at) VALUES (?, ?, ?, ?)'),
    addChangeId: db.prepare('INSERT OR IGNORE INTO series_change_ids (change_id, series_id, created_at) VALUES (?, ?, ?)'),
    machineByName: db.prepare('SELECT id, name FROM machines WHERE name = ?'),
    machineByOldName: db.prepare('SELECT m.id, m.name FROM machine_names o JOIN machines m ON m.id = o.machine_id WHERE o.name = ?'),
    describeMachine: db.prepare(`
      UPDATE machines SET arch = coalesce(@arch, arch), cpu = coalesce(@cpu, cpu),
        flags = CASE WHEN @flags <> '' THEN @flags ELSE flags END, kernel = coalesce(@kernel, kernel), updated_at = @now
      WHERE id = @id`),
    insertMachine: db.prepare(`
      INSERT INTO machines (name, arch, cpu, flags, kernel, created_at, updated_at) VALUES (@name, @arch, @cpu, @flags, @kernel, @now, @now)`),
  }
}
