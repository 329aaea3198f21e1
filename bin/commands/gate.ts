import { CommanderError, Option, type Command } from 'commander'
import { FAILING_STATUSES, STATUSES, type Status } from '../../ingest/vocabulary.ts'
import { normalizeVersionLabel } from '../../server/domain/version-label.ts'
import { suspectLine } from '../../server/queries/patch-delta.ts'
import { COMPARE_BUCKETS, DEFAULT_GATE_BUCKETS, entryWhy, notComparable, plainText, triageNote, type CompareBucket } from '../../server/queries/verdict.ts'
import type { CompareEntry, CompareResponse } from '../../server/schemas/trends.ts'
import { ApiError, KsftApiClient } from '../api-client.ts'
import { ExitCode } from '../exit-code.ts'

/**
 * `ksft gate` and `ksft compare`: one version of a series against another, read from a running
 * server's compare API. The gate exits 0 when none of the chosen buckets has an entry, 1 when one
 * has, and 2 when it could not tell (a wrong call, an unknown series or version, a server that
 * cannot be reached or answers nonsense, a machine that did not run both versions), so that a CI
 * job never mistakes a broken gate for a pass. The buckets are queries/verdict.ts's.
 */

export const DEFAULT_FAIL_ON: readonly CompareBucket[] = DEFAULT_GATE_BUCKETS
const FORMATS = ['text', 'json', 'markdown'] as const
type Format = (typeof FORMATS)[number]
/** Entries the gate lists per bucket; `ksft compare` lists them all. */
const GATE_ROWS = 20
/** Suspects printed under a failure the series may have caused; the API ranks up to ten. */
const SHOWN_SUSPECTS = 3

interface CompareFlags {
  server?: string
  series: string
  base: string
  head: string
  machine?: string
  token?: string
  failOn?: string
  format?: Format
}

/** Commander's own usage errors end with 2 too, not its default 1. */
export function exitTwoOnUsageErrors<T extends Command> (command: T): T {
  command.exitOverride((err) => {
    // --help and --version end with 0 and stay as they are
    if (err.exitCode === 0) throw err
    throw new CommanderError(2, err.code, err.message)
  })
  return command
}

function addCompareOptions (command: Command): Command {
  return exitTwoOnUsageErrors(command)
    .option('--server <url>', 'the ksft-dashboard server, e.g. https://ksft.example.org (env KSFT_SERVER)')
    .requiredOption('--series <name-or-id>', 'the series: its id or its exact name')
    .requiredOption('--base <version>', 'the version compared from, e.g. v6 or base')
    .requiredOption('--head <version>', 'the version compared to, e.g. v7')
    .option('--machine <name>', 'only this machine')
    .option('--token <token>', 'a token for a private server (env KSFT_TOKEN)')
}

export function registerGate (program: Command): void {
  addCompareOptions(program.command('gate')
    .description('fail a CI job when a version brings regressions: exit 0 when the chosen buckets are empty, 1 when not, 2 when it cannot tell'))
    .option('--fail-on <buckets>', `comma list of ${COMPARE_BUCKETS.join(', ')}`, DEFAULT_FAIL_ON.join(','))
    .action(cannotTellIsTwo(async (flags: CompareFlags) => {
      const request = requestOf(flags)
      const failOn = bucketsOf(flags.failOn!)
      const report = await fetchOrExit(async () => {
        const summary = await request.client.compare(request.series, { ...request.query, limit: 0 })
        const shown: CompareEntry[] = []
        for (const bucket of listedBuckets(failOn)) {
          if (summary.counts[bucket] === 0) continue
          shown.push(...(await request.client.compare(request.series, { ...request.query, bucket, limit: GATE_ROWS })).entries)
        }
        return { ...summary, entries: shown }
      })
      if (report.absentSide !== null) {
        throw new ExitCode(2, notComparable({ baseMachines: report.base.machines, headMachines: report.head.machines }, report.base.label, report.head.label, report.machine))
      }
      const found = failOn.filter(bucket => report.counts[bucket] > 0)
      process.stdout.write(renderText(report, request.client.baseUrl, { failOn, buckets: listedBuckets(failOn), rowsPerBucket: GATE_ROWS }))
      const checked = failOn.join(', ')
      if (found.length === 0) {
        process.stdout.write(`ksft gate: PASS: nothing in ${checked}\n`)
        return
      }
      process.stdout.write(`ksft gate: FAIL: ${found.map(bucket => `${report.counts[bucket]} ${bucket}`).join(', ')} (checked: ${checked})\n`)
      throw new ExitCode(1)
    }))

  addCompareOptions(program.command('compare')
    .description('compare two versions of a series on a server, for humans (text), scripts (json) and mailing-list replies (markdown)'))
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS).default('text'))
    .option('--fail-on <buckets>', 'also exit 1 when any of these buckets has entries, as ksft gate does')
    .action(cannotTellIsTwo(async (flags: CompareFlags) => {
      const request = requestOf(flags)
      const failOn = flags.failOn === undefined ? [] : bucketsOf(flags.failOn)
      const report = await fetchOrExit(() => request.client.compareAll(request.series, request.query))
      if (report.absentSide !== null) {
        throw new ExitCode(2, notComparable({ baseMachines: report.base.machines, headMachines: report.head.machines }, report.base.label, report.head.label, report.machine))
      }
      const reported = COMPARE_BUCKETS.filter(bucket => report.counts[bucket] > 0)
      const format = flags.format ?? 'text'
      if (format === 'json') process.stdout.write(`${JSON.stringify(report)}\n`)
      else if (format === 'markdown') process.stdout.write(renderMarkdown(report, request.client.baseUrl))
      else process.stdout.write(renderText(report, request.client.baseUrl, { failOn, buckets: reported, rowsPerBucket: Infinity }))
      if (failOn.some(bucket => report.counts[bucket] > 0)) throw new ExitCode(1)
    }))
}

