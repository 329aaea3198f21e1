import { createHash } from 'node:crypto'
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { deflate, constants as zlibConstants } from 'node:zlib'
import { KselftestLogParser, type ParseResult } from '../../ingest/index.ts'
import { KsftError } from '../errors.ts'
import type { LogChunk, RunMetadata, StoredLog } from '../storage/rows.ts'
import type { StoreRuns } from '../storage/store.ts'

const deflateAsync = promisify(deflate)

export const DEFAULT_MAX_LOG_BYTES = 256 * 1024 * 1024
/** Raw log bytes per stored chunk: small enough to inflate for a line range, large enough to compress well. */
const CHUNK_BYTES = 1024 * 1024
const MAX_PENDING_BYTES = 8 * CHUNK_BYTES
/** A gathering buffer: a chunk and the piece that fills it past CHUNK_BYTES (reads are 64 KB). */
const GATHER_BYTES = CHUNK_BYTES + 256 * 1024
/**
 * Chunks being deflated in zlib's threads while the parser goes on: the second core compresses
 * while the first parses. A few are enough to keep it busy; each holds a chunk of raw bytes.
 */
const MAX_DEFLATING = 3
// memLevel 9 deflates the same bytes about 10% faster than the default 8, to the same size. (A
// chunkSize holding a whole deflated chunk saved main-thread callbacks alone, but made the whole
// ingest of a 100 MB log slower, 1.06-1.58 s against 0.94-1.03 s in alternating runs.)
const DEFLATE_OPTIONS = { level: zlibConstants.Z_BEST_SPEED, memLevel: 9 }

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

/** Where a spooled log's deflated chunks are in its spool file. */
export interface SpoolEntry { offset: number, length: number, firstLine: number, lineCount: number }

/** What the intake of a whole log gives: everything the store needs besides the metadata. */
export interface IntakeResult {
  sha256: string
  bytes: number
  parse: ParseResult
  /** The spooled chunks, in `spoolFile(dir)` of the intake's directory. */
  spool: SpoolEntry[]
}

/**
 * Streams a log into the store: parse, hash and deflate as the bytes arrive (memory stays bounded
 * whatever the log's size), spool the deflated chunks to a temp file, then store the run whole.
 * Nothing is stored unless the whole log arrived and is a kselftest log.
 * (The server parses in a worker thread instead: services/upload-ingest.ts.)
 */
