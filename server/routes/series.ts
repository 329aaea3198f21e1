import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Summary } from '../../ingest/index.ts'
import { normalizeVersionLabel } from '../domain/version-label.ts'
import { KsftError } from '../errors.ts'
import { errorResponses } from '../schemas/common.ts'
import {
  CompareQuerySchema, CompareSchema, FlakyQuerySchema, FlakySchema, MatrixQuerySchema, MatrixSchema, NotModifiedSchema,
  SeriesListQuerySchema, SeriesListSchema, SeriesParamsSchema, SummaryTextQuerySchema, SummaryTextSchema, TrendQuerySchema, TrendSchema,
  type CompareBucket, type CompareEntry, type RunLink,
} from '../schemas/trends.ts'
import { compareVersions, type CompareKey, type ComparedSide, type ComparePage } from '../storage/compare-versions.ts'
import { decodeCursor, encodeCursor } from '../storage/cursor.ts'
import { flakyPage, type FlakyKey } from '../storage/flaky-tests.ts'
import { matrixPage, type MatrixKey } from '../storage/test-matrix.ts'
import { TrendStore, type MachineRef, type ResultLink, type SeriesRef, type VersionRow } from '../storage/trend-store.ts'
import { loreUrl } from './runs.ts'

const TAGS = ['series']

/** A series by id, or by its exact name when the parameter is not a number. */
export function findSeries (trends: TrendStore, idOrName: string): SeriesRef {
  const series = /^\d+$/.test(idOrName) ? trends.seriesById(Number(idOrName)) : trends.seriesByName(idOrName)
  if (!series) throw new KsftError('SERIES_NOT_FOUND', `no series ${JSON.stringify(idOrName)}`)
  return series
}

export function findMachine (trends: TrendStore, name: string | undefined): MachineRef | null {
  if (name === undefined) return null
  const machine = trends.machineByName(name)
  if (!machine) throw new KsftError('MACHINE_NOT_FOUND', `machine: no machine named ${JSON.stringify(name)}`)
  return machine
}

export function versionRef (version: VersionRow) {
  return { id: version.id, label: version.label, messageId: version.messageId, loreUrl: loreUrl(version.messageId) }
}

export function runLink (link: ResultLink): RunLink {
  return { ...link, url: `/runs/${link.runId}#L${link.lines[0]}-L${link.lines[1]}` }
}

function findVersion (versions: VersionRow[], series: SeriesRef, field: string, raw: string): VersionRow {
  const label = normalizeVersionLabel(raw)
  const version = versions.find(candidate => candidate.label === label)
  if (!version) {
    throw new KsftError('VERSION_NOT_FOUND', `${field}: series ${series.id} has no version ${JSON.stringify(label)}; it has ${versions.map(v => v.label).join(', ')}`)
  }
  return version
}

function findCollection (trends: TrendStore, collection: string | undefined): string | null {
  if (collection === undefined) return null
  if (!trends.hasCollection(collection)) throw new KsftError('COLLECTION_NOT_FOUND', `collection: no test of collection ${JSON.stringify(collection)} was ever stored`)
  return collection
}

function passRate (summary: Summary): number | null {
  const ran = summary.total - summary.skip
  return ran === 0 ? null : Math.round((summary.pass + summary.xfail) / ran * 10_000) / 10_000
}

function side (data: ComparedSide) {
  return { ...data, runs: data.runs.map(runLink) }
}

