import type { CompareBucket, CompareResponse } from '../server/schemas/trends.ts'

/**
 * The HTTP client of the commands that talk to a running server (`ksft gate`, `ksft compare`).
 * It speaks only the public API, and checks every answer against the API's own schemas: a gate
 * must never pass on a response it did not understand (a proxy's login page, an older server).
 */

export class ApiError extends Error {
  constructor (readonly status: number | null, readonly code: string, message: string) {
    super(message)
    this.name = 'ApiError'
  }
}

export interface ClientOptions {
  /** A read, upload or admin token, sent as `Authorization: Bearer`. */
  token?: string
  timeoutMs?: number
}

export interface CompareQuery {
  base: string
  head: string
  machine?: string
  bucket?: CompareBucket
  limit?: number
  cursor?: string
}

/** The most the compare endpoint gives per page (server/schemas/trends.ts). */
export const COMPARE_PAGE_MAX = 1000
const DEFAULT_TIMEOUT_MS = 60_000

/**
 * The answers' validators, compiled at the first request: typebox takes longer to load than all
 * the rest of the CLI, and `ksft gate --help` or a wrong call needs none of it.
 */
async function compileValidators () {
  const [{ Compile }, { ErrorSchema }, { CompareSchema }] = await Promise.all([
    import('typebox/compile'), import('../server/schemas/common.ts'), import('../server/schemas/trends.ts'),
  ])
  return { compareResponse: Compile(CompareSchema), errorResponse: Compile(ErrorSchema) }
}
let validators: ReturnType<typeof compileValidators> | undefined
const answerValidators = () => (validators ??= compileValidators())

export class KsftApiClient {
  readonly baseUrl: string
  private readonly token: string | undefined
  private readonly timeoutMs: number

  constructor (baseUrl: string, options: ClientOptions = {}) {
    let url: URL
    try {
      url = new URL(baseUrl)
    } catch {
      throw new ApiError(null, 'BAD_SERVER_URL', `the server URL "${baseUrl}" is not an absolute URL`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ApiError(null, 'BAD_SERVER_URL', `the server URL must be http(s), not ${url.protocol}`)
    }
    this.baseUrl = url.href.replace(/\/+$/, '')
    this.token = options.token
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  }

  /** One page of GET /api/v1/series/:id/compare. `series` is an id or an exact name. */
  async compare (series: string, query: CompareQuery): Promise<CompareResponse> {
    const body = await this.getJson(`/api/v1/series/${encodeURIComponent(series)}/compare`, { ...query })
    const { compareResponse } = await answerValidators()
    if (!compareResponse.Check(body)) {
      throw new ApiError(200, 'BAD_RESPONSE', `${this.baseUrl} answered the comparison with something other than the compare API's shape; is it a ksft-dashboard server of this version?`)
    }
    return body
  }

  /** The whole comparison: every page followed, the entries in the server's order. */
  async compareAll (series: string, query: Omit<CompareQuery, 'cursor' | 'limit'>): Promise<CompareResponse> {
    const first = await this.compare(series, { ...query, limit: COMPARE_PAGE_MAX })
    const entries = [...first.entries]
    let cursor = first.nextCursor
    while (cursor !== null) {
      const page = await this.compare(series, { ...query, limit: COMPARE_PAGE_MAX, cursor })
      entries.push(...page.entries)
      cursor = page.nextCursor
    }
    return { ...first, entries, nextCursor: null }
  }

  /**
   * Any other JSON endpoint (the known issues of `ksft issue`): its answer as sent, its errors as
   * ApiError. The caller knows the shape from server/schemas.
   */
  async json<T> (method: 'GET' | 'POST' | 'PATCH', path: string, options: { query?: Record<string, string | number | undefined>, body?: unknown } = {}): Promise<T> {
    return await this.getJson(path, options.query ?? {}, method, options.body) as T
  }

  private async getJson (path: string, query: Record<string, string | number | undefined>, method = 'GET', body?: unknown): Promise<unknown> {
    const params = new URLSearchParams()
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value))
    const url = `${this.baseUrl}${path}${params.size > 0 ? `?${params.toString()}` : ''}`
    const headers: Record<string, string> = { accept: 'application/json' }
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    let res: Response
    try {
      res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutMs) })
    } catch (err) {
      const cause = (err as Error & { cause?: { code?: string, message?: string } }).cause
      const why = (err as Error).name === 'TimeoutError' ? `no answer within ${this.timeoutMs / 1000} s` : cause?.code ?? cause?.message ?? (err as Error).message
      throw new ApiError(null, 'UNREACHABLE', `cannot reach ${this.baseUrl}: ${why}`)
    }
    const text = await res.text()
    let answer: unknown
    try {
      answer = JSON.parse(text)
    } catch {
      throw new ApiError(res.status, res.ok ? 'BAD_RESPONSE' : `HTTP_${res.status}`,
        `${this.baseUrl} answered ${res.status} with something other than JSON: ${oneLine(text)}`)
    }
    if (!res.ok) {
      const { errorResponse } = await answerValidators()
      if (errorResponse.Check(answer)) throw new ApiError(res.status, answer.error.code, answer.error.message)
      throw new ApiError(res.status, `HTTP_${res.status}`, `${this.baseUrl} answered ${res.status}: ${oneLine(text)}`)
    }
    return answer
  }
}

function oneLine (text: string): string {
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > 200 ? `${line.slice(0, 200)}…` : line === '' ? '(empty)' : line
}
