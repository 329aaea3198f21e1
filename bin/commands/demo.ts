import type { Command } from 'commander'
import { addDbOption, dbPathOf } from './options.ts'

export function registerDemo (program: Command): void {
  addDbOption(program.command('demo')
    .description('load a demo series of synthetic logs (base, v1..v6 on three machines) through the real ingest path'))
    .action(async (flags: { db?: string }) => {
      const [{ DEMO_SERIES, loadDemo }, { openDatabase }, { RunStore }] = await Promise.all([
        import('../../server/demo/demo-series.ts'), import('../../server/storage/database.ts'), import('../../server/storage/run-store.ts'),
      ])
      const path = dbPathOf(flags)
      const db = openDatabase(path)
      try {
        const result = await loadDemo(new RunStore(db))
        const already = result.runIds.length - result.created
        process.stdout.write(`demo series "${DEMO_SERIES}": ${result.created} runs stored` +
          `${already > 0 ? `, ${already} already there` : ''} in ${path}\n` +
          `see it: ksft serve${flags.db ? ` --db ${flags.db}` : ''}, then open /series/${result.seriesId}\n`)
      } finally {
        db.close()
      }
    })
}
