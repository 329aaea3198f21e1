import type { Command } from 'commander'
import type { Static } from 'typebox'
import type { MachineMergeSchema, RenamedSchema, SeriesMergeSchema } from '../../server/schemas/identity.ts'
import { plainText } from '../../server/queries/verdict.ts'
import { exitTwoOnUsageErrors } from './gate.ts'
import { clientOf, serverOptions, type ServerFlags } from './server-client.ts'

/*
 * `ksft series rename|merge` and `ksft machine rename|merge`: an admin's corrections of what
 * uploads named two ways (docs/series.md), through the server's API with an admin token. Exit 0
 * done, 1 refused by the server, 2 wrong call or no answer.
 */

const say = (line: string) => process.stdout.write(`${plainText(line)}\n`)

export function registerSeries (program: Command): void {
  const series = exitTwoOnUsageErrors(program.command('series')
    .description('rename a series or merge one into another on a server (admin)'))

  serverOptions(series.command('rename').description('give a series a new name; its old names still find it (admin)'))
    .argument('<series>', 'the series: its id or any of its names')
    .argument('<new-name>', 'the name it gets')
    .action(async (which: string, name: string, flags: ServerFlags) => {
      const { call } = await clientOf(flags)
      const { renamed } = await call<Static<typeof RenamedSchema>>('POST', `/api/v1/series/${encodeURIComponent(which)}/rename`, { body: { name } })
      say(`series ${renamed.id} renamed: "${renamed.from}" -> "${renamed.to}"`)
    })

  serverOptions(series.command('merge').description('merge a series into another, as if its runs had been uploaded there (admin)'))
    .argument('<from>', 'the series that goes: its id or a name')
    .argument('<into>', 'the series that stays')
    .action(async (from: string, into: string, flags: ServerFlags) => {
      const { call } = await clientOf(flags)
      const { merged } = await call<Static<typeof SeriesMergeSchema>>('POST', `/api/v1/series/${encodeURIComponent(from)}/merge`, { body: { into } })
      say(`series ${merged.from.id} "${merged.from.name}" merged into ${merged.into.id} "${merged.into.name}": ${merged.runs} runs`)
      if (merged.versionsMoved.length > 0) say(`  moved: ${merged.versionsMoved.join(', ')}`)
      if (merged.versionsMerged.length > 0) say(`  folded into the same version: ${merged.versionsMerged.join(', ')}`)
      if (merged.issuesRematched.length > 0) say(`  known issues matched again: ${merged.issuesRematched.map(id => `#${id}`).join(', ')}`)
    })
}

export function registerMachine (program: Command): void {
  const machine = exitTwoOnUsageErrors(program.command('machine')
    .description('rename a machine or merge one into another on a server (admin)'))

  serverOptions(machine.command('rename').description('give a machine a new name; uploads under the old one still land on it (admin)'))
    .argument('<machine>', 'its name')
    .argument('<new-name>', 'the name it gets')
    .action(async (which: string, name: string, flags: ServerFlags) => {
      const { call } = await clientOf(flags)
      const { renamed } = await call<Static<typeof RenamedSchema>>('POST', `/api/v1/machines/${encodeURIComponent(which)}/rename`, { body: { name } })
      say(`machine ${renamed.id} renamed: "${renamed.from}" -> "${renamed.to}"`)
    })

  serverOptions(machine.command('merge').description('merge a machine into another: one host uploaded under two names (admin)'))
    .argument('<from>', 'the machine that goes')
    .argument('<into>', 'the machine that stays')
    .action(async (from: string, into: string, flags: ServerFlags) => {
      const { call } = await clientOf(flags)
      const { merged } = await call<Static<typeof MachineMergeSchema>>('POST', `/api/v1/machines/${encodeURIComponent(from)}/merge`, { body: { into } })
      say(`machine "${merged.from.name}" merged into "${merged.into.name}": ${merged.runs} runs`)
      if (merged.issuesRematched.length > 0) say(`  known issues matched again: ${merged.issuesRematched.map(id => `#${id}`).join(', ')}`)
    })
}