export const seriesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const trends = new TrendStore(app.db)
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
    const rows = trends.listSeries(request.query.limit + 1, before as number | null)
    const page = rows.slice(0, request.query.limit)
    return {
      series: page.map(row => {
        const latest = trends.versions(row.id).find(version => version.id === row.latestVersionId)!
        return {
          id: row.id,
          name: row.name,
          url: `/series/${row.id}`,
          createdAt: row.createdAt,
          versions: row.versions,
          runs: row.runs,
          machines: row.machines,
          latestVersion: { ...versionRef(latest), ...trends.versionCounts(latest.id) },
        }
      }),
      nextCursor: rows.length > page.length ? encodeCursor([page.at(-1)!.id]) : null,
    }
  })

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
    const series = findSeries(trends, request.params.id)
    const { collection, machine, arch } = request.query
    const filters = { machineId: findMachine(trends, machine)?.id ?? null, arch: arch ?? null }
    const rows = findCollection(trends, collection) === null
      ? trends.trend(series.id, filters)
      : trends.trendOfCollection(series.id, collection!, filters)
    const versions = new Map(trends.versions(series.id).map(version => [version.id, version]))
    return {
      series,
      filters: { collection: collection ?? null, machine: machine ?? null, arch: arch ?? null },
      versions: rows.map(row => ({
        ...versionRef(versions.get(row.versionId)!),
        runs: row.runs,
        machines: row.machines,
        summary: row.summary,
        passRate: passRate(row.summary),
      })),
    }
  })

  app.get('/api/v1/series/:id/compare', {
    config: cached,
    schema: {
      summary: 'Test by test and subtest by subtest, what changed from one version to another, machine by machine',
      description: 'Each machine is compared with itself; a machine that ran only one of the versions is compared with every machine that ran the other, and its entries say sameMachine: false. `base=base` compares with the unpatched tree.',
      tags: TAGS,
      params: SeriesParamsSchema,
      querystring: CompareQuerySchema,
      response: { 200: CompareSchema, 304: NotModifiedSchema, ...errorResponses('BAD_REQUEST', 'SERIES_NOT_FOUND') },
    },
  }, async (request) => {
    const comparison = resolveComparison(trends, request.params.id, request.query)
    const { series, base, head, machine } = comparison
    const { bucket, cursor, limit } = request.query
    const page = compare(trends, comparison, bucket ?? null, decodeCursor(cursor, 'nssas') as CompareKey | null, limit)
    return {
      series,
      base: { ...versionRef(base), machines: page.baseMachines },
      head: { ...versionRef(head), machines: page.headMachines },
      machine: machine?.name ?? null,
      counts: page.counts,
      entries: page.entries.map((entry): CompareEntry => ({ ...entry, base: side(entry.base), head: side(entry.head) })),
      nextCursor: page.next === null ? null : encodeCursor(page.next),
    }
  })

  app.get('/api/v1/series/:id/matrix', {
    config: cached,
    schema: {
      summary: 'Tests (rows, each followed by its subtests) by versions (columns), results counted per cell',
      tags: TAGS,
      params: SeriesParamsSchema,
      querystring: MatrixQuerySchema,
      response: { 200: MatrixSchema, 304: NotModifiedSchema, ...errorResponses('BAD_REQUEST', 'SERIES_NOT_FOUND') },
    },
  }, async (request) => {
    const series = findSeries(trends, request.params.id)
    const versions = trends.versions(series.id)
    const { rows, next } = matrixPage(trends, {
      seriesId: series.id,
      versionIds: versions.map(version => version.id),
      collection: findCollection(trends, request.query.collection),
      machineId: findMachine(trends, request.query.machine)?.id ?? null,
      after: decodeCursor(request.query.cursor, 'ss') as MatrixKey | null,
      limit: request.query.limit,
    })
    return { series, versions: versions.map(versionRef), rows, nextCursor: next === null ? null : encodeCursor(next) }
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
    const series = findSeries(trends, request.params.id)
    const { entries, next } = flakyPage(trends, {
      versions: trends.versions(series.id),
      collection: findCollection(trends, request.query.collection),
      machineId: findMachine(trends, request.query.machine)?.id ?? null,
      arch: null,
      after: decodeCursor(request.query.cursor, 'ssas') as FlakyKey | null,
      limit: request.query.limit,
    })
    return { series, entries, nextCursor: next === null ? null : encodeCursor(next) }
  })

  app.get('/api/v1/series/:id/summary.txt', {
    config: cached,
    schema: {
      summary: 'A plain-text summary to paste into a reply on the cover letter',
      description: 'Runs and tests per version and machine, the regressions, new failures and fixes from base to head, and the lore links of both versions.',
      tags: TAGS,
      params: SeriesParamsSchema,
      querystring: SummaryTextQuerySchema,
      produces: ['text/plain'],
      response: { 200: SummaryTextSchema, 304: NotModifiedSchema, ...errorResponses('BAD_REQUEST', 'SERIES_NOT_FOUND') },
    },
  }, async (request, reply) => {
    const text = summaryText(trends, resolveComparison(trends, request.params.id, request.query))
    return reply.type('text/plain; charset=utf-8').send(text)
  })
}

