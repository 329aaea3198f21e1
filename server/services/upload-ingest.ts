import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Database } from 'better-sqlite3'
import { setImmediate as turn } from 'node:timers/promises'
import type { RunStore } from '../storage/run-store.ts'
import type { IngestOutcome, RunMetadata } from '../storage/types.ts'
import { storedLog } from './ingest-log.ts'
import type { ParsePool } from './parse-pool.ts'
import type { WriteQueue } from './write-queue.ts'

/** How long one step of a run's insert holds the event loop, and how long another process's lock is waited for. */
export const WRITE_STEP_MS = 20
export const WRITE_BUSY_WAIT_MS = 10_000

export interface UploadIngestDeps {
  pool: ParsePool
  queue: WriteQueue
  /** The store on the write connection, and that connection. */
  writer: RunStore
  writeDb: Database
  /** False when the write connection is the readers' connection too (an in-memory database): then one synchronous transaction. */
  stepwise: boolean
  /** The server's own spool directory (cleaned at start: see cleanSpool). */
  spoolRoot: string
}

/**
 * An upload, off the event loop: parsed in a worker (spooling its chunks), then stored in steps
 * through the write queue. Nothing is stored unless all of it is.
 */
export async function ingestUpload (source: AsyncIterable<Buffer>, meta: RunMetadata, deps: UploadIngestDeps, options: { maxBytes: number }): Promise<IngestOutcome> {
  mkdirSync(deps.spoolRoot, { recursive: true })
  const dir = mkdtempSync(join(deps.spoolRoot, 'upload-'))
  try {
    const intake = await deps.pool.parse(source, dir, { maxBytes: options.maxBytes })
    return await deps.queue.run(() => deps.stepwise
      ? deps.writer.ingestRunInSteps(meta, intake.parse, storedLog(dir, intake), { stepMs: WRITE_STEP_MS, pause: () => turn(), busyWaitMs: WRITE_BUSY_WAIT_MS })
      : deps.writer.ingestRun(meta, intake.parse, storedLog(dir, intake)))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Removes what uploads of a previous server left in its spool (a SIGKILL leaves them): the spool is
 * the server's own directory, named for its database, so no other server's uploads are touched.
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

/** The spool of the server of database `db`: in the temp dir, named for the database file. */
export function spoolRootOf (db: Database): string {
  const name = db.memory ? `memory-${process.pid}` : createHash('sha256').update(resolve(db.name)).digest('hex').slice(0, 12)
  return join(tmpdir(), `ksft-dashboard-spool-${name}`)
}
