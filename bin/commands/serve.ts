import type { Command } from 'commander'
import { addDbOption } from './options.ts'

export function registerServe (program: Command): void {
  addDbOption(program.command('serve').description('start the HTTP server (API and dashboard)'))
    .option('--host <host>', 'address to listen on (env KSFT_HOST, default 127.0.0.1)')
    .option('--port <port>', 'port (env KSFT_PORT, default 8080)')
    .option('--read-token <token>', 'require this token for every page and API read (env KSFT_READ_TOKEN; visible in ps: prefer --read-token-file)')
    .option('--read-token-file <path>', 'the read token from the first line of this file (env KSFT_READ_TOKEN_FILE)')
    .option('--public-url <url>', 'the address users reach the server at, for links in exports (env KSFT_PUBLIC_URL)')
    .action(async (flags: { db?: string, host?: string, port?: string, readToken?: string, readTokenFile?: string, publicUrl?: string }) => {
      const { serve, serveOptionsFromEnv, readTokenFromFile } = await import('../../server/main.ts')
      const defaults = serveOptionsFromEnv()
      await serve({
        ...defaults,
        dbPath: flags.db ?? defaults.dbPath,
        host: flags.host ?? defaults.host,
        port: flags.port === undefined ? defaults.port : Number(flags.port),
        security: {
          ...defaults.security,
          readToken: flags.readTokenFile !== undefined ? readTokenFromFile(flags.readTokenFile) : flags.readToken ?? defaults.security?.readToken,
        },
        publicUrl: flags.publicUrl ?? defaults.publicUrl,
      })
    })
}
