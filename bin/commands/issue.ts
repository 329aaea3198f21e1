import { type Command, Option } from 'commander'
import type { IssueDetailSchema, IssueListSchema, IssueView, UntriagedSchema } from '../../server/schemas/issues.ts'
import { CULPRITS } from '../../server/domain/known-issues.ts'
import { plainText } from '../../server/queries/verdict.ts'
import type { Static } from 'typebox'
import { ExitCode } from '../exit-code.ts'
import { exitTwoOnUsageErrors } from './gate.ts'
import { clientOf, serverOptions, type ServerFlags } from './server-client.ts'

/*
 * `ksft issue`: known issues on a server, through the same API the dashboard uses. Reading needs
 * no token; add, edit, resolve and reopen need an admin token (KSFT_TOKEN). Exit 0 done, 1 refused
 * by the server, 2 wrong call or no answer.
 */

interface AddFlags extends ServerFlags {
  title: string
  glob: string
  url?: string
  culprit?: string
  intermittent?: boolean
  reason?: string
  log?: string
  exitCode?: string
  kernelTrouble?: boolean
  status?: string[]
  series?: string[]
  machine?: string[]
  arch?: string
  cpuFlag?: string[]
  kernel?: string
  versions?: string
}

const collect = (value: string, previous: string[] = []) => [...previous, value]

