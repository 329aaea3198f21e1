import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import { DEFAULT_DB_PATH } from '../../server/defaults.ts'
import { ExitCode } from '../exit-code.ts'

interface MigrateStoreFlags { from?: string, to?: string, batchRows: string }

/** Progress on stderr: one line rewritten in place on a terminal, else a line per table and at most one a second within one. */
function progressPrinter (stream: NodeJS.WriteStream) {
  let lastLine = 0
  return (progress: { table: string, copied: number, total: number, skipped: boolean, done: boolean }): void => {
    const now = Date.now()
    if (!stream.isTTY && !progress.done && now - lastLine < 1000) return
    lastLine = now
    const share = progress.total === 0 ? 100 : Math.floor(progress.copied * 100 / progress.total)
    const what = progress.skipped
      ? progress.total === 0 ? 'no rows' : `${progress.total} rows, copied before`
      : `${progress.copied}/${progress.total} rows (${share}%)`
    if (stream.isTTY) stream.write(`\r\x1b[K${progress.table}: ${what}${progress.done ? '\n' : ''}`)
    else stream.write(`${progress.table}: ${what}\n`)
  }
}

export function registerMigrateStore (program: Command): void {
  program.command('migrate-store')
    .description('copy a SQLite store into a PostgreSQL database (ids kept, safe to re-run), then check that both hold the same')
    .option('--from <path>', `the SQLite database file (env KSFT_DB, default ${DEFAULT_DB_PATH})`)
    .option('--to <url>', 'the PostgreSQL database, postgres://user@host/db (env KSFT_DATABASE_URL)')
    .option('--batch-rows <n>', 'rows per INSERT', '5000')
    .action(async (flags: MigrateStoreFlags) => {
      const from = flags.from ?? process.env.KSFT_DB ?? DEFAULT_DB_PATH
      const to = flags.to ?? process.env.KSFT_DATABASE_URL
      if (to === undefined || to === '') throw new ExitCode(2, 'error: --to takes the PostgreSQL database to copy into, postgres://user@host/db')
      const batchRows = Number(flags.batchRows)
      if (!Number.isInteger(batchRows) || batchRows < 1) throw new ExitCode(2, `error: --batch-rows takes a positive integer, not ${JSON.stringify(flags.batchRows)}`)
      // openDatabase would create an empty store at a mistyped path, and copying that is no copy
      if (!existsSync(from)) throw new ExitCode(1, `error: ${from}: no such SQLite store`)
      const [{ openDatabase }, { isPostgresUrl, openPostgres }, { copySqliteToPostgres, verifyCopy }] = await Promise.all([
        import('../../server/storage/sqlite/database.ts'),
        import('../../server/storage/postgres/connect.ts'),
        import('../../server/storage/postgres/copy-store.ts'),
      ])
      if (!isPostgresUrl(to)) throw new ExitCode(2, 'error: --to takes a postgres:// or postgresql:// URL')
      const sqlite = openDatabase(from)
      try {
        const pool = await openPostgres(to, { maxConnections: 1 })
        try {
          const stats = await copySqliteToPostgres(sqlite, pool, { batchRows, onProgress: progressPrinter(process.stderr) })
          const seconds = stats.ms / 1000
          process.stderr.write(`copied ${stats.rows} rows in ${seconds.toFixed(1)} s (${Math.round(stats.rows / Math.max(seconds, 0.001))} rows/s)\n`)
          const report = await verifyCopy(sqlite, pool)
          for (const table of report.tables) {
            process.stdout.write(`${table.table}: ${table.sqlite} rows in SQLite, ${table.postgres} in PostgreSQL${table.sqlite === table.postgres ? '' : '  DIFFERS'}\n`)
          }
          for (const aggregate of report.aggregates) {
            process.stdout.write(`${aggregate.name} (${aggregate.groups} group${aggregate.groups === 1 ? '' : 's'}): ${aggregate.equal ? 'equal' : 'DIFFERS'}\n`)
          }
          for (const difference of report.differences) {
            process.stdout.write(`differs: ${difference.what}${difference.key === '' ? '' : ` [${difference.key}]`}: SQLite ${JSON.stringify(difference.sqlite)}, PostgreSQL ${JSON.stringify(difference.postgres)}\n`)
          }
          if (!report.equal) throw new ExitCode(1, `error: the PostgreSQL store differs from ${from} in ${report.differences.length} place${report.differences.length === 1 ? '' : 's'} (above)`)
          process.stdout.write(`verified: the PostgreSQL store holds what ${from} holds\n`)
        } finally {
          await pool.end()
        }
      } finally {
        sqlite.close()
      }
    })
}
