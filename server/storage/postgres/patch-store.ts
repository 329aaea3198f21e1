import type pg from 'pg'
import { digestOf, type PatchRecord, type ReportState, type SeriesPatch } from '../../domain/patch-list.ts'
import type { RunPatchReport, VersionPatchList } from '../rows.ts'
import { bumpWriteCounter, inTransaction } from './transaction.ts'

interface PatchRow { position: number, subject: string, author: string | null, patch_id: string, files: string, message_id: string | null }

/**
 * The series' patches per version in PostgreSQL: storage/patch-store.ts's methods, each a Promise.
 * The first list a run of a version reports becomes the version's: of two runs reporting at once
 * on two nodes, the table's key lets one insert it, and the other then reads it as the list it
 * confirms or differs from.
 */
export class PostgresPatchStore {
  constructor (private readonly pool: pg.Pool, private readonly clock: () => Date = () => new Date()) {}

  /** Records what run `runId` (of version `versionId`) reported, in one transaction. */
  async report (runId: number, versionId: number, patches: readonly PatchRecord[]): Promise<RunPatchReport> {
    const now = this.clock().toISOString()
    const digest = digestOf(patches)
    return inTransaction(this.pool, async client => {
      const inserted = await client.query(`
        INSERT INTO version_patch_lists (version_id, digest, run_id, created_at) VALUES ($1, $2, $3, $4)
        ON CONFLICT (version_id) DO NOTHING`, [versionId, digest, runId, now])
      let state: ReportState
      if (inserted.rowCount === 1) {
        await client.query(`
          INSERT INTO version_patches (version_id, position, subject, author, patch_id, files, message_id)
          SELECT $1, position, subject, author, patch_id, files, message_id
          FROM unnest($2::integer[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS p (position, subject, author, patch_id, files, message_id)`,
        [versionId, patches.map((_, i) => i + 1), patches.map(patch => patch.subject), patches.map(patch => patch.author),
          patches.map(patch => patch.patchId), patches.map(patch => JSON.stringify(patch.files)), patches.map(patch => patch.messageId)])
        state = 'stored'
      } else {
        // the list there is (the conflict waited for a list being stored by another node to commit)
        const { rows } = await client.query<{ digest: string }>('SELECT digest FROM version_patch_lists WHERE version_id = $1', [versionId])
        if (rows[0]?.digest === digest) {
          // the same patches: what this report knows of their mails completes the list
          const known = patches.flatMap((patch, i) => patch.messageId === null ? [] : [[i + 1, patch.messageId] as const])
          if (known.length > 0) {
            await client.query(`
              UPDATE version_patches p SET message_id = coalesce(p.message_id, k.message_id)
              FROM unnest($2::integer[], $3::text[]) AS k (position, message_id) WHERE p.version_id = $1 AND p.position = k.position`,
            [versionId, known.map(([position]) => position), known.map(([, messageId]) => messageId)])
          }
          state = 'confirmed'
        } else {
          state = 'differs'
        }
      }
      const differing = state === 'differs' ? [...patches] : null
      await client.query(`
        INSERT INTO run_patch_reports (run_id, digest, patches, differing, created_at) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (run_id) DO UPDATE SET digest = excluded.digest, patches = excluded.patches, differing = excluded.differing, created_at = excluded.created_at`,
      [runId, digest, patches.length, differing === null ? null : JSON.stringify(differing), now])
      await bumpWriteCounter(client)
      return { runId, state, patches: patches.length, differing, createdAt: now }
    })
  }

  /** The version's list, or null when no run of it reported one. */
  async versionList (versionId: number): Promise<VersionPatchList | null> {
    const { rows: [list] } = await this.pool.query<{ digest: string, run_id: number | null, created_at: string }>(
      'SELECT digest, run_id, created_at FROM version_patch_lists WHERE version_id = $1', [versionId])
    if (list === undefined) return null
    const { rows } = await this.pool.query<PatchRow>(
      'SELECT position, subject, author, patch_id, files, message_id FROM version_patches WHERE version_id = $1 ORDER BY position', [versionId])
    return { versionId, digest: list.digest, runId: list.run_id, createdAt: list.created_at, patches: rows.map(patchOf) }
  }

  /** What the run reported, or null when it sent no list. */
  async runReport (runId: number, versionDigest: string | null): Promise<RunPatchReport | null> {
    // EXISTS is a boolean here, where SQLite's is 0 or 1
    const { rows: [row] } = await this.pool.query<{ digest: string, patches: number, differing: string | null, created_at: string, brought: boolean }>(`
      SELECT r.digest, r.patches, r.differing, r.created_at,
        EXISTS (SELECT 1 FROM version_patch_lists l WHERE l.run_id = r.run_id) AS brought
      FROM run_patch_reports r WHERE r.run_id = $1`, [runId])
    if (row === undefined) return null
    const state: ReportState = row.digest !== versionDigest ? 'differs' : row.brought ? 'stored' : 'confirmed'
    return {
      runId,
      state,
      patches: row.patches,
      differing: row.differing === null ? null : JSON.parse(row.differing) as PatchRecord[],
      createdAt: row.created_at,
    }
  }

  /** Reports of the version's runs that differ from its list: which runs. */
  async differingRuns (versionId: number): Promise<number[]> {
    const { rows } = await this.pool.query<{ run_id: number }>(`
      SELECT r.run_id FROM runs ru JOIN run_patch_reports r ON r.run_id = ru.id
      WHERE ru.version_id = $1 AND r.digest <> (SELECT digest FROM version_patch_lists WHERE version_id = $1) ORDER BY r.run_id`, [versionId])
    return rows.map(row => row.run_id)
  }
}

function patchOf (row: PatchRow): SeriesPatch {
  return { position: row.position, subject: row.subject, author: row.author, patchId: row.patch_id, files: JSON.parse(row.files) as string[], messageId: row.message_id }
}
