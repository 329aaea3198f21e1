import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { createGzip } from 'node:zlib'
import type { Command } from 'commander'
import { STATUSES } from '../../ingest/vocabulary.ts'
import { BASE_VERSION, normalizeVersionLabel } from '../../server/domain/version-label.ts'
import { ExitCode } from '../exit-code.ts'
import { addMetadataOptions, rawMetadataOf, type MetadataFlags } from './options.ts'

interface UploadFlags extends MetadataFlags {
  server?: string
  token?: string
  tree?: string
  /** commander's --no-patches: false when given */
  patches: boolean
  patchList?: string
}

/** How often and how patiently to try again; the hook reads the same variables. */
export interface RetryPolicy {
  retries: number
  /** Seconds before the first retry, doubled after each. */
  delaySeconds: number
}

// the server's answers are small JSON; only the start of anything else is worth showing
const MAX_ANSWER_BYTES = 64 * 1024
const MAX_RETRY_AFTER_SECONDS = 300

export function registerUpload (program: Command): void {
  const command = program.command('upload')
    .description('send a kselftest log (a file, or - for stdin) to a ksft-dashboard server, gzipped')
    .argument('<file>', 'the log file, or - to read standard input')
  addMetadataOptions(command)
    .option('--server <url>', 'the dashboard, e.g. http://dash:8080 (env KSFT_SERVER)')
    .option('--token <token>', 'an upload token (env KSFT_TOKEN, which keeps it out of ps)')
    .option('--tree <dir>', "the kernel git tree whose series' patches (--base-commit..HEAD) are sent after the log (default: the current directory, when it is one)")
    .option('--patch-list <file.json>', 'send this patch list instead ({"patches": [...]}, as PUT /api/v1/runs/:id/patches takes it)')
    .option('--no-patches', "do not send the series' patches")
    .addHelpText('after', '\nKSFT_RETRIES (default 4) and KSFT_RETRY_DELAY (seconds, default 2, doubled each time) set\nthe retries after a network error, a 5xx or a 429; a 4xx is never retried.')
    .action(async (file: string, flags: UploadFlags) => {
      const server = flags.server ?? process.env.KSFT_SERVER
      const token = flags.token ?? process.env.KSFT_TOKEN
      if (!server) throw new ExitCode(2, 'error: no server: pass --server http://dash:8080 or set KSFT_SERVER')
      if (!/^https?:\/\/\S+$/.test(server)) throw new ExitCode(2, `error: the server must be an http:// or https:// URL, not "${server}"`)
      if (!token) throw new ExitCode(2, 'error: no token: set KSFT_TOKEN or pass --token (ksft token create makes one)')
      const raw = rawMetadataOf(flags)
      // the server checks again; checking here first answers a typo without a network round trip
      const { parseRunMetadata } = await import('../../server/domain/run-metadata.ts')
      parseRunMetadata(raw)
      const base = server.replace(/\/+$/, '')
      const query = Object.entries(raw).map(([key, value]) => `${key}=${encodeURIComponent(String(value))}`).join('&')
      const url = new URL(`${base}/api/v1/runs?${query}`)
      const policy = retryPolicyFromEnv(process.env)
      const tty = process.stderr.isTTY ? process.stderr : null

      const patches = await patchListOf(flags, raw)
      const spoolDir = file === '-' ? mkdtempSync(join(tmpdir(), 'ksft-upload-')) : null
      try {
        const body = spoolDir ? await spoolStdin(spoolDir, tty) : fileBody(file, tty)
        const answer = await uploadWithRetries(url, token, body, policy)
        process.stderr.write(`ksft: ${describeRun(answer)}\n`)
        if (answer.seriesNote !== null) process.stderr.write(`ksft: ${answer.seriesNote}\n`)
        if ('none' in patches) {
          if (patches.none !== '') process.stderr.write(`ksft: no patch list sent: ${patches.none}\n`)
        } else {
          process.stderr.write(`ksft: ${await sendPatchList(new URL(`${base}/api/v1/runs/${answer.id}/patches`), token, patches.body, policy)}\n`)
        }
        process.stdout.write(`${base}${answer.url}\n`)
      } finally {
        if (spoolDir) rmSync(spoolDir, { recursive: true, force: true })
      }
    })
}

/**
 * What goes after the log: a list given in a file, else the series' patches of the kernel tree
 * (bin/git-patches.ts) from the base commit; `none` says why nothing does ('' when asked not to).
 */
