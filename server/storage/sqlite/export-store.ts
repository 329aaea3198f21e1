import type { Database, Statement } from 'better-sqlite3'
import type { SeriesRef } from '../rows.ts'

/** Read-only lookups the exporters need to gather a series' runs. */
export class ExportStore {
  private readonly statements: Record<'seriesById' | 'seriesByName' | 'versionExists' | 'runIdsOfSeries' | 'runIdsOfVersion', Statement>

  constructor (db: Database) {
    this.statements = {
      seriesById: db.prepare('SELECT id, name FROM series WHERE id = ?'),
      seriesByName: db.prepare('SELECT id, name FROM series WHERE name = ?'),
      versionExists: db.prepare('SELECT 1 FROM versions WHERE series_id = ? AND label = ?'),
      // versions in their order (base first), runs in upload order within each
      runIdsOfSeries: db.prepare(`
        SELECT r.id FROM runs r JOIN versions v ON v.id = r.version_id
        WHERE v.series_id = ? ORDER BY v.sort_key, v.label, r.id`),
      runIdsOfVersion: db.prepare(`
        SELECT r.id FROM runs r JOIN versions v ON v.id = r.version_id
        WHERE v.series_id = ? AND v.label = ? ORDER BY r.id`),
    }
  }

  /** A series by its id or, failing that, its exact name: `ksft gate --series` takes either. */
  findSeries (idOrName: string): SeriesRef | null {
    if (/^[1-9]\d{0,15}$/.test(idOrName)) {
      const byId = this.statements.seriesById.get(Number(idOrName)) as SeriesRef | undefined
      if (byId) return byId
    }
    return (this.statements.seriesByName.get(idOrName) as SeriesRef | undefined) ?? null
  }

  hasVersion (seriesId: number, label: string): boolean {
    return this.statements.versionExists.get(seriesId, label) !== undefined
  }

  /** The run ids of a series, or of one of its versions. */
  runIds (seriesId: number, versionLabel?: string): number[] {
    const rows = versionLabel === undefined
      ? this.statements.runIdsOfSeries.all(seriesId)
      : this.statements.runIdsOfVersion.all(seriesId, versionLabel)
    return (rows as Array<{ id: number }>).map(row => row.id)
  }
}
