import type { Command } from 'commander'
// rows.ts imports only types: naming the scopes loads no database driver
import { TOKEN_SCOPES, type TokenScope } from '../../server/storage/rows.ts'
import type { StoreTokens } from '../../server/storage/store.ts'
import { ExitCode } from '../exit-code.ts'
import { addDbOption, openCommandStore } from './options.ts'

async function withTokens<T> (flags: { db?: string }, use: (tokens: StoreTokens) => Promise<T>): Promise<T> {
  const store = await openCommandStore(flags)
  try {
    return await use(store.tokens)
  } finally {
    await store.close()
  }
}

export function registerToken (program: Command): void {
  const token = program.command('token').description('manage upload and admin tokens')

  addDbOption(token.command('create').description('create a token; it is printed once, on the last line'))
    .requiredOption('--name <label>', 'a name for the token, e.g. the CI lab or machine that uses it')
    .option('--scope <scopes>', `comma list of ${TOKEN_SCOPES.join(', ')}`, 'upload')
    .action(async (flags: { name: string, scope: string, db?: string }) => {
      const scopes = flags.scope.split(',').map(scope => scope.trim()).filter(Boolean)
      const unknown = scopes.filter(scope => !(TOKEN_SCOPES as readonly string[]).includes(scope))
      if (unknown.length > 0 || scopes.length === 0) throw new ExitCode(2, `error: --scope takes ${TOKEN_SCOPES.join(', ')}`)
      const created = await withTokens(flags, tokens => tokens.create(flags.name, scopes as TokenScope[]))
      process.stdout.write(`token "${created.info.name}" (${created.info.scopes.join(',')}) created; it is shown only now:\n${created.token}\n`)
    })

  addDbOption(token.command('list').description('list tokens (never their secrets)'))
    .option('--json', 'print JSON')
    .action(async (flags: { db?: string, json?: boolean }) => {
      const list = await withTokens(flags, tokens => tokens.list())
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(list)}\n`)
        return
      }
      for (const t of list) {
        const state = t.revokedAt ? `revoked ${t.revokedAt}` : t.lastUsedAt ? `last used ${t.lastUsedAt}` : 'never used'
        process.stdout.write(`${t.name}\t${t.scopes.join(',')}\tcreated ${t.createdAt}\t${state}\n`)
      }
    })

  addDbOption(token.command('revoke').description('revoke a token by name').argument('<name>'))
    .action(async (name: string, flags: { db?: string }) => {
      if (!await withTokens(flags, tokens => tokens.revoke(name))) throw new ExitCode(1, `error: no live token named "${name}"`)
      process.stdout.write(`token "${name}" revoked\n`)
    })
}
