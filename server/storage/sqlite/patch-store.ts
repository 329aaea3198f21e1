import type { Database } from 'better-sqlite3'
import { digestOf, type PatchRecord, type ReportState, type SeriesPatch } from '../../domain/patch-list.ts'
import type { RunPatchReport, VersionPatchList } from '../rows.ts'

/**
 * The series' patches per version (migrations/007-series-identity.sql): the first list a run of a
 * version reports becomes the version's; later reports confirm it (and fill in Message-IDs it
 * lacked) or are kept as a difference. Every statement is prepared once.
 */
export class PatchStore {
  private readonly s: ReturnType<typeof prepare>

  constructor (private readonly db: Database, private readonly clock: () => Date = () => new Date()) {
    this.s = prepare(db)
  }

  /** Records what run `runId` (of version `versionId`) reported, in one transaction. */
  report (runId: number, versionId: number, patches: readonly PatchRecord[]): RunPatchReport {
    const now = this.clock().toISOString()
    const digest = digestOf(patches)
    return this.db.transaction(() => {
      const list = this.s.versionList.get(versionId) as { digest: string } | undefined
      let state: ReportState
      if (list === undefined) {
        this.s.insertList.run(versionId, digest, runId, now)
        patches.forEach((patch, i) => this.s.insertPatch.run({ ...columnsOf(patch), version: versionId, position: i + 1 }))
        state = 'stored'
      } else if (list.digest === digest) {
        // the same patches: what this report knows of their mails completes the list
        patches.forEach((patch, i) => { if (patch.messageId !== null) this.s.fillMessageId.run(patch.messageId, versionId, i + 1) })
        state = 'confirmed'
      } else {
        state = 'differs'
      }
      const differing = state === 'differs' ? [...patches] : null
      this.s.upsertReport.run(runId, digest, patches.length, differing === null ? null : JSON.stringify(differing), now)
      this.s.bumpCounter.run()
      return { runId, state, patches: patches.length, differing, createdAt: now }
    }).immediate()
  }

  /** The version's list, or null when no run of it reported one. */
  versionList (versionId: number): VersionPatchList | null {
    const list = this.s.versionListRow.get(versionId) as { digest: string, run_id: number | null, created_at: string } | undefined
    if (list === undefined) return null
    const patches = (this.s.patches.all(versionId) as PatchRow[]).map(patchOf)
    return { versionId, digest: list.digest, runId: list.run_id, createdAt: list.created_at, patches }
  }

  /** What the run reported, or null when it sent no list. */
  runReport (runId: number, versionDigest: string | null): RunPatchReport | null {
    const row = this.s.report.get(runId) as { digest: string, patches: number, differing: string | null, created_at: string, brought: number } | undefined
    if (row === undefined) return null
    const state: ReportState = row.digest !== versionDigest ? 'differs' : row.brought === 1 ? 'stored' : 'confirmed'
    return {
      runId,
      state,
      patches: row.patches,
      differing: row.differing === null ? null : JSON.parse(row.differing) as PatchRecord[],
      createdAt: row.created_at,
    }
  }

  /** Reports of the version's runs that differ from its list: how many, and which runs. */
  differingRuns (versionId: number): number[] {
    return this.s.differingRuns.all({ version: versionId }) as number[]
  }
}

interface PatchRow { position: number, subject: string, author: string | null, patch_id: string, files: string, message_id: string | null }

function patchOf (row: PatchRow): SeriesPatch {
  return { position: row.position, subject: row.subject, author: row.author, patchId: row.patch_id, files: JSON.parse(row.files) as string[], messageId: row.message_id }
}

function columnsOf (patch: PatchRecord) {
  return { subject: patch.subject, author: patch.author, patch_id: patch.patchId, files: JSON.stringify(patch.files), message_id: patch.messageId }
}

function prepare (db: Database) {
  return {
    versionList: db.prepare('SELECT digest FROM version_patch_lists WHERE version_id = ?'),
    versionListRow: db.prepare('SELECT digest, run_id, created_at FROM version_patch_lists WHERE version_id = ?'),
    insertList: db.prepare('INSERT INTO version_patch_lists (version_id, digest, run_id, created_at) VALUES (?, ?, ?, ?)'),
    insertPatch: db.prepare(`
      INSERT INTO version_patches (version_id, position, subject, author, patch_id, files, message_id)
      VALUES (@version, @position, @subject, @author, @patch_id, @files, @message_id)`),
    fillMessageId: db.prepare('UPDATE version_patches SET message_id = coalesce(message_id, ?) WHERE version_id = ? AND position = ?'),
    upsertReport: db.prepare(`
      INSERT INTO run_patch_reports (run_id, digest, patches, differing, created_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (run_id) DO UPDATE SET digest = excluded.digest, patches = excluded.patches, differing = excluded.differing, created_at = excluded.created_at`),
    patches: db.prepare('SELECT position, subject, author, patch_id, files, message_id FROM version_patches WHERE version_id = ? ORDER BY position'),
    report: db.prepare(`
      SELECT r.digest, r.patches, r.differing, r.created_at,
        EXISTS (SELECT 1 FROM version_patch_lists l WHERE l.run_id = r.run_id) AS brought
      FROM run_patch_reports r WHERE r.run_id = ?`),
    differingRuns: db.prepare(`
      SELECT r.run_id FROM runs ru JOIN run_patch_reports r ON r.run_id = ru.id
      WHERE ru.version_id = @version AND r.digest <> (SELECT digest FROM version_patch_lists WHERE version_id = @version) ORDER BY r.run_id`).pluck(),
    bumpCounter: db.prepare("UPDATE store_state SET value = value + 1 WHERE key = 'write_counter'"),
  }
}
