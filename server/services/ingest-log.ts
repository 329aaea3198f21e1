import { createHash } from 'node:crypto'
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { deflate, constants as zlibConstants } from 'node:zlib'
import { KselftestLogParser, type ParseResult } from '../../ingest/index.ts'
import { KsftError } from '../errors.ts'
import type { RunStore } from '../storage/run-store.ts'
import type { LogChunk, RunMetadata } from '../storage/types.ts'

const deflateAsync = promisify(deflate)

export const DEFAULT_MAX_LOG_BYTES = 256 * 1024 * 1024
/** Raw log bytes per stored chunk: small enough to inflate for a line range, large enough to compress well. */
const CHUNK_BYTES = 1024 * 1024
const MAX_PENDING_BYTES = 8 * CHUNK_BYTES

export interface IngestLogOptions {
  maxBytes?: number
  directCollection?: string
  /** Where the deflated log waits until the transaction; the system's temp dir by default. */
  spoolDir?: string
}

export interface IngestLogResult {
  runId: number
  created: boolean
  parse: ParseResult
}

/**
 * Streams a log into the store: parse, hash and deflate as the bytes arrive (memory stays bounded
 * whatever the log's size), spool the deflated chunks to a temp file, then store the run in one
 * transaction. Nothing is stored unless the whole log arrived and is a kselftest log.
 */
export async function ingestLog (source: AsyncIterable<Buffer | string>, meta: RunMetadata, store: RunStore, options: IngestLogOptions = {}): Promise<IngestLogResult> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_LOG_BYTES
  const parser = new KselftestLogParser({ directCollection: options.directCollection })
  const decoder = new TextDecoder('utf-8')
  const hash = createHash('sha256')
  const spool = new ChunkSpool(options.spoolDir ?? tmpdir())
  let bytes = 0
  try {
    for await (const piece of source) {
      const buffer = typeof piece === 'string' ? Buffer.from(piece) : piece
      bytes += buffer.length
      if (bytes > maxBytes) throw new KsftError('LOG_TOO_LARGE', `the log is larger than the limit of ${maxBytes} bytes`)
      hash.update(buffer)
      parser.push(decoder.decode(buffer, { stream: true }))
      await spool.add(buffer)
    }
    parser.push(decoder.decode())
    const parse = parser.end()
    await spool.finish()
    if (bytes === 0) throw new KsftError('EMPTY_LOG', 'the log is empty')
    if (parse.tests.length === 0) {
      throw new KsftError('NOT_KSELFTEST', `not a kselftest log: none of its ${parse.lineCount} lines is a "selftests:" test header or a TAP result line`)
    }
    const outcome = store.ingestRun(meta, parse, {
      sha256: hash.digest('hex'),
      bytes,
      lines: parse.lineCount,
      chunks: spool.read(),
    })
    return { ...outcome, parse }
  } finally {
    spool.dispose()
  }
}

/** Cuts the raw bytes into line-aligned chunks, deflates them, and keeps them in a temp file. */
class ChunkSpool {
  private readonly dir: string
  private readonly fd: number
  private pending: Buffer[] = []
  private pendingBytes = 0
  private nextLine = 1
  private offset = 0
  private readonly index: Array<{ offset: number, length: number, firstLine: number, lineCount: number }> = []

  constructor (parent: string) {
    this.dir = mkdtempSync(join(parent, 'ksft-upload-'))
    this.fd = openSync(join(this.dir, 'log.spool'), 'w+')
  }

  async add (buffer: Buffer): Promise<void> {
    this.pending.push(buffer)
    this.pendingBytes += buffer.length
    if (this.pendingBytes < CHUNK_BYTES) return
    const joined = Buffer.concat(this.pending, this.pendingBytes)
    let cut = joined.lastIndexOf(10)
    if (cut === -1) {
      if (joined.length < MAX_PENDING_BYTES) {
        this.pending = [joined]
        return
      }
      // a runaway line is stored across chunks rather than held whole (the reader joins them)
      cut = joined.length - 1
    }
    this.pending = cut + 1 < joined.length ? [joined.subarray(cut + 1)] : []
    this.pendingBytes = joined.length - cut - 1
    await this.write(joined.subarray(0, cut + 1))
  }

  async finish (): Promise<void> {
    if (this.pendingBytes > 0) await this.write(Buffer.concat(this.pending, this.pendingBytes), true)
    this.pending = []
    this.pendingBytes = 0
  }

  * read (): Generator<LogChunk> {
    for (const entry of this.index) {
      const content = Buffer.allocUnsafe(entry.length)
      readSync(this.fd, content, 0, entry.length, entry.offset)
      yield { firstLine: entry.firstLine, lineCount: entry.lineCount, content }
    }
  }

  dispose (): void {
    try { closeSync(this.fd) } catch {}
    rmSync(this.dir, { recursive: true, force: true })
  }

  private async write (raw: Buffer, last = false): Promise<void> {
    // lines that end in this chunk, and the unterminated last line of the log
    let lineCount = 0
    for (let i = raw.indexOf(10); i !== -1; i = raw.indexOf(10, i + 1)) lineCount++
    if (last && raw[raw.length - 1] !== 10) lineCount++
    const content = await deflateAsync(raw, { level: zlibConstants.Z_BEST_SPEED })
    writeSync(this.fd, content, 0, content.length, this.offset)
    this.index.push({ offset: this.offset, length: content.length, firstLine: this.nextLine, lineCount })
    this.offset += content.length
    this.nextLine += lineCount
  }
}