async function patchListOf (flags: UploadFlags, raw: Record<string, unknown>): Promise<{ body: string } | { none: string }> {
  if (!flags.patches) return { none: '' }
  if (flags.patchList !== undefined) {
    try {
      return { body: readFileSync(flags.patchList, 'utf8') }
    } catch (err) {
      throw new ExitCode(2, `error: cannot read ${flags.patchList}: ${readProblem(err)}`)
    }
  }
  const { kernelTreeOf, seriesPatches } = await import('../git-patches.ts')
  const tree = kernelTreeOf(flags.tree ?? process.cwd())
  if (tree === null) return { none: flags.tree === undefined ? '' : `${flags.tree} is not a kernel git tree` }
  if (normalizeVersionLabel(String(raw.version)) === BASE_VERSION) return { none: 'the base version has no patches' }
  if (flags.baseCommit === undefined) return { none: 'no base commit (give --base-commit)' }
  const found = seriesPatches(tree, flags.baseCommit)
  return 'none' in found ? found : { body: JSON.stringify({ patches: found.patches }) }
}

/** The patch list after the log: the run is stored whatever happens here, so a refusal is said, not fatal. */
async function sendPatchList (url: URL, token: string, json: string, policy: RetryPolicy): Promise<string> {
  const body: UploadBody = { open: () => Readable.from([Buffer.from(json)]), length: Buffer.byteLength(json), progress: () => new Progress(null, '', null) }
  let answer: Answer
  try {
    answer = await requestWithRetries(url, token, body, policy, { method: 'PUT', headers: { 'content-type': 'application/json' } })
  } catch (err) {
    return `warning: the patch list was not sent: ${(err as Error).message}`
  }
  if (answer.status === 404) return `warning: the server keeps no patch lists (404 ${serverMessage(answer.text)}); the run is stored without one`
  if (answer.status !== 200) return `warning: the server refused the patch list (${answer.status} ${serverMessage(answer.text)}); the run is stored without one`
  const reply = JSON.parse(answer.text) as { report?: { state?: string, patches?: number }, version?: { label?: string } }
  const { state, patches } = reply.report ?? {}
  const label = reply.version?.label ?? 'the version'
  const counted = `${patches} ${patches === 1 ? 'patch' : 'patches'}`
  return state === 'stored' ? `patch list of ${counted} stored as ${label}'s`
    : state === 'confirmed' ? `patch list of ${counted}: the same as ${label}'s`
      : `patch list of ${counted} differs from the one ${label} has: kept apart`
}

export function retryPolicyFromEnv (env: NodeJS.ProcessEnv): RetryPolicy {
  const retries = env.KSFT_RETRIES || '4'
  const delay = env.KSFT_RETRY_DELAY || '2'
  if (!/^\d+$/.test(retries)) throw new ExitCode(2, `error: KSFT_RETRIES must be a number, not "${retries}"`)
  if (!/^\d+(\.\d+)?$/.test(delay)) throw new ExitCode(2, `error: KSFT_RETRY_DELAY must be seconds, not "${delay}"`)
  return { retries: Number(retries), delaySeconds: Number(delay) }
}

/** What to send: a fresh gzipped stream for every attempt, so that a retry sends the same bytes. */
interface UploadBody {
  open: () => Readable
  /** The length of what open() yields, when known in advance (a spooled file). */
  length: number | null
  progress: (attempt: number) => Progress
}

