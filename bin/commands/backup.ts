import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import { ExitCode } from '../exit-code.ts'
import { addDbOption, dbPathOf } from './options.ts'

export function registerBackup (program: Command): void {
  addDbOption(program.command('backup')
    .description('write a consistent copy of the database while the server keeps taking uploads')
    .argument('<out.db>', 'the backup file to create'))
    .option('--force', 'overwrite an existing file')
    .action(async (out: string, flags: { db?: string, force?: boolean }) => {
      if (existsSync(out) && !flags.force) throw new ExitCode(1, `error: ${out} exists; use --force to overwrite it`)
      const [{ default: BetterSqlite3 }, { openDatabase }] = await Promise.all([import('better-sqlite3'), import('../../server/storage/database.ts')])
      const db = openDatabase(dbPathOf(flags))
      try {
        // one step copies every page under one read transaction: a snapshot, which WAL lets
        // writers go on beside; in small steps another process's upload would restart the copy
        await db.backup(out, { progress: () => 1 << 30 })
      } finally {
        db.close()
      }
      const copy = new BetterSqlite3(out, { readonly: true })
      try {
        const check = copy.pragma('integrity_check', { simple: true })
        if (check !== 'ok') throw new ExitCode(1, `error: the backup failed its integrity check: ${String(check)}`)
        const runs = (copy.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n
        process.stdout.write(`backup written to ${out}: ${runs} runs, integrity ok\n`)
      } finally {
        copy.close()
      }
    })
}
