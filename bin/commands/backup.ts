import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import { ExitCode } from '../exit-code.ts'
import { addDbOption, openCommandStore } from './options.ts'

export function registerBackup (program: Command): void {
  addDbOption(program.command('backup')
    .description('write a consistent copy of the database while the server keeps taking uploads')
    .argument('<out.db>', 'the backup file to create'))
    .option('--force', 'overwrite an existing file')
    .action(async (out: string, flags: { db?: string, force?: boolean }) => {
      if (existsSync(out) && !flags.force) throw new ExitCode(1, `error: ${out} exists; use --force to overwrite it`)
      const store = await openCommandStore(flags)
      let runs: number
      try {
        runs = (await store.admin.backup(out)).runs
      } finally {
        await store.close()
      }
      process.stdout.write(`backup written to ${out}: ${runs} runs, integrity ok\n`)
    })
}
