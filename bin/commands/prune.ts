import type { Command } from 'commander'
import { ExitCode } from '../exit-code.ts'
import { addDbOption, openCommandStore } from './options.ts'

const UNIT_MS: Record<string, number> = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 }

/** `180d`, `12w`, `36h` as milliseconds. */
export function parseAge (text: string): number {
  const m = /^(\d+)([hdw])$/.exec(text.trim())
  if (!m || Number(m[1]) === 0) throw new ExitCode(2, `error: --older-than takes an age such as 180d, 12w or 36h, not ${JSON.stringify(text)}`)
  return Number(m[1]) * UNIT_MS[m[2]!]!
}

export function registerPrune (program: Command): void {
  addDbOption(program.command('prune')
    .description('remove old runs and their logs, never the newest run of a version'))
    .requiredOption('--older-than <age>', 'runs stored longer ago than this: 180d, 12w, 36h')
    .option('--keep-versions', 'also keep the newest run of every machine in every version')
    .option('--dry-run', 'say what would go, remove nothing')
    .action(async (flags: { olderThan: string, keepVersions?: boolean, dryRun?: boolean, db?: string }) => {
      const cutoff = new Date(Date.now() - parseAge(flags.olderThan))
      const store = await openCommandStore(flags)
      try {
        const report = await store.admin.prune(cutoff, { perMachine: flags.keepVersions ?? false, dryRun: flags.dryRun ?? false })
        const verb = flags.dryRun ? 'would remove' : 'removed'
        for (const run of report.removed) {
          process.stdout.write(`${verb} run ${run.id}: ${run.series} ${run.version} on ${run.machine}, stored ${run.createdAt}, ${run.logBytes} log bytes\n`)
        }
        process.stdout.write(`${verb} ${report.removed.length} run${report.removed.length === 1 ? '' : 's'} stored before ${cutoff.toISOString()} (${report.logBytes} log bytes); ${report.kept} kept\n`)
      } finally {
        await store.close()
      }
    })
}
