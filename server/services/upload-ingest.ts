import { mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import type { IngestOutcome, RunMetadata } from '../storage/rows.ts'
import type { Store } from '../storage/store.ts'
import { storedLog } from './ingest-log.ts'
import type { ParsePool } from './parse-pool.ts'

/**
 * Where uploads wait while they are parsed and stored. The spool root is a directory of the temp
 * dir named for the store (Store.spoolRoot), which every server of that store on this host finds:
 * several nodes of one PostgreSQL database may run on one host. So each server process spools in a
 * directory of its own under it, `<spool root>/<pid>` (its spool dir), and an upload in a
 * directory of its own in that, `upload-*`, removed when the upload ends.
 */
export interface UploadIngestDeps {
  pool: ParsePool
  store: Store
  /** This process's spool dir (spoolDirOf), cleaned at start with what dead processes left: see cleanSpool. */
  spoolDir: string
}

/** The spool dir of process `pid` under a spool root. */
export function spoolDirOf (spoolRoot: string, pid = process.pid): string {
  return join(spoolRoot, String(pid))
}

/**
 * An upload, off the event loop: parsed in a worker (spooling its chunks), then stored, the store
 * answering other requests meanwhile. Nothing is stored unless all of it is.
 */
export async function ingestUpload (source: AsyncIterable<Buffer>, meta: RunMetadata, deps: UploadIngestDeps, options: { maxBytes: number }): Promise<IngestOutcome> {
  mkdirSync(deps.spoolDir, { recursive: true })
  const dir = mkdtempSync(join(deps.spoolDir, 'upload-'))
  try {
    const intake = await deps.pool.parse(source, dir, { maxBytes: options.maxBytes })
    return await deps.store.runs.ingest(meta, intake.parse, storedLog(dir, intake))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Removes what uploads of servers that are gone left under this process's spool root (a SIGKILL
 * leaves them), and never what a running server is receiving: this process's own spool dir
 * (`spoolDir`, left by an earlier process of the same pid), the spool dirs of processes that no
 * longer exist, and the uploads a server before spool dirs left in the root itself. Returns the
 * uploads removed.
 */
export function cleanSpool (spoolDir: string): number {
  const root = dirname(spoolDir)
  let removed = uploadsIn(spoolDir).length
  rmSync(spoolDir, { recursive: true, force: true })
  for (const name of entriesOf(root)) {
    const path = join(root, name)
    if (name.startsWith('upload-')) {
      rmSync(path, { recursive: true, force: true })
      removed++
    } else if (/^\d+$/.test(name) && name !== basename(spoolDir) && !processExists(Number(name))) {
      removed += uploadsIn(path).length
      rmSync(path, { recursive: true, force: true })
    }
  }
  return removed
}

/**
 * At close: this process's spool dir, then the spool root, each only when empty (another app of
 * this process, or another node, may still be receiving an upload there). Without it, every store
 * a server ever served left a directory in the temp dir.
 */
export function removeEmptySpool (spoolDir: string): void {
  for (const dir of [spoolDir, dirname(spoolDir)]) {
    try {
      rmdirSync(dir)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return
      if (code !== 'ENOENT') throw err
    }
  }
}

function uploadsIn (dir: string): string[] {
  return entriesOf(dir).filter(name => name.startsWith('upload-'))
}

function entriesOf (dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
}

/**
 * Whether a process of this id runs on this host: signal 0 checks without signalling. EPERM is a
 * process of another user, which exists. A pid the host gave again to another program keeps a dead
 * server's spool dir until that program ends: a leftover kept a while, never an upload removed.
 * Processes of another pid namespace are not seen: containers sharing a temp dir need one each.
 */
function processExists (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH'
  }
}
