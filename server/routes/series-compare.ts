import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Summary } from '../../ingest/index.ts'
import { loreUrl } from '../domain/message-id.ts'
import { normalizeVersionLabel } from '../domain/version-label.ts'
import { KsftError } from '../errors.ts'
import { errorResponses, plainJsonSerializer } from '../schemas/common.ts'
import { patchView } from '../schemas/patches.ts'
import {
  CompareQuerySchema, CompareSchema, NotModifiedSchema, SeriesParamsSchema, SummaryTextQuerySchema, SummaryTextSchema,
  type CompareBucket, type CompareEntry, type PatchDeltaView, type RunLink, type SuspectView,
} from '../schemas/trends.ts'
import { compareVersions, type CompareKey, type ComparedEntry, type ComparedSide, type ComparePage } from '../queries/compare.ts'
import { suspectLine, type Suspect } from '../queries/patch-delta.ts'
import { emptyCounts, entrySuspects, seriesDelta, type ResultLines, type SeriesDelta } from '../queries/series-delta.ts'
import { entryWhy, notComparable, plainText, triageNote, type CompareBucket as Bucket } from '../queries/verdict.ts'
import { decodeCursor, encodeCursor } from '../queries/cursor.ts'
import { findCollection, findMachine, findSeries, versionRef } from '../queries/lookups.ts'
import type { MachineRef, ResultLink, SeriesRef, VersionRow } from '../storage/rows.ts'
import type { StorePatches, StoreTrends } from '../storage/store.ts'

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
  const trends = app.store.trends
  const cached = { etag: true }
  // WARNING lines are looked for in the first lines of a troubled result only
  const resultLines: ResultLines = async (runId, from, to) => (await app.store.runs.getLogLines(runId, from, Math.min(to, from + MAX_EVIDENCE_LINES), EVIDENCE_CAPS))?.lines ?? []

  app.get('/api/v1/series/:id/compare', {
    config: cached,
    serializerCompiler: plainJsonSerializer,
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
    const comparison = await resolveComparison(trends, request.params.id, request.query)
    const { series, base, head, machine, arch, collection } = comparison
    const { bucket, cursor, limit } = request.query
    const page = await compare(trends, comparison, bucket ?? null, decodeCursor(cursor, 'nssas') as CompareKey | null, limit)
    const patches = await seriesDelta(app.store.patches, base, head)
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
      entries: await Promise.all(page.entries.map(async (entry: ComparedEntry): Promise<CompareEntry> => {
        const suspects = await entrySuspects(entry, patches, resultLines)
        return {
          ...entry,
          base: side(entry.base),
          head: side(entry.head),
          ...(suspects === null ? {} : { ...suspects, suspects: suspects.suspects.map(suspectView) }),
        }
      })),
      nextCursor: page.next === null ? null : encodeCursor(page.next),
      // a series whose runs never reported their patches answers as before
      ...(patches.reported ? { delta: deltaView(patches) } : {}),
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
    const text = await summaryText(trends, await resolveComparison(trends, request.params.id, request.query), app.store.patches, resultLines)
    return reply.type('text/plain; charset=utf-8').send(text)
  })
}

/** Lines of a troubled result read for WARNING locations, and the bytes they may take. */
const MAX_EVIDENCE_LINES = 5000
const EVIDENCE_CAPS = { maxBytes: 512 * 1024, maxLineBytes: 4096 }

function suspectView (suspect: Suspect): SuspectView {
  return { ...suspect, patch: patchView(suspect.patch) }
}

function deltaView (series: SeriesDelta): PatchDeltaView {
  const delta = series.delta
  return {
    available: delta !== null,
    base: { label: series.base.label, patches: series.base.patches?.length ?? null },
    head: { label: series.head.label, patches: series.head.patches?.length ?? null },
    summary: series.summary,
    counts: delta?.counts ?? emptyCounts(),
    entries: (delta?.entries ?? []).map(entry => ({
      ...entry, base: entry.base === null ? null : patchView(entry.base), head: entry.head === null ? null : patchView(entry.head),
    })),
  }
}

/** Which version the comparison lacks a like-with-like machine for; null when some machine ran both. */
export function absentSide (page: Pick<ComparePage, 'pairedMachines' | 'baseMachines' | 'headMachines' | 'unpaired'>): 'base' | 'head' | 'both' | null {
  if (page.pairedMachines.length > 0) return null
  if (page.unpaired.head.length === 0 && page.unpaired.base.length > 0) return 'head'
  if (page.unpaired.base.length === 0 && page.unpaired.head.length > 0) return 'base'
  return 'both'
}

const SUMMARY_LINES = 50
/** Suspects summary.txt names under each failure the series may have caused. */
const SUMMARY_SUSPECTS = 3
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