function fileBody (file: string, tty: NodeJS.WriteStream | null): UploadBody {
  let size: number
  try {
    const stat = statSync(file)
    if (stat.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' })
    size = stat.size
  } catch (err) {
    throw new Error(`cannot read ${file}: ${readProblem(err)}`)
  }
  let progress: Progress | null = null
  return {
    length: null,
    progress: (attempt) => (progress = new Progress(tty, attemptLabel(`uploading ${basename(file)}`, attempt), size)),
    // the log is compressed as it is read: a 1 GB log never sits in memory, nor on disk twice
    open: () => createReadStream(file).pipe(counter(n => progress?.add(n))).pipe(createGzip()),
  }
}

/** Standard input can be read once only; its gzip goes to a temp file that every attempt re-reads. */
async function spoolStdin (dir: string, tty: NodeJS.WriteStream | null): Promise<UploadBody> {
  const path = join(dir, 'log.gz')
  const reading = new Progress(tty, 'reading standard input', null)
  try {
    await pipeline(process.stdin, counter(n => reading.add(n)), createGzip(), createWriteStream(path))
  } catch (err) {
    throw new Error(`cannot read standard input: ${readProblem(err)}`)
  } finally {
    reading.done()
  }
  const length = statSync(path).size
  let progress: Progress | null = null
  return {
    length,
    progress: (attempt) => (progress = new Progress(tty, attemptLabel('uploading', attempt), length)),
    open: () => createReadStream(path).pipe(counter(n => progress?.add(n))),
  }
}

function attemptLabel (label: string, attempt: number): string {
  return attempt === 1 ? label : `${label} (attempt ${attempt})`
}

function readProblem (err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message
}

function counter (onBytes: (n: number) => void): Transform {
  return new Transform({
    transform (chunk: Buffer, _encoding, done) {
      onBytes(chunk.length)
      done(null, chunk)
    },
  })
}

export interface UploadAnswer {
  status: number
  id: number
  url: string
  summary: Record<string, number>
  /** Where the run went, when its title does not name that series exactly (the answer's seriesMatch). */
  seriesNote: string | null
}

/** The method and headers of a request beside its body. */
interface RequestShape {
  method: 'POST' | 'PUT'
  headers: Record<string, string>
}

const LOG_UPLOAD: RequestShape = { method: 'POST', headers: { 'content-type': 'text/plain', 'content-encoding': 'gzip' } }

/** An HTTP answer, whatever its status. */
interface Answer {
  status: number
  retryAfter: string | undefined
  text: string
}

/** The request never got an answer: refused, reset, timed out, unresolvable. Worth another try. */
class NetworkError extends Error {}

/** The log could not be read or compressed: no retry can help. */
class LocalError extends Error {}

export async function uploadWithRetries (url: URL, token: string, body: UploadBody, policy: RetryPolicy): Promise<UploadAnswer> {
  const answer = await requestWithRetries(url, token, body, policy, LOG_UPLOAD)
  if (answer.status === 200 || answer.status === 201) return runOf(answer, serverOf(url))
  throw new Error(`the server refused the upload (${answer.status} ${serverMessage(answer.text)})`)
}

/** The server a request goes to, as the user named it: the URL without the API's path. */
function serverOf (url: URL): string {
  return url.origin + url.pathname.replace(/\/api\/v1\/runs(?:\/.*)?$/, '')
}

/** A request, retried after a network error, a 5xx or a 429; the first other answer is returned. */
async function requestWithRetries (url: URL, token: string, body: UploadBody, policy: RetryPolicy, shape: RequestShape): Promise<Answer> {
  const where = serverOf(url)
  let delay = policy.delaySeconds
  for (let attempt = 1; ; attempt++) {
    const progress = body.progress(attempt)
    let problem: string
    let pause = delay
    try {
      const answer = await send(url, token, body, shape)
      // 429 is the rate limit: nothing was stored and the same request is welcome later
      if (answer.status < 500 && answer.status !== 429) return answer
      problem = `the server answered ${answer.status} (${serverMessage(answer.text)})`
      const retryAfter = Number(answer.retryAfter)
      if (answer.retryAfter !== undefined && Number.isFinite(retryAfter) && retryAfter >= 0 && retryAfter <= MAX_RETRY_AFTER_SECONDS) pause = retryAfter
    } catch (err) {
      if (!(err instanceof NetworkError)) throw err
      problem = `cannot reach ${where}: ${err.message}`
    } finally {
      progress.done()
    }
    if (attempt > policy.retries) throw new Error(`giving up after ${attempt} attempts: ${problem}`)
    process.stderr.write(`ksft: ${problem}; retrying in ${pause}s (${attempt} of ${policy.retries + 1} attempts made)\n`)
    await sleep(pause * 1000)
    delay *= 2
  }
}

async function send (url: URL, token: string, body: UploadBody, shape: RequestShape): Promise<Answer> {
  const source = body.open()
  let readError: Error | null = null
  source.on('error', (err) => { readError = err })
  let response: Response
  try {
    // fetch (undici) rather than http.request: when the server refuses before the log is sent (a bad
    // token) and closes the connection, http.request loses the answer to EPIPE now and then
    response = await fetch(url, {
      method: shape.method,
      headers: { authorization: `Bearer ${token}`, ...shape.headers },
      body: Readable.toWeb(source) as ReadableStream<Uint8Array>,
      duplex: 'half',
    } as RequestInit)
  } catch (err) {
    source.destroy()
    if (readError) throw new LocalError(`cannot read the log: ${readProblem(readError)}`)
    const cause = (err as Error & { cause?: Error }).cause
    // fetch refuses the ports of the fetch standard's block list (6000, 10080 ...) whatever happens
    if (cause?.message === 'bad port') throw new LocalError(`${url.host}: fetch refuses to connect to port ${url.port}; serve the dashboard on another port`)
    throw new NetworkError(cause?.message ?? (err as Error).message)
  }
  try {
    return { status: response.status, retryAfter: response.headers.get('retry-after') ?? undefined, text: await startOf(response) }
  } catch (err) {
    throw new NetworkError(`the answer broke off: ${(err as Error).message}`)
  } finally {
    // the server may have answered before the whole log went out (a bad token): stop reading it,
    // but only now, as fetch gives up on the answer too when its body fails
    source.destroy()
  }
}

async function startOf (response: Response): Promise<string> {
  if (!response.body) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  while (size < MAX_ANSWER_BYTES) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(value)
    size += value.length
  }
  await reader.cancel()
  return Buffer.concat(chunks).toString('utf8')
}

