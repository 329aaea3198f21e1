import { createReadStream } from 'node:fs'
import type { Command } from 'commander'
import type { ParseResult, Status, TestRecord } from '../../ingest/index.ts'
import { ExitCode } from '../exit-code.ts'

/**
 * `ksft parse FILE|-`: what a log parses to, without storing it, so that a user can check a log
 * before uploading it and a bug report can show a parse. It loads the parser alone (no server, no
 * database driver), and only when it runs.
 */

interface ParseFlags {
  json?: boolean
  collection?: string
}

/** Exit code for input that is not a kselftest log (and for a file that cannot be read). */
export const NOT_PARSED_EXIT = 1

export function registerParse (program: Command): void {
  program.command('parse')
    .description('print what a kselftest log (a file, or - for stdin) parses to, without storing it')
    .argument('<file>', 'the log file, or - to read standard input')
    .option('--collection <name>', 'collection for tests run directly, without the kselftest runner', 'unknown')
    .option('--json', 'print the parse result (tests, plans, unfinished tests, warnings) as one JSON object')
    .action(async (file: string, flags: ParseFlags) => {
      const { KselftestLogParser, STATUSES, isFailing } = await import('../../ingest/index.ts')
      const parser = new KselftestLogParser({ directCollection: flags.collection })
      // Streamed: a log of any size is parsed in its chunks, never held whole.
      const decoder = new TextDecoder('utf-8')
      const source = file === '-' ? process.stdin : createReadStream(file)
      try {
        for await (const chunk of source) parser.push(decoder.decode(chunk as Buffer, { stream: true }))
      } catch (err) {
        throw new ExitCode(NOT_PARSED_EXIT, `cannot read ${file === '-' ? 'standard input' : file}: ${readError(err)}`)
      }
      parser.push(decoder.decode())
      const result = parser.end()
      if (!result.recognized) {
        throw new ExitCode(NOT_PARSED_EXIT,
          `${file === '-' ? 'standard input' : file} is not a kselftest log: none of its ${result.lineCount} lines is a "selftests:" test header or a TAP result line`)
      }
      process.stdout.write(flags.json ? `${JSON.stringify(result)}\n` : describe(result, { statuses: STATUSES, isFailing }))
    })
}

function readError (err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EISDIR') return 'is a directory'
  return err instanceof Error ? err.message : String(err)
}

interface Vocabulary { statuses: readonly Status[], isFailing: (status: Status) => boolean }

/** Counts per status, then each test that failed (as compare counts failing) or carries a flag, then the warnings. */
export function describe (result: ParseResult, vocabulary: Vocabulary): string {
  const out: string[] = []
  const counts = new Map<Status, number>()
  for (const test of result.tests) counts.set(test.status, (counts.get(test.status) ?? 0) + 1)
  const subtests = result.tests.reduce((sum, test) => sum + countSubtests(test.subtests), 0)
  const byStatus = vocabulary.statuses.filter(status => counts.has(status)).map(status => `${counts.get(status)} ${status}`).join(', ')
  out.push(`${result.tests.length} tests${byStatus ? `: ${byStatus}` : ''}; ${subtests} subtests; ${result.lineCount} lines`)
  for (const plan of result.plans) {
    if (plan.planned !== plan.seen) out.push(`plan at line ${plan.line}${plan.collection ? ` (${plan.collection})` : ''}: ${plan.planned} planned, ${plan.seen} seen`)
  }
  const troubled = result.tests.filter(test => vocabulary.isFailing(test.status) || test.flags.length > 0)
  for (const test of troubled) out.push(describeTest(test))
  for (const warning of result.warnings) out.push(`warning: ${warning}`)
  return `${out.join('\n')}\n`
}

function describeTest (test: TestRecord): string {
  const exit = test.exitCode === null ? '' : ` exit=${test.exitCode}`
  const timeout = test.timeoutSeconds === null ? '' : ` timeout=${test.timeoutSeconds}s`
  const flags = test.flags.length ? ` [${test.flags.join(',')}]` : ''
  const reason = test.reason ? `: ${test.reason.split('\n')[0]}` : ''
  return `${test.status.padEnd(7)} ${test.collection}: ${test.name}${exit}${timeout}${flags} (lines ${test.lines[0]}-${test.lines[1]})${reason}`
}

function countSubtests (subtests: TestRecord['subtests']): number {
  return subtests.reduce((sum, subtest) => sum + 1 + countSubtests(subtest.subtests), 0)
}
