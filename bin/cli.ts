import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command, CommanderError } from 'commander'
import { KsftError } from '../server/errors.ts'
import { ExitCode } from './exit-code.ts'
import { registerBackup } from './commands/backup.ts'
import { registerDemo } from './commands/demo.ts'
import { registerExport } from './commands/export.ts'
import { registerGate } from './commands/gate.ts'
import { registerMachine, registerSeries } from './commands/identity.ts'
import { registerIngest } from './commands/ingest.ts'
import { registerIssue } from './commands/issue.ts'
import { registerMigrateStore } from './commands/migrate-store.ts'
import { registerParse } from './commands/parse.ts'
import { registerPrune } from './commands/prune.ts'
import { registerServe } from './commands/serve.ts'
import { registerToken } from './commands/token.ts'
import { registerUpload } from './commands/upload.ts'

/*
 * Each command's file registers its options with commander and imports what its action runs
 * (fastify, better-sqlite3, the parser) inside the action, so `ksft --help` or `ksft gate` loads
 * neither the server nor the database driver.
 */

export function buildProgram (): Command {
  const program = new Command('ksft')
    .description('kselftest results per patch-series version: ingest logs, serve the dashboard')
    .version(packageVersion(), '-V, --version', 'print the version of ksft-dashboard')
    // ksft's own options only before the command: `ingest --version v7` is the series version
    .enablePositionalOptions()
    .showHelpAfterError('(ksft --help lists the commands)')
    .exitOverride()
  registerIngest(program)
  registerParse(program)
  registerBackup(program)
  registerExport(program)
  registerGate(program)
  registerIssue(program)
  registerSeries(program)
  registerMachine(program)
  registerPrune(program)
  registerMigrateStore(program)
  registerServe(program)
  registerDemo(program)
  registerToken(program)
  registerUpload(program)
  return program
}

/** The version in package.json: two directories up from dist/bin/cli.js, one from bin/cli.ts. */
function packageVersion (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let up = 0; up < 3; up++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'ksft-dashboard' && pkg.version) return pkg.version
    } catch {}
  }
  return 'unknown'
}

/**
 * A reader that stops early (`ksft export ... | head`) closes the pipe: the next write fails with
 * EPIPE. The rest of the output has nowhere to go, so it is dropped quietly, and the command ends
 * with the exit code it would have had (a gate's verdict stays its verdict).
 */
function dropOutputOnClosedPipe (stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return
    throw err
  })
}

export async function main (argv: string[]): Promise<number> {
  dropOutputOnClosedPipe(process.stdout)
  dropOutputOnClosedPipe(process.stderr)
  try {
    await buildProgram().parseAsync(argv)
    return 0
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander printed its message already; --help and --version end here with 0
      return err.exitCode
    }
    if (err instanceof ExitCode) {
      if (err.message) process.stderr.write(`ksft: ${err.message}\n`)
      return err.code
    }
    const message = err instanceof KsftError ? err.message : err instanceof Error ? err.message : String(err)
    process.stderr.write(`ksft: error: ${message}\n`)
    return 1
  }
}