function requestOf (flags: CompareFlags) {
  const server = flags.server ?? process.env.KSFT_SERVER
  if (server === undefined || server === '') throw new ExitCode(2, 'error: give the server with --server URL (or KSFT_SERVER)')
  let client: KsftApiClient
  try {
    client = new KsftApiClient(server, { token: flags.token ?? process.env.KSFT_TOKEN })
  } catch (err) {
    throw new ExitCode(2, `error: ${(err as Error).message}`)
  }
  return {
    client,
    series: flags.series,
    query: {
      base: normalizeVersionLabel(flags.base),
      head: normalizeVersionLabel(flags.head),
      ...(flags.machine === undefined ? {} : { machine: flags.machine }),
    },
  }
}

function bucketsOf (list: string): CompareBucket[] {
  const names = list.split(',').map(name => name.trim()).filter(Boolean)
  const unknown = names.filter(name => !(COMPARE_BUCKETS as readonly string[]).includes(name))
  if (names.length === 0 || unknown.length > 0) {
    throw new ExitCode(2, `error: --fail-on takes a comma list of ${COMPARE_BUCKETS.join(', ')}${unknown.length > 0 ? `; not ${unknown.join(', ')}` : ''}`)
  }
  return [...new Set(names)] as CompareBucket[]
}

/**
 * Exit 1 means "found something" and nothing else: any error but a deliberate exit, including a
 * bug here, ends with 2, which a CI job must treat as a broken gate rather than as a verdict.
 */
