import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { decodeCursor, encodeCursor } from '../queries/cursor.ts'
import { findCollection, findMachine, findSeries, versionRef } from '../queries/lookups.ts'
import { passRate } from '../queries/verdict.ts'
import { errorResponses, plainJsonSerializer } from '../schemas/common.ts'
import {
  CollectionsSchema, FlakyQuerySchema, FlakySchema, MatrixQuerySchema, MatrixSchema, NotModifiedSchema, SERIES_PASS_RATES,
  SeriesItemSchema, SeriesListQuerySchema, SeriesListSchema, SeriesParamsSchema, TrendQuerySchema, TrendSchema, type SeriesItem,
} from '../schemas/trends.ts'
import { flakyPage, type FlakyKey } from '../queries/flaky.ts'
import { matrixPage, type MatrixKey } from '../queries/matrix.ts'
import type { SeriesRow } from '../storage/rows.ts'
import type { StoreTrends } from '../storage/store.ts'

const TAGS = ['series']

/** A series as the list and its own route answer it. */
async function seriesItem (trends: StoreTrends, row: SeriesRow): Promise<SeriesItem> {
  const [versions, recent, identity] = await Promise.all([
    trends.versions(row.id), trends.recentVersionCounts(row.id, SERIES_PASS_RATES), trends.seriesIdentity(row.id),
  ])
  const latest = versions.find(version => version.id === row.latestVersionId)!
  return {
    id: row.id,
    name: row.name,
    url: `/series/${row.id}`,
    createdAt: row.createdAt,
    versions: row.versions,
    runs: row.runs,
    machines: row.machines,
    latestVersion: { ...versionRef(latest), ...await trends.versionCounts(latest.id) },
    passRates: recent.map(version => ({
      id: version.versionId, label: version.label, passRate: passRate(version.summary, version.notRun), incompleteRuns: version.incompleteRuns,
    })),
    ...identity,
  }
}

export const seriesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const trends = app.store.trends
  const cached = { etag: true }

  app.get('/api/v1/series', {
    config: cached,
    schema: {
      summary: 'Every series with its versions, runs and machines counted, and its latest version',
      tags: TAGS,
      querystring: SeriesListQuerySchema,
      response: { 200: SeriesListSchema, 304: NotModifiedSchema, ...errorResponses('BAD_REQUEST') },
    },
  }, async (request) => {
    const [before] = decodeCursor(request.query.cursor, 'n') ?? [null]
    const rows = await trends.listSeries(request.query.limit + 1, before as number | null, request.query.q ?? null)
    const page = rows.slice(0, request.query.limit)
    return {
      series: await Promise.all(page.map(row => seriesItem(trends, row))),
      nextCursor: rows.length > page.length ? encodeCursor([page.at(-1)!.id]) : null,
    }
  })

  app.get('/api/v1/series/:id', {
    config: cached,
    schema: {
      summary: 'One series as the list gives it: its names, change-ids, versions, runs, machines and latest version',
      tags: TAGS,
      params: SeriesParamsSchema,
      response: { 200: SeriesItemSchema, 304: NotModifiedSchema, ...errorResponses('BAD_REQUEST', 'SERIES_NOT_FOUND') },
    },
  }, async (request) => seriesItem(trends, (await trends.seriesRow((await findSeries(trends, request.params.id)).id))!))

  app.get('/api/v1/series/:id/trend', {
    config: cached,
    schema: {
      summary: 'Tests per status for each version of the series, in version order',
      description: 'Counted from the runs\' summaries (or per collection), over every run of each version that the filters keep.',
      tags: TAGS,
      params: SeriesParamsSchema,
      querystring: TrendQuerySchema,
      response: { 200: TrendSchema, 304: NotModifiedSchema, ...errorResponses('BAD_REQUEST', 'SERIES_NOT_FOUND') },
    },
  }, async (request) => {
    const series = await findSeries(trends, request.params.id)
    const { collection, machine, arch } = request.query
    const filters = { machineId: (await findMachine(trends, machine))?.id ?? null, arch: arch ?? null }
    const rows = await findCollection(trends, collection) === null
      ? await trends.trend(series.id, filters)
      : await trends.trendOfCollection(series.id, collection!, filters)
    const versions = new Map((await trends.versions(series.id)).map(version => [version.id, version]))
    return {
      series,
      filters: { collection: collection ?? null, machine: machine ?? null, arch: arch ?? null },
      versions: rows.map(row => ({
        ...versionRef(versions.get(row.versionId)!),
        runs: row.runs,
        machines: row.machines,
        summary: row.summary,
        notRun: row.notRun,
        incompleteRuns: row.incompleteRuns,
        passRate: passRate(row.summary, row.notRun),
      })),
    }
  })

  app.get('/api/v1/series/:id/collections', {
    config: cached,
    schema: {
      summary: 'The collections the series ran, with how many of their tests',
      description: 'What the collection filter of trend, compare, matrix and flaky can take for this series.',
      tags: TAGS,
      params: SeriesParamsSchema,
      response: { 200: CollectionsSchema, 304: NotModifiedSchema, ...errorResponses('BAD_REQUEST', 'SERIES_NOT_FOUND') },
    },
  }, async (request) => {
    const series = await findSeries(trends, request.params.id)
    return { series, collections: await trends.collections(series.id) }
  })

  app.get('/api/v1/series/:id/matrix', {
    config: cached,
    serializerCompiler: plainJsonSerializer,
    schema: {
      summary: 'Tests (rows, each followed by its subtests) by versions (columns), results counted per cell',
      tags: TAGS,
      params: SeriesParamsSchema,
      querystring: MatrixQuerySchema,
      response: { 200: MatrixSchema, 304: NotModifiedSchema, ...errorResponses('BAD_REQUEST', 'SERIES_NOT_FOUND') },
    },
  }, async (request) => {
    const series = await findSeries(trends, request.params.id)
    const versions = await trends.versions(series.id)
    const { machineSets, rows, next } = await matrixPage(trends, {
      seriesId: series.id,
      versionIds: versions.map(version => version.id),
      collection: await findCollection(trends, request.query.collection),
      machineId: (await findMachine(trends, request.query.machine))?.id ?? null,
      arch: request.query.arch ?? null,
      after: decodeCursor(request.query.cursor, 'ss') as MatrixKey | null,
      limit: request.query.limit,
    })
    return {
      series,
      versions: versions.map(versionRef),
      machineSets,
      rows,
      nextCursor: next === null ? null : encodeCursor(next),
    }
  })

  app.get('/api/v1/series/:id/flaky', {
    config: cached,
    schema: {
      summary: 'Tests whose runs disagree within a version on one machine, or that flip between passing and failing across versions',
      tags: TAGS,
      params: SeriesParamsSchema,
      querystring: FlakyQuerySchema,
      response: { 200: FlakySchema, 304: NotModifiedSchema, ...errorResponses('BAD_REQUEST', 'SERIES_NOT_FOUND') },
    },
  }, async (request) => {
    const series = await findSeries(trends, request.params.id)
    const { entries, next } = await flakyPage(trends, {
      versions: await trends.versions(series.id),
      collection: await findCollection(trends, request.query.collection),
      machineId: (await findMachine(trends, request.query.machine))?.id ?? null,
      arch: request.query.arch ?? null,
      after: decodeCursor(request.query.cursor, 'ssas') as FlakyKey | null,
      limit: request.query.limit,
    })
    return { series, entries, nextCursor: next === null ? null : encodeCursor(next) }
  })
}
