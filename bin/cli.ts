import { Command, CommanderError } from 'commander'
import { KsftError } from '../server/errors.ts'
import { ExitCode } from './exit-code.ts'
import { registerBackup } from './commands/backup.ts'
import { registerDemo } from './commands/demo.ts'
import { registerExport } from './commands/export.ts'
import { registerGate } from './commands/gate.ts'
import { registerIngest } from './commands/ingest.ts'
import { registerParse } from './commands/parse.ts'
import { registerPrune } from './commands/prune.ts'
import { registerServe } from './commands/serve.ts'
import { registerToken } from './commands/token.ts'
import { registerUpload } from './commands/upload.ts'


export function buildProgram (): Command {
  const program = new Command('ksft')
    .description('kselftest results per patch-series version: ingest logs, serve the dashboard')
    .showHelpAfterError('(ksft --help lists the commands)')
    .exitOverride()
  registerIngest(program)
  registerParse(program)
  registerBackup(program)
  registerExport(program)
  registerGate(program)
  registerPrune(program)
  registerServe(program)
  registerDemo(program)
  registerToken(program)
  registerUpload(program)
  return program
}

export async function main (argv: string[]): Promise<number> {
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