export async function ingestLog (source: AsyncIterable<Buffer | string>, meta: RunMetadata, store: { runs: Pick<StoreRuns, 'ingest'> }, options: IngestLogOptions = {}): Promise<IngestLogResult> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_LOG_BYTES
  const dir = mkdtempSync(join(options.spoolDir ?? tmpdir(), 'ksft-upload-'))
  const intake = new LogIntake(dir, { directCollection: options.directCollection })
  try {
    let bytes = 0
    for await (const piece of source) {
      const buffer = typeof piece === 'string' ? Buffer.from(piece) : piece
      bytes += buffer.length
      if (bytes > maxBytes) throw tooLarge(maxBytes)
      await intake.push(buffer)
    }
    const result = await intake.finish()
    const outcome = await store.runs.ingest(meta, result.parse, storedLog(dir, result))
    return { ...outcome, parse: result.parse }
  } finally {
    intake.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

export function tooLarge (maxBytes: number): KsftError {
  return new KsftError('LOG_TOO_LARGE', `the log is larger than the limit of ${maxBytes} bytes`)
}

/** The log as the store takes it, its chunks read back from the spool in `dir`: from the first again at each iteration. */
export function storedLog (dir: string, result: IntakeResult): StoredLog {
  const chunks = { [Symbol.iterator]: () => readSpool(spoolFile(dir), result.spool) }
  return { sha256: result.sha256, bytes: result.bytes, lines: result.parse.lineCount, chunks }
}

export function spoolFile (dir: string): string {
  return join(dir, 'log.spool')
}

/**
 * The parse, hash and spool of one log, fed a buffer at a time: the same work in `ingestLog` and
 * in the server's parse worker. `dir` is an empty directory the caller made and removes.
 */
export class LogIntake {
  private readonly parser: KselftestLogParser
  private readonly decoder = new TextDecoder('utf-8')
  private readonly hash = createHash('sha256')
  private readonly spool: ChunkSpool
  private bytes = 0

  constructor (dir: string, options: { directCollection?: string } = {}) {
    this.parser = new KselftestLogParser({ directCollection: options.directCollection })
    this.spool = new ChunkSpool(spoolFile(dir))
  }

  async push (buffer: Buffer): Promise<void> {
    this.bytes += buffer.length
    this.hash.update(buffer)
    this.parser.push(this.decoder.decode(buffer, { stream: true }))
    await this.spool.add(buffer, this.parser.linesEnded)
  }

  /** The whole log's result; throws EMPTY_LOG or NOT_KSELFTEST when there is nothing to store. */
  async finish (): Promise<IntakeResult> {
    this.parser.push(this.decoder.decode())
    const linesEnded = this.parser.linesEnded
    const parse = this.parser.end()
    await this.spool.finish(linesEnded)
    this.spool.close()
    if (this.bytes === 0) throw new KsftError('EMPTY_LOG', 'the log is empty')
    if (parse.tests.length === 0) {
      throw new KsftError('NOT_KSELFTEST', `not a kselftest log: none of its ${parse.lineCount} lines is a "selftests:" test header or a TAP result line`)
    }
    return { sha256: this.hash.digest('hex'), bytes: this.bytes, parse, spool: this.spool.index }
  }

  close (): void {
    this.spool.close()
  }
}

/**
 * The chunks in order. One buffer is read into again and again, so a chunk's bytes last until the
 * next chunk is read (the store copies them as it inserts them): a 1 GB log's 200 MB of chunks
 * would otherwise pile up as garbage inside the one synchronous transaction.
 */
function * readSpool (path: string, index: SpoolEntry[]): Generator<LogChunk> {
  const fd = openSync(path, 'r')
  try {
    const buffer = Buffer.allocUnsafe(index.reduce((longest, entry) => Math.max(longest, entry.length), 1))
    for (const entry of index) {
      const content = buffer.subarray(0, entry.length)
      readSync(fd, content, 0, entry.length, entry.offset)
      yield { firstLine: entry.firstLine, lineCount: entry.lineCount, content }
    }
  } finally {
    closeSync(fd)
  }
}

interface DeflatingChunk {
  content: Promise<Buffer>
  firstLine: number
  lineCount: number
  /** The gathering buffer the chunk was cut from, or null. */
  buffer: Buffer | null
}

/**
 * Cuts the raw bytes into line-aligned chunks, deflates them in zlib's thread pool, and keeps them
 * in a temp file, in order. Lines are counted by the parser, which sees every newline anyway:
 * counting them again over the bytes cost the main thread 15-25 ms per 100 MB.
 *
 * The bytes are gathered in a few buffers that are used again once their chunk is written: the
 * pieces as they came, then joined into a new buffer for each chunk, were garbage outside V8's
 * heap that it frees only when it collects, and a parse that makes little garbage of its own
 * collects seldom (a 1 GB upload's parse worker held 70 MB of such buffers).
 */
class ChunkSpool {
  private fd: number | null
  /** The chunk being gathered, and how much of it is filled. */
  private gathering: Buffer
  private filled = 0
  /** Buffers whose chunk is written, for the chunks to come. */
  private readonly spare: Buffer[] = []
  private nextLine = 1
  private linesCut = 0
  private offset = 0
  private readonly deflating: DeflatingChunk[] = []
  readonly index: SpoolEntry[] = []

  constructor (path: string) {
    this.fd = openSync(path, 'w')
    this.gathering = Buffer.allocUnsafe(GATHER_BYTES)
  }

  /** `linesEnded`: the newlines in every byte added so far, this buffer's included. */
  async add (buffer: Buffer, linesEnded: number): Promise<void> {
    if (this.filled + buffer.length > this.gathering.length) {
      // a piece larger than the room left (a runaway line, a log given whole): a larger buffer, with
      // room for as much again as a chunk, which is not used again
      const larger = Buffer.allocUnsafe(this.filled + buffer.length + GATHER_BYTES)
      this.gathering.copy(larger, 0, 0, this.filled)
      this.gathering = larger
    }
    buffer.copy(this.gathering, this.filled)
    this.filled += buffer.length
    if (this.filled < CHUNK_BYTES) return
    let cut = this.gathering.lastIndexOf(10, this.filled - 1)
    if (cut === -1) {
      if (this.filled < MAX_PENDING_BYTES) return
      // a runaway line is stored across chunks rather than held whole (the reader joins them)
      cut = this.filled - 1
    }
    // the cut is at the last newline so far (or, for a runaway line, where none is): every line
    // ended so far ends in this chunk or an earlier one
    const full = this.gathering
    const rest = this.filled - cut - 1
    this.gathering = this.spare.pop() ?? Buffer.allocUnsafe(GATHER_BYTES)
    if (this.gathering.length < rest) this.gathering = Buffer.allocUnsafe(Math.max(GATHER_BYTES, rest))
    full.copy(this.gathering, 0, cut + 1, this.filled)
    this.filled = rest
    this.deflate(full.subarray(0, cut + 1), linesEnded - this.linesCut, full)
    this.linesCut = linesEnded
    if (this.deflating.length >= MAX_DEFLATING) await this.writeOldest()
  }

  async finish (linesEnded: number): Promise<void> {
    if (this.filled > 0) {
      const rest = this.gathering.subarray(0, this.filled)
      // and the unterminated last line of the log
      this.deflate(rest, linesEnded - this.linesCut + (rest[rest.length - 1] === 10 ? 0 : 1), null)
    }
    this.filled = 0
    while (this.deflating.length > 0) await this.writeOldest()
  }

  close (): void {
    if (this.fd === null) return
    try { closeSync(this.fd) } catch {}
    this.fd = null
  }

  /** `buffer` (the chunk's own, or null) is used again once the chunk is written. */
  private deflate (raw: Buffer, lineCount: number, buffer: Buffer | null): void {
    const content = deflateAsync(raw, DEFLATE_OPTIONS)
    // an upload that fails half way leaves chunks nobody awaits: their failure is not news
    content.catch(() => {})
    this.deflating.push({ content, firstLine: this.nextLine, lineCount, buffer })
    this.nextLine += lineCount
  }

  private async writeOldest (): Promise<void> {
    const chunk = this.deflating[0]!
    const content = await chunk.content
    this.deflating.shift()
    if (chunk.buffer !== null && chunk.buffer.length === GATHER_BYTES) this.spare.push(chunk.buffer)
    writeSync(this.fd!, content, 0, content.length, this.offset)
    this.index.push({ offset: this.offset, length: content.length, firstLine: chunk.firstLine, lineCount: chunk.lineCount })
    this.offset += content.length
  }
}