const SUMMARY_LINES = 50
const SUMMARY_BUCKETS = [
  ['regression', 'Regressions'],
  ['new_failure', 'New failures'],
  ['fixed', 'Fixed'],
] as const

interface Comparison {
  series: SeriesRef
  versions: VersionRow[]
  base: VersionRow
  head: VersionRow
  machine: MachineRef | null
}

function resolveComparison (trends: TrendStore, id: string, query: { base: string, head: string, machine?: string }): Comparison {
  const series = findSeries(trends, id)
  const versions = trends.versions(series.id)
  return {
    series,
    versions,
    base: findVersion(versions, series, 'base', query.base),
    head: findVersion(versions, series, 'head', query.head),
    machine: findMachine(trends, query.machine),
  }
}

function compare (trends: TrendStore, { base, head, machine }: Comparison, bucket: CompareBucket | null, after: CompareKey | null, limit: number): ComparePage {
  const page = compareVersions(trends, { baseVersionId: base.id, headVersionId: head.id, machine, bucket, after, limit })
  if (machine !== null && !page.baseMachines.includes(machine.name) && !page.headMachines.includes(machine.name)) {
    throw new KsftError('NO_RUNS', `machine: ${machine.name} ran neither ${base.label} nor ${head.label}`)
  }
  return page
}

/** Plain text for a mailing list: fixed-width columns, no markup, lines under 100 characters where names allow. */
function summaryText (trends: TrendStore, comparison: Comparison): string {
  const { series, versions, base, head } = comparison
  const lines: string[] = [`kselftest results of "${series.name}", ${base.label} -> ${head.label}`, '']

  const labels = new Map(versions.map(version => [version.id, version.label]))
  const columns = ['runs', 'pass', 'fail', 'skip', 'xfail', 'xpass', 'timeout', 'error'] as const
  const table = [['version', 'machine', ...columns]]
  for (const row of trends.versionMachineCounts(series.id)) {
    table.push([labels.get(row.versionId)!, row.machine, String(row.runs), ...columns.slice(1).map(column => String(row.summary[column as keyof Summary]))])
  }
  lines.push(...formatTable(table), '')

  const pages = SUMMARY_BUCKETS.map(([bucket, title]) => ({ bucket, title, page: compare(trends, comparison, bucket, null, SUMMARY_LINES) }))
  const counts = pages[0]!.page.counts
  lines.push(`${base.label} -> ${head.label}, machine by machine: ${plural(counts.regression, 'regression')}, ${plural(counts.new_failure, 'new failure')}, ` +
    `${counts.fixed} fixed, ${counts.still_failing} still failing, ${counts.new} new, ${counts.missing} missing, ${counts.flaky} flaky`)
  for (const { bucket, title, page } of pages) {
    if (counts[bucket] === 0) continue
    lines.push('', `${title}:`)
    for (const entry of page.entries) lines.push(`  ${entryLine(entry)}`)
    if (counts[bucket] > page.entries.length) lines.push(`  ... and ${counts[bucket] - page.entries.length} more`)
  }

  const lore = [base, head].filter(version => version.messageId !== null)
  if (lore.length > 0) lines.push('', ...lore.map(version => `${version.label}: ${loreUrl(version.messageId)}`))
  return lines.join('\n') + '\n'
}

function entryLine (entry: ComparePage['entries'][number]): string {
  const name = [`${entry.collection}: ${entry.test}`, ...entry.path].join(' > ')
  const others = entry.base.machines.includes(entry.machine) ? entry.head.machines : entry.base.machines
  const where = entry.sameMachine ? entry.machine : `${entry.machine}, against ${others.join(', ')}`
  return `${name} (${where}): ${entry.base.status ?? 'absent'} -> ${entry.head.status ?? 'absent'}`
}

function plural (count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`
}

function formatTable (rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map(row => row[i]!.length)))
  return rows.map(row => row.map((cell, i) => i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)).join('  ').trimEnd())
}
