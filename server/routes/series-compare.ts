import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Summary } from '../../ingest/index.ts'
import { normalizeVersionLabel } from '../domain/version-label.ts'
import { loreUrl } from '../domain/message-id.ts'
import { KsftError } from '../errors.ts'
import { errorResponses } from '../schemas/common.ts'
import {
  CompareQuerySchema, CompareSchema, NotModifiedSchema, SeriesParamsSchema, SummaryTextQuerySchema, SummaryTextSchema,
  type CompareBucket, type CompareEntry, type RunLink,
} from '../schemas/trends.ts'
import { compareVersions, type CompareKey, type ComparedEntry, type ComparedSide, type ComparePage } from '../queries/compare.ts'
import { entryWhy, notComparable, plainText, triageNote, type CompareBucket as Bucket } from '../queries/verdict.ts'
import { decodeCursor, encodeCursor } from '../storage/cursor.ts'
import type { TrendStore, MachineRef, ResultLink, SeriesRef, VersionRow } from '../storage/trend-store.ts'
import { findCollection, findMachine, findSeries, versionRef } from './series.ts'

const TAGS = ['series']

export function runLink<T extends ResultLink> (link: T): T & RunLink {
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

function side (data: ComparedSide) {
  return { ...data, runs: data.runs.map(runLink) }
}

/** Two versions of a series side by side: the entries as JSON, and the summary for a mailing-list reply. */
export const seriesCompareRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const trends = app.trends
  const cached = { etag: true }

  app.get('/api/v1/series/:id/compare', {
    config: cached,
    schema: {
      summary: 'Test by test and subtest by subtest, what changed from one version to another, machine by machine',
      description: 'Each machine is compared with itself only; machines that ran one of the two versions are listed in `unpaired` and not compared, and when no machine (or not the one asked for) ran both, `absentSide` says which version is missing. ' +
        'Tests absent from a head run that stopped early are `not_run`, a failing outcome; kernel trouble new in head is `new_kernel_trouble`. ' +
        'Headline `counts` count each test once; `machineCounts` count entries. `base=base` compares with the unpatched tree. `limit=0` gives the counts alone.',
      tags: TAGS,
      params: SeriesParamsSchema,
      querystring: CompareQuerySchema,
      response: { 200: CompareSchema, 304: NotModifiedSchema, ...errorResponses('BAD_REQUEST', 'SERIES_NOT_FOUND') },
    },
  }, async (request) => {
    const comparison = resolveComparison(trends, request.params.id, request.query)
    const { series, base, head, machine, arch, collection } = comparison
    const { bucket, cursor, limit } = request.query
    const page = compare(trends, comparison, bucket ?? null, decodeCursor(cursor, 'nssas') as CompareKey | null, limit)
    return {
      series,
      base: { ...versionRef(base), machines: page.baseMachines },
      head: { ...versionRef(head), machines: page.headMachines },
      machine: machine?.name ?? null,
      arch,
      collection,
      pairedMachines: page.pairedMachines,
      unpaired: page.unpaired,
      absentSide: absentSide(page),
      incomplete: page.incomplete,
      counts: page.counts,
      machineCounts: page.machineCounts,
      entries: page.entries.map((entry: ComparedEntry): CompareEntry => ({ ...entry, base: side(entry.base), head: side(entry.head) })),
      nextCursor: page.next === null ? null : encodeCursor(page.next),
    }
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

/** Which version the comparison lacks a like-with-like machine for; null when some machine ran both. */
export function absentSide (page: Pick<ComparePage, 'pairedMachines' | 'baseMachines' | 'headMachines' | 'unpaired'>): 'base' | 'head' | 'both' | null {
  if (page.pairedMachines.length > 0) return null
  if (page.unpaired.head.length === 0 && page.unpaired.base.length > 0) return 'head'
  if (page.unpaired.base.length === 0 && page.unpaired.head.length > 0) return 'base'
  return 'both'
}

const SUMMARY_LINES = 50
/** What summary.txt lists entry by entry, with the first line of each reason. */
const SUMMARY_BUCKETS: ReadonlyArray<readonly [Bucket, string]> = [
  ['regression', 'Regressions'],
  ['new_failure', 'New failures'],
  ['not_run', 'Not run (the run stopped early)'],
  ['new_kernel_trouble', 'New kernel trouble'],
  ['infrastructure', 'Infrastructure (the harness or the lab failed, not the kernel)'],
  ['known', 'Known issues (failing as triaged before)'],
  ['fixed', 'Fixed'],
]

interface Comparison {
  series: SeriesRef
  versions: VersionRow[]
  base: VersionRow
  head: VersionRow
  machine: MachineRef | null
  arch: string | null
  collection: string | null
}

interface ComparisonQuery { base: string, head: string, machine?: string, arch?: string, collection?: string }

function resolveComparison (trends: TrendStore, id: string, query: ComparisonQuery): Comparison {
  const series = findSeries(trends, id)
  const versions = trends.versions(series.id)
  return {
    series,
    versions,
    base: findVersion(versions, series, 'base', query.base),
    head: findVersion(versions, series, 'head', query.head),
    machine: findMachine(trends, query.machine),
    arch: query.arch ?? null,
    collection: findCollection(trends, query.collection),
  }
}

function compare (trends: TrendStore, comparison: Comparison, bucket: CompareBucket | null, after: CompareKey | null, limit: number): ComparePage {
  const { series, base, head, machine, arch, collection } = comparison
  const page = compareVersions(trends, {
    baseVersionId: base.id,
    headVersionId: head.id,
    machine,
    arch,
    cases: collection === null ? null : trends.collectionCases(series.id, collection),
    bucket,
    after,
    limit,
  })
  const on = arch === null ? '' : ` on ${arch}`
  if (machine !== null && !page.baseMachines.includes(machine.name) && !page.headMachines.includes(machine.name)) {
    throw new KsftError('NO_RUNS', `machine: ${machine.name} ran neither ${base.label} nor ${head.label}${on}`)
  }
  if (arch !== null && page.baseMachines.length === 0 && page.headMachines.length === 0) {
    throw new KsftError('NO_RUNS', `arch: no machine ran ${base.label} or ${head.label} on ${arch}`)
  }
  return page
}

/** Plain text for a mailing list: fixed-width columns, no markup, lines under 100 characters where names allow. */
function summaryText (trends: TrendStore, comparison: Comparison): string {
  const { series, versions, base, head } = comparison
  const lines: string[] = [plainText(`kselftest results of "${series.name}", ${base.label} -> ${head.label}`), '']

  const labels = new Map(versions.map(version => [version.id, version.label]))
  const columns = ['runs', 'pass', 'fail', 'skip', 'xfail', 'xpass', 'timeout', 'error', 'not run'] as const
  const table = [['version', 'machine', ...columns]]
  let stopped = false
  for (const row of trends.versionMachineCounts(series.id)) {
    const runs = row.incompleteRuns > 0 ? `${row.runs} (${row.incompleteRuns} stopped early)` : String(row.runs)
    if (row.incompleteRuns > 0) stopped = true
    table.push([plainText(labels.get(row.versionId)!), plainText(row.machine), runs,
      ...(['pass', 'fail', 'skip', 'xfail', 'xpass', 'timeout', 'error'] as const).map(column => String(row.summary[column as keyof Summary])),
      String(row.notRun)])
  }
  lines.push(...formatTable(table), '')
  if (stopped) lines.push('Runs that stopped early (a panic, a hang, a cut log) count the tests their plans promised and never ran as "not run"; the comparison below also counts as not run what the base ran there and they did not.', '')

  const pages = SUMMARY_BUCKETS.map(([bucket, title]) => ({ bucket, title, page: compare(trends, comparison, bucket, null, SUMMARY_LINES) }))
  const first = pages[0]!.page
  const counts = first.counts
  const absent = absentSide(first)
  if (absent !== null) {
    lines.push(notComparable(first, base.label, head.label, comparison.machine?.name ?? null))
  } else {
    lines.push(`${base.label} -> ${head.label} on ${first.pairedMachines.map(plainText).join(', ')} (each test counted once): ` +
      `${plural(counts.regression, 'regression')}, ${plural(counts.new_failure, 'new failure')}, ${counts.not_run} not run, ` +
      `${counts.new_kernel_trouble} with new kernel trouble, ${triaged(counts)}${counts.fixed} fixed, ${counts.still_failing} still failing, ` +
      `${counts.flaky} flaky, ${counts.new} new, ${counts.missing} missing`)
  }
  for (const [side, machines] of [[base.label, first.unpaired.base], [head.label, first.unpaired.head]] as const) {
    if (machines.length > 0) lines.push(`Ran only ${side}, not compared: ${machines.map(plainText).join(', ')}`)
  }
  for (const { bucket, title, page } of pages) {
    if (page.machineCounts[bucket] === 0) continue
    lines.push('', `${title}:`)
    for (const entry of page.entries) lines.push(...entryLines(entry))
    if (page.machineCounts[bucket] > page.entries.length) lines.push(`  ... and ${page.machineCounts[bucket] - page.entries.length} more`)
  }

  const lore = [base, head].filter(version => version.messageId !== null)
  if (lore.length > 0) lines.push('', ...lore.map(version => `${version.label}: ${loreUrl(version.messageId)}`))
  return lines.join('\n') + '\n'
}

function entryLines (entry: ComparedEntry): string[] {
  const name = plainText([`${entry.collection}: ${entry.test}`, ...entry.path].join(' > '))
  const trouble = entry.newKernelTrouble.length > 0 ? ` [new: ${entry.newKernelTrouble.join(', ')}]` : ''
  const specific = entry.machineSpecific ? ' (machine-specific)' : ''
  const out = [`  ${name} (${plainText(entry.machine)}): ${entry.base.status ?? 'absent'} -> ${entry.head.status ?? (entry.bucket === 'not_run' ? 'not run' : 'absent')}${trouble}${specific}`]
  const why = entryWhy(entry)
  if (why !== null) out.push(`      ${plainText(why)}`)
  const triage = triageNote(entry)
  if (triage !== null) out.push(`      ${plainText(triage)}`)
  return out
}

/** The triaged counts, said only when there are some: a lab without known issues reads as before. */
function triaged (counts: ComparePage['counts']): string {
  return [counts.infrastructure > 0 ? `${counts.infrastructure} infrastructure, ` : '', counts.known > 0 ? `${counts.known} known, ` : ''].join('')
}

function plural (count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`
}

function formatTable (rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map(row => row[i]!.length)))
  return rows.map(row => row.map((cell, i) => i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)).join('  ').trimEnd())
}