function runOf (answer: Answer, where: string): UploadAnswer {
  let json: { id?: unknown, url?: unknown, summary?: unknown, seriesMatch?: { note?: unknown } }
  try {
    json = JSON.parse(answer.text)
  } catch {
    json = {}
  }
  if (typeof json.id !== 'number' || typeof json.url !== 'string') {
    throw new Error(`${where} answered ${answer.status} without a run: is it a ksft-dashboard? (${serverMessage(answer.text)})`)
  }
  const summary = typeof json.summary === 'object' && json.summary !== null ? json.summary as Record<string, number> : {}
  const note = json.seriesMatch?.note
  return { status: answer.status, id: json.id, url: json.url, summary, seriesNote: typeof note === 'string' ? note : null }
}

/** `CODE: message` from the API's error shape, or the start of whatever else answered. */
export function serverMessage (text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown, message?: unknown } }
    if (body.error && typeof body.error.message === 'string') {
      return `${typeof body.error.code === 'string' ? body.error.code : 'error'}: ${body.error.message}`
    }
  } catch {}
  const start = text.replace(/\s+/g, ' ').trim().slice(0, 200)
  return start === '' ? 'an empty answer' : `not a ksft-dashboard answer: ${start}`
}

function describeRun (answer: UploadAnswer): string {
  const state = answer.status === 201 ? 'stored' : 'already stored (same log and metadata)'
  const counts = STATUSES.filter(status => (answer.summary[status] ?? 0) > 0).map(status => `${answer.summary[status]} ${status}`)
  return `run ${answer.id} ${state}: ${answer.summary.total ?? 0} tests: ${counts.join(', ')}`
}

const BAR_WIDTH = 30

/** One progress line, e.g. `uploading ksft.log [#######-------]  45%  460.2 MiB / 1.0 GiB`. */
export function renderProgress (label: string, done: number, total: number | null): string {
  if (total === null || total === 0) return `${label}  ${formatBytes(done)}`
  const fraction = Math.min(1, done / total)
  const filled = Math.round(fraction * BAR_WIDTH)
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4)
  return `${label} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${percent}  ${formatBytes(done)} / ${formatBytes(total)}`
}

export function formatBytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`
}

/** A progress line redrawn in place on a terminal; nothing at all elsewhere (CI logs, pipes). */
class Progress {
  private bytes = 0
  private drawnAt = 0
  private drawn = false

  constructor (private readonly out: NodeJS.WriteStream | null, private readonly label: string, private readonly total: number | null) {}

  add (n: number): void {
    this.bytes += n
    // redrawing on every 64 KiB chunk would cost more than the upload on a slow terminal
    const now = Date.now()
    if (this.out && now - this.drawnAt >= 100) this.draw(now)
  }

  done (): void {
    if (!this.out || !this.drawn) return
    this.draw(Date.now())
    this.out.write('\n')
    this.drawn = false
  }

  private draw (now: number): void {
    this.drawnAt = now
    this.drawn = true
    const line = renderProgress(this.label, this.bytes, this.total)
    // a pseudo-terminal may report 0 columns
    const columns = this.out!.columns > 0 ? this.out!.columns : 80
    this.out!.write(`\r${line.slice(0, Math.max(20, columns - 1))}\u001b[K`)
  }
}
