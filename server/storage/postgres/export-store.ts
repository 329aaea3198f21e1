import type pg from 'pg'
import type { SeriesRef } from '../rows.ts'

/** Read-only lookups the exporters need to gather a series' runs: storage/export-store.ts's, each a Promise. */
export class PostgresExportStore {
  constructor (private readonly pool: pg.Pool) {}

  /** A series by its id or, failing that, its exact name: `ksft gate --series` takes either. */
  async findSeries (idOrName: string): Promise<SeriesRef | null> {
    if (/^[1-9]\d{0,15}$/.test(idOrName)) {
      const { rows: [byId] } = await this.pool.query<SeriesRef>('SELECT id, name FROM series WHERE id = $1', [Number(idOrName)])
      if (byId) return byId
    }
    const { rows: [byName] } = await this.pool.query<SeriesRef>('SELECT id, name FROM series WHERE name = $1', [idOrName])
    return byName ?? null
  }

  async hasVersion (seriesId: number, label: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('SELECT 1 FROM versions WHERE series_id = $1 AND label = $2', [seriesId, label])
    return (rowCount ?? 0) > 0
  }

  /** The run ids of a series, or of one of its versions: versions in their order (base first), runs in upload order within each. */
  async runIds (seriesId: number, versionLabel?: string): Promise<number[]> {
    const { rows } = versionLabel === undefined
      ? await this.pool.query<{ id: number }>(`
          SELECT r.id FROM runs r JOIN versions v ON v.id = r.version_id
          WHERE v.series_id = $1 ORDER BY v.sort_key, v.label, r.id`, [seriesId])
      : await this.pool.query<{ id: number }>(`
          SELECT r.id FROM runs r JOIN versions v ON v.id = r.version_id
          WHERE v.series_id = $1 AND v.label = $2 ORDER BY r.id`, [seriesId, versionLabel])
    return rows.map(row => row.id)
  }
}
