import type { Command } from 'commander'
import { KsftError } from '../../server/errors.ts'
import type { Store } from '../../server/storage/store.ts'
import { ExitCode } from '../exit-code.ts'
import { exitTwoOnUsageErrors } from './gate.ts'
import { addDbOption, dbPathOf, openCommandStore } from './options.ts'

interface KcidbFlags {
  run?: string
  series?: string
  version?: string
  origin: string
  db?: string
  baseUrl?: string
}

export function registerExport (program: Command): void {
  const exporter = exitTwoOnUsageErrors(program.command('export').description('write stored results in the formats other systems read (KCIDB, JUnit XML)'))

  addDbOption(exitTwoOnUsageErrors(exporter.command('kcidb'))
    .description('print a KCIDB v5.3 I/O document (for kcidb-submit) of one run, or of every run of a series or of one of its versions'))
    .option('--run <id>', 'one run')
    .option('--series <id-or-name>', 'every run of a series (its id or exact name)')
    .option('--version <label>', 'with --series: only the runs of this version, e.g. v7 or base')
    .requiredOption('--origin <origin>', 'your CI system\'s KCIDB origin, as KernelCI assigned it ([a-z0-9_]+)')
    .option('--base-url <url>', 'the dashboard\'s address, e.g. https://ksft.example.org: each test links to its run\'s raw log there')
    .action(async (flags: KcidbFlags) => {
      const [{ ORIGIN_PATTERN }, { buildKcidbDocument }, { exportedRuns }] = await Promise.all([
        import('../../server/export/kcidb-schema.ts'), import('../../server/export/kcidb.ts'), import('../../server/export/run-source.ts'),
      ])
      if (!new RegExp(ORIGIN_PATTERN).test(flags.origin)) throw usage(`--origin must be lowercase letters, digits and _ (KCIDB's [a-z0-9_]+), not "${flags.origin}"`)
      if ((flags.run === undefined) === (flags.series === undefined)) throw usage('give exactly one of --run ID and --series ID')
      if (flags.version !== undefined && flags.series === undefined) throw usage('--version goes with --series')
      const logUrl = logUrlOf(flags.baseUrl)
      await withStore(flags, async (store) => {
        const runIds = flags.run !== undefined ? [runIdOf(flags.run)] : await seriesRunIds(store, flags.series!, flags.version)
        const doc = await buildKcidbDocument(exportedRuns(store, runIds), { origin: flags.origin, logUrl })
        process.stdout.write(`${JSON.stringify(doc)}\n`)
      })
    })

  addDbOption(exitTwoOnUsageErrors(exporter.command('junit'))
    .description('print a run as JUnit XML, for CI test reports'))
    .requiredOption('--run <id>', 'the run')
    .option('--base-url <url>', 'the dashboard\'s address: cut outputs name the raw log there')
    .action(async (flags: { run: string, db?: string, baseUrl?: string }) => {
      const runId = runIdOf(flags.run)
      const logUrl = logUrlOf(flags.baseUrl)
      const [{ buildJunitXml }, { exportedRun }] = await Promise.all([import('../../server/export/junit.ts'), import('../../server/export/run-source.ts')])
      await withStore(flags, async (store) => {
        process.stdout.write(buildJunitXml(await exportedRun(store, runId), { logUrl: logUrl?.(runId) }))
      })
    })
}

/** Usage errors end with 2, as in `ksft gate`: a script can tell a wrong call from a failed export. */
function usage (message: string): ExitCode {
  return new ExitCode(2, `error: ${message}`)
}

function runIdOf (text: string): number {
  if (!/^[1-9]\d{0,15}$/.test(text)) throw usage(`--run takes a run id (a positive number), not "${text}"`)
  return Number(text)
}

function logUrlOf (baseUrl: string | undefined): ((runId: number) => string) | undefined {
  if (baseUrl === undefined) return undefined
  let url: URL
  try {
    url = new URL(baseUrl)
  } catch {
    throw usage(`--base-url must be an absolute http(s) URL, not "${baseUrl}"`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usage('--base-url must be an http(s) URL')
  const base = url.href.replace(/\/+$/, '')
  return runId => `${base}/api/v1/runs/${runId}/log.txt`
}

async function seriesRunIds ({ exports }: Store, idOrName: string, version: string | undefined): Promise<number[]> {
  const series = await exports.findSeries(idOrName)
  if (!series) throw new KsftError('SERIES_NOT_FOUND', `no series "${idOrName}"`)
  if (version !== undefined && !await exports.hasVersion(series.id, version)) {
    throw new KsftError('VERSION_NOT_FOUND', `series "${series.name}" has no version "${version}"`)
  }
  return exports.runIds(series.id, version)
}

/** The store opened read-only: an export never writes, and never creates a database that is not there. */
async function withStore (flags: { db?: string }, use: (store: Store) => Promise<void>): Promise<void> {
  const { StoreLocationError } = await import('../../server/storage/store.ts')
  let store: Store
  try {
    store = await openCommandStore(flags, { readonly: true })
  } catch (err) {
    // a location that names no store says so itself, without a URL's password
    if (err instanceof StoreLocationError) throw err
    throw new ExitCode(1, `error: cannot open the database ${dbPathOf(flags)}: ${(err as Error).message}`)
  }
  try {
    await use(store)
  } finally {
    await store.close()
  }
}