async function resolveComparison (trends: StoreTrends, id: string, query: ComparisonQuery): Promise<Comparison> {
  const series = await findSeries(trends, id)
  const versions = await trends.versions(series.id)
  return {
    series,
    versions,
    base: findVersion(versions, series, 'base', query.base),
    head: findVersion(versions, series, 'head', query.head),
    machine: await findMachine(trends, query.machine),
    arch: query.arch ?? null,
    collection: await findCollection(trends, query.collection),
  }
}

async function compare (trends: StoreTrends, comparison: Comparison, bucket: CompareBucket | null, after: CompareKey | null, limit: number): Promise<ComparePage> {
  const { series, base, head, machine, arch, collection } = comparison
  const page = await compareVersions(trends, {
    baseVersionId: base.id,
    headVersionId: head.id,
    machine,
    arch,
    cases: collection === null ? null : await trends.collectionCases(series.id, collection),
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
async function summaryText (trends: StoreTrends, comparison: Comparison, patchStore: StorePatches, resultLines: ResultLines): Promise<string> {
  const { series, versions, base, head } = comparison
  const patches = await seriesDelta(patchStore, base, head)
  const lines: string[] = [plainText(`kselftest results of "${series.name}", ${base.label} -> ${head.label}`), '']

  const labels = new Map(versions.map(version => [version.id, version.label]))
  const columns = ['runs', 'pass', 'fail', 'skip', 'xfail', 'xpass', 'timeout', 'error', 'not run'] as const
  const table = [['version', 'machine', ...columns]]
  let stopped = false
  for (const row of await trends.versionMachineCounts(series.id)) {
    const runs = row.incompleteRuns > 0 ? `${row.runs} (${row.incompleteRuns} stopped early)` : String(row.runs)
    if (row.incompleteRuns > 0) stopped = true
    table.push([plainText(labels.get(row.versionId)!), plainText(row.machine), runs,
      ...(['pass', 'fail', 'skip', 'xfail', 'xpass', 'timeout', 'error'] as const).map(column => String(row.summary[column as keyof Summary])),
      String(row.notRun)])
  }
  lines.push(...formatTable(table), '')
  if (stopped) lines.push('Runs that stopped early (a panic, a hang, a cut log) count the tests their plans promised and never ran as "not run"; the comparison below also counts as not run what the base ran there and they did not.', '')

  const pages: Array<{ bucket: Bucket, title: string, page: ComparePage }> = []
  for (const [bucket, title] of SUMMARY_BUCKETS) pages.push({ bucket, title, page: await compare(trends, comparison, bucket, null, SUMMARY_LINES) })
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
  // a series whose runs never reported their patches reads as before
  if (patches.reported) lines.push('', ...deltaLines(patches))
  for (const { bucket, title, page } of pages) {
    if (page.machineCounts[bucket] === 0) continue
    lines.push('', `${title}:`)
    for (const entry of page.entries) lines.push(...entryLines(entry), ...suspectLines(await entrySuspects(entry, patches, resultLines), patches))
    if (page.machineCounts[bucket] > page.entries.length) lines.push(`  ... and ${page.machineCounts[bucket] - page.entries.length} more`)
  }

  const lore = [base, head].filter(version => version.messageId !== null)
  if (lore.length > 0) lines.push('', ...lore.map(version => `${version.label}: ${loreUrl(version.messageId)}`))
  if (head.messageId !== null) {
    lines.push(`To send this as a reply to the ${head.label} cover letter: In-Reply-To: <${head.messageId}> (git send-email --in-reply-to='<${head.messageId}>')`)
  }
  return lines.join('\n') + '\n'
}

/** The patch delta's headline, then each changed patch with its mail. */
function deltaLines (patches: SeriesDelta): string[] {
  const lines = [`Patches ${plainText(patches.summary)}`]
  for (const entry of patches.delta?.entries ?? []) {
    if (entry.change === 'unchanged') continue
    const patch = (entry.head ?? entry.base)!
    const lore = loreUrl(patch.messageId)
    lines.push(`  ${entry.change.padEnd(9)} [${patch.position}] ${plainText(patch.subject)}${lore === null ? '' : ` ${lore}`}`)
  }
  return lines
}

/** Under a failure the series may have caused: the first suspects, said to be hints, or that the series did not change. */
function suspectLines (found: Awaited<ReturnType<typeof entrySuspects>>, patches: SeriesDelta): string[] {
  if (found === null) return []
  if (found.deltaEmpty) return [`      the series' patches are the same in ${patches.base.label} and ${patches.head.label}: the cause is outside the series (the base moved, the machine changed, or it is flaky)`]
  const shown = found.suspects.slice(0, SUMMARY_SUSPECTS)
  const more = found.suspectCount - shown.length
  return shown.map((suspect, i) => `      ${i === 0 ? 'hint, look first at' : '           then at'} ${plainText(suspectLine(suspect))}`)
    .concat(more > 0 ? [`           and ${more} more changed ${more === 1 ? 'patch' : 'patches'}`] : [])
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
