/**
 * The dashboard's only way to the data: the public JSON API, the same one scripts use. The response
 * types come from the API's schemas, so the client and the server cannot drift apart silently.
 */
import type { Static } from 'typebox'
import type { LogSliceSchema, RunResultsSchema, RunResponse } from '../../server/schemas/runs.ts'
import type {
  CollectionsResponse, CompareResponse, FlakyResponse, HistoryResponse, MachinesSchema, MatrixResponse, SeriesItem, SeriesListSchema, TrendResponse,
} from '../../server/schemas/trends.ts'

import type { IssueBody, IssueDetailSchema, IssueListSchema, IssueView, UntriagedSchema } from '../../server/schemas/issues.ts'

export type IssueList = Static<typeof IssueListSchema>
export type IssueDetail = Static<typeof IssueDetailSchema>
export type Untriaged = Static<typeof UntriagedSchema>
export type { CollectionsResponse, CompareResponse, FlakyResponse, HistoryResponse, MatrixResponse, RunResponse, SeriesItem, TrendResponse }
export type SeriesList = Static<typeof SeriesListSchema>
export type MachineList = Static<typeof MachinesSchema>
export type RunResults = Static<typeof RunResultsSchema>
export type LogSlice = Static<typeof LogSliceSchema>

export type Params = Record<string, string | readonly string[] | number | null | undefined>

export class ApiError extends Error {
  constructor (readonly status: number, readonly code: string, message: string) {
    super(message)
  }
}

/** `path?query`, leaving out empty parameters; a list repeats its name (subtest=a&subtest=b). */
export function withQuery (path: string, params: Params = {}): string {
  const query = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue
    if (Array.isArray(value)) for (const item of value as readonly string[]) query.append(key, item)
    else query.append(key, String(value))
  }
  const text = query.toString()
  return text ? `${path}?${text}` : path
}

async function request (path: string, signal?: AbortSignal): Promise<Response> {
  const res = await fetch(path, { signal, headers: { accept: 'application/json, text/plain' } })
  if (!res.ok) throw await errorOf(res)
  return res
}

async function errorOf (res: Response): Promise<ApiError> {
  let code = 'HTTP_ERROR'
  let message = `${res.status} ${res.statusText}`
  try {
    const body = await res.json() as { error?: { code?: string, message?: string } }
    code = body.error?.code ?? code
    message = body.error?.message ?? message
  } catch {}
  return new ApiError(res.status, code, message)
}

/** An admin's write (a known issue, a rename, a merge): a POST with the admin token the user typed. */
export async function adminPost<T> (path: string, body: unknown, token: string): Promise<T> {
  const res = await fetch(path, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  })
  if (!res.ok) throw await errorOf(res)
  return await res.json() as T
}

/** Records a known issue (POST /api/v1/issues). */
export async function createIssue (body: IssueBody, token: string): Promise<IssueView> {
  return await adminPost<IssueView>('/api/v1/issues', body, token)
}

async function json<T> (path: string, signal?: AbortSignal): Promise<T> {
  return await (await request(path, signal)).json() as T
}

const series = (id: string | number) => `/api/v1/series/${encodeURIComponent(String(id))}`

/** The API twin of each page, by the same parameter names. */
export const apiPaths = {
  seriesList: (params: Params = {}) => withQuery('/api/v1/series', params),
  series: (id: string) => series(id),
  seriesRename: (id: string) => `${series(id)}/rename`,
  seriesMerge: (id: string) => `${series(id)}/merge`,
  machineRename: (name: string) => `/api/v1/machines/${encodeURIComponent(name)}/rename`,
  machineMerge: (name: string) => `/api/v1/machines/${encodeURIComponent(name)}/merge`,
  trend: (id: string, params: Params = {}) => withQuery(`${series(id)}/trend`, params),
  collections: (id: string) => `${series(id)}/collections`,
  compare: (id: string, params: Params) => withQuery(`${series(id)}/compare`, params),
  matrix: (id: string, params: Params = {}) => withQuery(`${series(id)}/matrix`, params),
  flaky: (id: string, params: Params = {}) => withQuery(`${series(id)}/flaky`, params),
  summaryText: (id: string, params: Params) => withQuery(`${series(id)}/summary.txt`, params),
  history: (params: Params) => withQuery('/api/v1/tests/history', params),
  machines: (params: Params = {}) => withQuery('/api/v1/machines', params),
  run: (id: number) => `/api/v1/runs/${id}`,
  results: (id: number, cursor = 0) => cursor === 0 ? `/api/v1/runs/${id}/results` : withQuery(`/api/v1/runs/${id}/results`, { cursor }),
  log: (id: number, from: number, to: number) => withQuery(`/api/v1/runs/${id}/log`, { from, to }),
  logText: (id: number) => `/api/v1/runs/${id}/log.txt`,
  issues: () => '/api/v1/issues',
  issue: (id: number) => `/api/v1/issues/${id}`,
  untriaged: (id: string, params: Params = {}) => withQuery(`${series(id)}/untriaged`, params),
}

export function makeApi (signal: AbortSignal) {
  return {
    seriesList: (params?: Params) => json<SeriesList>(apiPaths.seriesList(params), signal),
    series: (id: string) => json<SeriesItem>(apiPaths.series(id), signal),
    trend: (id: string, params?: Params) => json<TrendResponse>(apiPaths.trend(id, params), signal),
    collections: (id: string) => json<CollectionsResponse>(apiPaths.collections(id), signal),
    compare: (id: string, params: Params) => json<CompareResponse>(apiPaths.compare(id, params), signal),
    matrix: (id: string, params?: Params) => json<MatrixResponse>(apiPaths.matrix(id, params), signal),
    flaky: (id: string, params?: Params) => json<FlakyResponse>(apiPaths.flaky(id, params), signal),
    summaryText: async (id: string, params: Params) => await (await request(apiPaths.summaryText(id, params), signal)).text(),
    history: (params: Params) => json<HistoryResponse>(apiPaths.history(params), signal),
    machines: (params?: Params) => json<MachineList>(apiPaths.machines(params), signal),
    run: (id: number) => json<RunResponse>(apiPaths.run(id), signal),
    results: (id: number, cursor = 0) => json<RunResults>(apiPaths.results(id, cursor), signal),
    log: (id: number, from: number, to: number) => json<LogSlice>(apiPaths.log(id, from, to), signal),
    issues: () => json<IssueList>(apiPaths.issues(), signal),
    issue: (id: number) => json<IssueDetail>(apiPaths.issue(id), signal),
    untriaged: (id: string, params?: Params) => json<Untriaged>(apiPaths.untriaged(id, params), signal),
  }
}
export type Api = ReturnType<typeof makeApi>
