import type { Command } from 'commander'
import { addDbOption } from './options.ts'

export function registerServe (program: Command): void {
  addDbOption(program.command('serve').description('start the HTTP server (API and dashboard)'))
    .option('--host <host>', 'address to listen on (env KSFT_HOST, default 127.0.0.1)')
    .option('--port <port>', 'port (env KSFT_PORT, default 8080)')
    .option('--read-token <token>', 'require this token for every page and API read (env KSFT_READ_TOKEN)')
    .action(async (flags: { db?: string, host?: string, port?: string, readToken?: string }) => {
      const { serve, serveOptionsFromEnv } = await import('../../server/main.ts')
      const defaults = serveOptionsFromEnv()
      await serve({
        ...defaults,
        dbPath: flags.db ?? defaults.dbPath,
        host: flags.host ?? defaults.host,
        port: flags.port === undefined ? defaults.port : Number(flags.port),
        security: { ...defaults.security, readToken: flags.readToken ?? defaults.security?.readToken },
      })
    })
}
