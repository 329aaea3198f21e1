import { createReadStream } from 'node:fs'
import type { Command } from 'commander'
import type { Summary, TestRecord } from '../../ingest/index.ts'
import { STATUSES, isFailing } from '../../ingest/vocabulary.ts'
import { KsftError } from '../../server/errors.ts'
import { addDbOption, addMetadataOptions, openCommandStore, rawMetadataOf, type MetadataFlags } from './options.ts'

/** How long `ksft ingest` waits for another writer of the same file (a busy server) before giving up. */
const INGEST_WRITE_WAIT_MS = 120_000

interface IngestFlags extends MetadataFlags {
  db?: string
  json?: boolean
  collection?: string
  maxBytes?: string
}

export function registerIngest (program: Command): void {
  const command = program.command('ingest')
    .description('parse a kselftest log (a file, or - for stdin) and store it as one run')
    .argument('<file>', 'the log file, or - to read standard input')
  addMetadataOptions(command)
  addDbOption(command)
    .option('--collection <name>', 'collection for tests run directly, without the kselftest runner', 'unknown')
    .option('--max-bytes <n>', 'refuse logs larger than this many bytes')
    .option('--json', 'print the stored run as one JSON object')
    .action(async (file: string, flags: IngestFlags) => {
      const [{ parseRunMetadata }, { ingestLog }] = await Promise.all([
        import('../../server/domain/run-metadata.ts'), import('../../server/services/ingest-log.ts'),
      ])
      const meta = parseRunMetadata(rawMetadataOf(flags))
      // a server on the same file stores busy uploads back to back, each in steps of one transaction:
      // a batch ingest waits for a gap between them rather than failing after the usual wait
      const store = await openCommandStore(flags, { writeWaitMs: INGEST_WRITE_WAIT_MS })
      try {
        const source = file === '-' ? process.stdin : createReadStream(file)
        const result = await ingestLog(readable(source, file), meta, store, {
          directCollection: flags.collection,
          maxBytes: flags.maxBytes === undefined ? undefined : Number(flags.maxBytes),
        })
        const run = (await store.runs.getRun(result.runId))!
        // a run just stored holds what the parse read (test/server/storage/run-store.test.ts): reading
        // its hundreds of thousands of results back cost as much as storing them; a run stored before
        // is shown as it was stored
        const tests = result.created ? result.parse.tests : await store.runs.getRunTests(result.runId)
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ run: { id: run.id, created: result.created, summary: run.summary }, tests, warnings: run.warnings })}\n`)
        } else {
          // the series and machine the run went to, which an earlier title or a machine's old name may not say
          process.stdout.write(describe(run.id, result.created, run.series.name, meta.version, run.machine.name, run.summary, tests, run.warnings))
        }
      } finally {
        await store.close()
      }
    })
}

/** A stream's chunks, with a read error turned into one clear line. */
async function * readable (stream: NodeJS.ReadableStream, name: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of stream) yield chunk as Buffer
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file'
      : (err as NodeJS.ErrnoException).code === 'EISDIR' ? 'is a directory'
        : (err as Error).message
    throw new KsftError('BAD_REQUEST', `cannot read ${name === '-' ? 'standard input' : name}: ${reason}`)
  }
}

function describe (id: number, created: boolean, series: string, version: string, machine: string, summary: Summary, tests: TestRecord[], warnings: string[]): string {
  const out: string[] = []
  out.push(`run ${id} ${created ? 'stored' : 'already stored (same log and metadata)'}: ${series} ${version} on ${machine}`)
  const counts = STATUSES.filter(status => summary[status] > 0).map(status => `${summary[status]} ${status}`)
  out.push(`  ${summary.total} tests: ${counts.join(', ')}`)
  const troubled = tests.filter(test => isFailing(test.status) || test.flags.length > 0)
  for (const test of troubled) {
    const exit = test.exitCode === null ? '' : ` exit=${test.exitCode}`
    const flags = test.flags.length ? ` [${test.flags.join(',')}]` : ''
    const reason = test.reason ? `: ${test.reason.split('\n')[0]!.slice(0, 160)}` : ''
    out.push(`  ${test.status.padEnd(7)} ${test.collection}: ${test.name}${exit}${flags}${reason} (lines ${test.lines[0]}-${test.lines[1]})`)
  }
  for (const warning of warnings) out.push(`  warning: ${warning}`)
  return `${out.join('\n')}\n`
}