function cannotTellIsTwo (action: (flags: CompareFlags) => Promise<void>): (flags: CompareFlags) => Promise<void> {
  return async (flags) => {
    try {
      await action(flags)
    } catch (err) {
      if (err instanceof ExitCode || err instanceof CommanderError) throw err
      throw new ExitCode(2, `error: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
}

/** Any failure to get an answer ends with 2: the gate could not tell. */
async function fetchOrExit<T> (fetchIt: () => Promise<T>): Promise<T> {
  try {
    return await fetchIt()
  } catch (err) {
    if (err instanceof ApiError) throw new ExitCode(2, `error: ${err.message}${err.status === null ? '' : ` (${err.code})`}`)
    throw err
  }
}

// ---- rendering

function entryName (entry: CompareEntry): string {
  return [entry.collection, entry.test, ...entry.path].join(': ')
}

/** A side's status, with the spread when its runs disagree (flaky). */
function sideText (side: CompareEntry['base']): string {
  if (side.status === null) return '-'
  const seen = STATUSES.filter(status => side.counts[status] > 0)
  if (seen.length <= 1) return side.counts.total > 1 ? `${side.status} x${side.counts.total}` : side.status
  return seen.map(status => `${side.counts[status]} ${status}`).join(', ')
}

/** What the gate lists: the buckets it fails on, then what triage took out of them, shown apart. */
function listedBuckets (failOn: readonly CompareBucket[]): CompareBucket[] {
  return [...failOn, ...(['infrastructure', 'known'] as const).filter(bucket => !failOn.includes(bucket))]
}

/** Where to look: the head's first failing result, else the head's first, else the base's. */
function logLink (entry: CompareEntry, baseUrl: string): string | null {
  const failing = (status: Status) => FAILING_STATUSES.includes(status)
  const run = entry.head.runs.find(r => failing(r.status)) ?? entry.head.runs[0] ?? entry.base.runs.find(r => failing(r.status)) ?? entry.base.runs[0]
  return run === undefined ? null : `${baseUrl}${run.url}`
}

/** After the statuses: which kernel trouble is new, and whether the machines disagree. */
function entryNotes (entry: CompareEntry): string {
  const notes: string[] = []
  if (entry.bucket === 'not_run') notes.push('not run')
  if (entry.newKernelTrouble.length > 0) notes.push(`new ${entry.newKernelTrouble.join(', ')}`)
  else if (entry.head.kernelTrouble.length > 0) notes.push(`${entry.head.kernelTrouble.join(', ')} (also in base)`)
  if (entry.machineSpecific) notes.push('machine-specific')
  return notes.length === 0 ? '' : ` [${notes.join('; ')}]`
}

function machinesText (report: CompareResponse): string {
  if (report.machine !== null) return `machine ${report.machine}`
  const machines = [...new Set([...report.base.machines, ...report.head.machines])].sort()
  return machines.length === 0 ? 'no machines' : `machines ${machines.join(', ')}`
}

function renderText (report: CompareResponse, baseUrl: string, options: { failOn: readonly CompareBucket[], buckets: readonly CompareBucket[], rowsPerBucket: number }): string {
  const out: string[] = []
  out.push(plainText(`${report.series.name} (series ${report.series.id}): ${report.base.label} -> ${report.head.label}, ${machinesText(report)}`))
  const counted: Array<[string, number]> = [...COMPARE_BUCKETS.map(b => [b, report.counts[b]] as [string, number]), ['unchanged', report.counts.unchanged]]
  const width = Math.max(...counted.map(([bucket]) => bucket.length)) + 2
  for (const [bucket, count] of counted) {
    const mark = options.failOn.includes(bucket as CompareBucket) ? '  (fails the gate)' : ''
    out.push(`  ${bucket.padEnd(width)}${String(count).padStart(6)}${mark}`)
  }
  if (report.delta !== undefined) out.push('', ...deltaText(report.delta))
  for (const bucket of options.buckets) {
    const entries = report.entries.filter(entry => entry.bucket === bucket)
    if (report.counts[bucket] === 0) continue
    const apart = options.failOn.length === 0 || options.failOn.includes(bucket) ? '' : ' (does not fail the gate)'
    out.push('', `${bucket} (${report.counts[bucket]})${apart}:`)
    const shown = entries.slice(0, options.rowsPerBucket)
    const rows = shown.map(entry => [
      plainText(entryName(entry)),
      plainText(entry.machine),
      `${sideText(entry.base)} -> ${sideText(entry.head)}${entryNotes(entry)}`,
      logLink(entry, baseUrl) ?? '',
    ])
    const widths = [0, 1, 2].map(i => Math.min(70, Math.max(...rows.map(row => row[i]!.length))))
    rows.forEach((row, i) => {
      out.push(`  ${row.slice(0, 3).map((cell, j) => cell.padEnd(widths[j]!)).join('  ')}  ${row[3]}`.trimEnd())
      const why = entryWhy(shown[i]!)
      if (why !== null) out.push(`      ${plainText(why)}`)
      const triage = triageNote(shown[i]!)
      if (triage !== null) out.push(`      ${plainText(triage)}`)
      out.push(...suspectsText(shown[i]!, report).map(line => `      ${line}`))
    })
    if (report.machineCounts[bucket] > shown.length) {
      out.push(`  ... and ${report.machineCounts[bucket] - shown.length} more (ksft compare --format text lists them all)`)
    }
  }
  for (const [label, machines] of [[report.base.label, report.unpaired.base], [report.head.label, report.unpaired.head]] as const) {
    if (machines.length > 0) out.push('', plainText(`ran only ${label}, not compared: ${machines.join(', ')}`))
  }
  if (report.incomplete.head.length > 0) out.push('', plainText(`${report.head.label} stopped early on ${report.incomplete.head.join(', ')}: tests it never ran are not_run`))
  return `${out.join('\n')}\n`
}

/** The series' patch delta: the headline, then each changed patch with its mail. */
function deltaText (delta: NonNullable<CompareResponse['delta']>): string[] {
  const out = [plainText(`patches ${delta.summary}`)]
  for (const entry of delta.entries) {
    if (entry.change === 'unchanged') continue
    const patch = (entry.head ?? entry.base)!
    out.push(plainText(`  ${entry.change.padEnd(9)} [${patch.position}] ${patch.subject}${patch.loreUrl === null ? '' : `  ${patch.loreUrl}`}`))
  }
  return out
}

/** Under an entry the series may have caused: its first suspects (a hint), or that the series' patches did not change. */
function suspectsText (entry: CompareEntry, report: CompareResponse): string[] {
  if (entry.deltaEmpty) return [`the series' patches are the same in ${report.base.label} and ${report.head.label}: the cause is outside the series`]
  const suspects = entry.suspects ?? []
  return suspects.slice(0, SHOWN_SUSPECTS).map((suspect, i) => plainText(`${i === 0 ? 'hint, look first at' : '      then at'} ${suspectLine(suspect)}`))
}

/** Markdown for a reply on a mailing list or a merge request: tables, names as code, links to the logs. */
function renderMarkdown (report: CompareResponse, baseUrl: string): string {
  const out: string[] = []
  out.push(`**kselftest: ${mdText(report.series.name)}, ${mdText(report.base.label)} → ${mdText(report.head.label)}** (${mdText(machinesText(report))})`, '')
  const columns = [...COMPARE_BUCKETS, 'unchanged' as const]
  out.push(`| ${columns.map(c => c.replace(/_/g, ' ')).join(' | ')} |`)
  out.push(`|${columns.map(() => '---:').join('|')}|`)
  out.push(`| ${columns.map(c => String(report.counts[c])).join(' | ')} |`)
  if (report.delta !== undefined) {
    out.push('', `**${mdText(`patches ${report.delta.summary}`)}**`, '')
    for (const entry of report.delta.entries.filter(e => e.change !== 'unchanged')) {
      const patch = (entry.head ?? entry.base)!
      out.push(`- ${entry.change} \\[${patch.position}\\] ${patch.loreUrl === null ? mdText(patch.subject) : `[${mdText(patch.subject)}](${mdUrl(patch.loreUrl)})`}`)
    }
  }
  for (const bucket of COMPARE_BUCKETS) {
    const entries = report.entries.filter(entry => entry.bucket === bucket)
    if (entries.length === 0) continue
    out.push('', `#### ${bucket.replace(/_/g, ' ')} (${report.counts[bucket]})`, '')
    out.push(`| test | machine | ${mdText(report.base.label)} | ${mdText(report.head.label)} | why | log |`, '|---|---|---|---|---|---|')
    for (const entry of entries) {
      const link = logLink(entry, baseUrl)
      const triage = triageNote(entry)
      const hint = suspectsText(entry, report)[0] ?? null
      const why = [entryWhy(entry), triage, hint].filter(text => text !== null).join('; ') || null
      out.push(`| ${mdCode(entryName(entry))} | ${mdText(entry.machine)} | ${sideText(entry.base)} | ${sideText(entry.head)}${mdText(entryNotes(entry))} | ${why === null ? '' : mdText(why)} | ${link === null ? '' : `[log](${mdUrl(link)})`} |`)
    }
  }
  for (const [label, machines] of [[report.base.label, report.unpaired.base], [report.head.label, report.unpaired.head]] as const) {
    if (machines.length > 0) out.push('', `ran only ${mdText(label)}, not compared: ${machines.map(mdText).join(', ')}`)
  }
  return `${out.join('\n')}\n`
}

/** A URL as a Markdown link target: what would end the target is percent-encoded. */
function mdUrl (url: string): string {
  return url.replace(/[()\s]/g, ch => `%${ch.charCodeAt(0).toString(16).padStart(2, '0')}`)
}

/** Untrusted text in running Markdown: every ASCII punctuation that could start markup is escaped. */
function mdText (text: string): string {
  return plainText(text).replace(/[\\`*_{}[\]()<>#+\-.!|~]/g, ch => `\\${ch}`)
}

/**
 * A name as an inline code span inside a table cell. GFM splits cells on `|` even inside code, so
 * that is escaped; a fence longer than any run of backticks in the name keeps it one span.
 */
function mdCode (text: string): string {
  const clean = plainText(text).replace(/\|/g, '\\|')
  const longest = Math.max(0, ...(clean.match(/`+/g) ?? []).map(run => run.length))
  const fence = '`'.repeat(longest + 1)
  const pad = clean.startsWith('`') || clean.endsWith('`') ? ' ' : ''
  return `${fence}${pad}${clean}${pad}${fence}`
}