function issueId (raw: string): number {
  const id = Number(raw.replace(/^#/, ''))
  if (!Number.isInteger(id) || id < 1) throw new ExitCode(2, `error: "${raw}" is not an issue number`)
  return id
}

function describe (issue: IssueView): string {
  const m = issue.matcher
  const s = issue.scope
  const matcher = [m.testGlob, m.reasonRegex && `reason ~ /${m.reasonRegex}/`, m.logRegex && `log ~ /${m.logRegex}/`,
    m.exitCode !== null && `exit ${m.exitCode}`, m.statuses.length > 0 && m.statuses.join('|'), m.kernelTrouble && 'and its kernel trouble'].filter(Boolean).join(', ')
  const scope = [s.series.length > 0 && `series ${s.series.join(',')}`, s.machines.length > 0 && s.machines.join(','), s.arch,
    s.cpuFlags.length > 0 && `flags ${s.cpuFlags.join('+')}`, s.kernelGlob && `kernel ${s.kernelGlob}`,
    (s.versionsFrom !== null || s.versionsTo !== null) && `versions ${s.versionsFrom ?? ''}..${s.versionsTo ?? ''}`].filter(Boolean).join('; ')
  return [
    `#${issue.id} ${issue.active ? 'active' : 'resolved'} ${issue.culprit}${issue.intermittent ? ' intermittent' : ''}: ${issue.title}`,
    `    matches ${matcher}${scope === '' ? '' : ` on ${scope}`}; ${issue.matchedResults} results in ${issue.matchedRuns} runs`,
    ...(issue.url === null ? [] : [`    ${issue.url}`]),
  ].map(plainText).join('\n')
}

function versionRange (raw: string | undefined): { versionsFrom?: string, versionsTo?: string } {
  if (raw === undefined) return {}
  const m = /^([^.]*)\.\.([^.]*)$/.exec(raw)
  if (!m) throw new ExitCode(2, `error: --versions takes FROM..TO (v3..v7, v3.., ..v7), not "${raw}"`)
  return { ...(m[1] ? { versionsFrom: m[1] } : {}), ...(m[2] ? { versionsTo: m[2] } : {}) }
}

export function registerIssue (program: Command): void {
  const issue = exitTwoOnUsageErrors(program.command('issue')
    .description('known issues: failures triaged once, kept out of regressions and the gate (add, list, show, resolve, reopen, untriaged)'))

  serverOptions(issue.command('add')
    .description('record a known issue (admin) and match it against every stored result'))
    .requiredOption('--title <text>', 'what the failure is, in a line')
    .requiredOption('--glob <test-path>', 'test path glob: kvm/cpuid_test, memfd/*, kvm/t/subtest (a test\'s glob covers its subtests)')
    .option('--url <url>', 'a bug report or a lore thread')
    .addOption(new Option('--culprit <who>', 'whose fault it is').choices(CULPRITS))
    .option('--intermittent', 'the failure comes and goes')
    .option('--reason <regex>', 'a regular expression the reason must contain a match of')
    .option('--log <regex>', "a regular expression one of the test's log lines must contain a match of")
    .option('--exit-code <n>', 'only results with this exit code')
    .option('--status <status>', 'only this failing status (repeat for more)', collect)
    .option('--kernel-trouble', 'also explain kernel trouble (WARNING, BUG, Oops) in what it matches; off, a new WARNING stays the series\' to answer for')
    .option('--series <id>', 'only this series (repeat for more)', collect)
    .option('--machine <name>', 'only this machine (repeat for more)', collect)
    .option('--arch <arch>', 'only machines of this architecture')
    .option('--cpu-flag <flag>', 'only machines with this CPU flag, e.g. sev_snp, tdx (repeat: all needed)', collect)
    .option('--kernel <glob>', 'only kernel releases matching this glob, e.g. 6.12.*')
    .option('--versions <from..to>', 'only these versions, both included: v3..v7, v3.., ..v7')
    .action(async (flags: AddFlags) => {
      const { call } = await clientOf(flags)
      const exitCode = flags.exitCode === undefined ? undefined : Number(flags.exitCode)
      if (exitCode !== undefined && !Number.isInteger(exitCode)) throw new ExitCode(2, `error: --exit-code takes a number, not "${flags.exitCode}"`)
      const series = (flags.series ?? []).map(id => Number(id))
      if (series.some(id => !Number.isInteger(id) || id < 1)) throw new ExitCode(2, 'error: --series takes series ids (numbers)')
      const created = await call<IssueView>('POST', '/api/v1/issues', {
        body: {
          title: flags.title,
          ...(flags.url === undefined ? {} : { url: flags.url }),
          ...(flags.culprit === undefined ? {} : { culprit: flags.culprit }),
          intermittent: flags.intermittent === true,
          matcher: {
            testGlob: flags.glob,
            ...(flags.reason === undefined ? {} : { reasonRegex: flags.reason }),
            ...(flags.log === undefined ? {} : { logRegex: flags.log }),
            ...(exitCode === undefined ? {} : { exitCode }),
            ...(flags.status === undefined ? {} : { statuses: flags.status }),
            kernelTrouble: flags.kernelTrouble === true,
          },
          scope: {
            series,
            machines: flags.machine ?? [],
            cpuFlags: flags.cpuFlag ?? [],
            ...(flags.arch === undefined ? {} : { arch: flags.arch }),
            ...(flags.kernel === undefined ? {} : { kernelGlob: flags.kernel }),
            ...versionRange(flags.versions),
          },
        },
      })
      process.stdout.write(`recorded ${describe(created)}\n`)
    })

  serverOptions(issue.command('list').description('the known issues, active first'))
    .option('--active', 'only active issues')
    .option('--resolved', 'only resolved issues')
    .action(async (flags: ServerFlags & { active?: boolean, resolved?: boolean }) => {
      const { call } = await clientOf(flags)
      const active = flags.active ? 'true' : flags.resolved ? 'false' : undefined
      const list = await call<Static<typeof IssueListSchema>>('GET', '/api/v1/issues', { query: { active } })
      if (list.issues.length === 0) process.stdout.write('no known issues\n')
      for (const one of list.issues) process.stdout.write(`${describe(one)}\n`)
    })

  serverOptions(issue.command('show').description('one known issue: where it matched, where it is perhaps fixed, its history'))
    .argument('<id>', 'the issue number')
    .action(async (raw: string, flags: ServerFlags) => {
      const { call } = await clientOf(flags)
      const detail = await call<Static<typeof IssueDetailSchema>>('GET', `/api/v1/issues/${issueId(raw)}`)
      const out = [describe(detail.issue), '', 'matched:']
      if (detail.matches.length === 0) out.push('  nothing stored')
      for (const m of detail.matches) out.push(plainText(`  ${m.series} ${m.version} on ${m.machine}: ${m.results} results in ${m.runs} runs`))
      if (detail.perhapsFixed.length > 0) {
        out.push('', 'perhaps fixed:')
        for (const p of detail.perhapsFixed) out.push(plainText(`  ${p.series} on ${p.machine}: ${p.version} passes where ${p.lastMatchedVersion} matched`))
      }
      out.push('', 'history:')
      for (const a of detail.audit) {
        const changes = Object.entries(a.changes).map(([field, change]) => `${field}: ${JSON.stringify(change.from)} -> ${JSON.stringify(change.to)}`)
        out.push(plainText(`  ${a.at} ${a.actor} ${a.action}${a.action === 'edit' ? ` (${changes.join('; ')})` : ''}`))
      }
      process.stdout.write(`${out.join('\n')}\n`)
    })

  for (const [name, active, what] of [['resolve', false, 'resolve a known issue: its failures count again'], ['reopen', true, 'reopen a resolved issue and match it again']] as const) {
    serverOptions(issue.command(name).description(`${what} (admin)`))
      .argument('<id>', 'the issue number')
      .action(async (raw: string, flags: ServerFlags) => {
        const { call } = await clientOf(flags)
        const changed = await call<IssueView>('PATCH', `/api/v1/issues/${issueId(raw)}`, { body: { active } })
        process.stdout.write(`${describe(changed)}\n`)
      })
  }

  serverOptions(issue.command('untriaged').description("a version's failures that no known issue explains, with how long each has failed"))
    .requiredOption('--series <name-or-id>', 'the series: its id or its exact name')
    .option('--version <label>', 'default: the newest version')
    .action(async (flags: ServerFlags & { series: string, version?: string }) => {
      const { call } = await clientOf(flags)
      const answer = await call<Static<typeof UntriagedSchema>>('GET', `/api/v1/series/${encodeURIComponent(flags.series)}/untriaged`, { query: { version: flags.version, limit: 1000 } })
      const out = [plainText(`${answer.series.name} ${answer.version}: ${answer.total} untriaged ${answer.total === 1 ? 'failure' : 'failures'}`)]
      for (const f of answer.failures) {
        out.push(plainText(`  ${f.testPath} (${f.machine}): ${f.status}, failing since ${f.firstSeen.version} (${f.failingVersions} ${f.failingVersions === 1 ? 'version' : 'versions'})` +
          `${f.infrastructure === null ? '' : ` [infrastructure: ${f.infrastructure}]`}`))
        if (f.reason !== null) out.push(plainText(`      ${f.reason.split('\n', 1)[0]}`))
      }
      if (answer.total > answer.failures.length) out.push(`  ... and ${answer.total - answer.failures.length} more`)
      process.stdout.write(`${out.join('\n')}\n`)
    })
}
