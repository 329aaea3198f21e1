import type { Command } from 'commander'
import { addDbOption, dbPathOf, openCommandStore } from './options.ts'

export function registerDemo (program: Command): void {
  addDbOption(program.command('demo')
    .description('load a demo series of synthetic logs (base, v1..v6 on three machines) through the real ingest path'))
    .action(async (flags: { db?: string }) => {
      const { DEMO_SERIES, loadDemo } = await import('../../server/demo/demo-series.ts')
      const { redacted } = await import('../../server/storage/store.ts')
      // a database URL's password is not printed
      const path = redacted(dbPathOf(flags))
      const store = await openCommandStore(flags)
      try {
        const result = await loadDemo(store)
        const already = result.runIds.length - result.created
        process.stdout.write(`demo series "${DEMO_SERIES}": ${result.created} runs stored` +
          `${already > 0 ? `, ${already} already there` : ''} in ${path}\n` +
          `see it: ksft serve${flags.db ? ` --db ${redacted(flags.db)}` : ''}, then open /series/${result.seriesId}\n`)
      } finally {
        await store.close()
      }
    })
}
