import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { IngestOutcome, RunMetadata } from '../storage/rows.ts'
import type { Store } from '../storage/store.ts'
import { storedLog } from './ingest-log.ts'
import type { ParsePool } from './parse-pool.ts'

export interface UploadIngestDeps {
  pool: ParsePool
  store: Store
  /** The server's own spool directory (cleaned at start: see cleanSpool). */
  spoolRoot: string
}

/**
 * An upload, off the event loop: parsed in a worker (spooling its chunks), then stored, the store
 * answering other requests meanwhile. Nothing is stored unless all of it is.
 */
export async function ingestUpload (source: AsyncIterable<Buffer>, meta: RunMetadata, deps: UploadIngestDeps, options: { maxBytes: number }): Promise<IngestOutcome> {
  mkdirSync(deps.spoolRoot, { recursive: true })
  const dir = mkdtempSync(join(deps.spoolRoot, 'upload-'))
  try {
    const intake = await deps.pool.parse(source, dir, { maxBytes: options.maxBytes })
    return await deps.store.runs.ingest(meta, intake.parse, storedLog(dir, intake))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Removes what uploads of a previous server left in its spool (a SIGKILL leaves them): the spool is
 * the server's own directory, named for its store (Store.spoolRoot), so no other server's uploads are touched.
 */
export function cleanSpool (spoolRoot: string): number {
  let removed = 0
  try {
    for (const name of readdirSync(spoolRoot)) {
      if (!name.startsWith('upload-')) continue
      rmSync(join(spoolRoot, name), { recursive: true, force: true })
      removed++
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  return removed
}
