import type { Command } from 'commander'
import { ExitCode } from '../exit-code.ts'
import { exitTwoOnUsageErrors } from './gate.ts'

/**
 * What the commands that talk to a running server through its API share (`ksft issue`,
 * `ksft series`, `ksft machine`): the server and token options, and a client whose refusals end
 * with exit 1 and whose unanswered calls end with exit 2.
 */

export interface ServerFlags { server?: string, token?: string }

export function serverOptions (command: Command): Command {
  return exitTwoOnUsageErrors(command)
    .option('--server <url>', 'the ksft-dashboard server (env KSFT_SERVER)')
    .option('--token <token>', 'an admin token for changes (env KSFT_TOKEN; prefer the variable)')
}

export async function clientOf (flags: ServerFlags) {
  const server = flags.server ?? process.env.KSFT_SERVER
  if (server === undefined || server === '') throw new ExitCode(2, 'error: give the server with --server URL (or KSFT_SERVER)')
  const { KsftApiClient, ApiError } = await import('../api-client.ts')
  let client
  try {
    client = new KsftApiClient(server, { token: flags.token ?? process.env.KSFT_TOKEN })
  } catch (err) {
    throw new ExitCode(2, `error: ${(err as Error).message}`)
  }
  /** The call, with the server's refusal as exit 1 and no answer as exit 2. */
  const call = async <T>(method: 'GET' | 'POST' | 'PATCH', path: string, options?: { query?: Record<string, string | number | undefined>, body?: unknown }): Promise<T> => {
    try {
      return await client.json<T>(method, path, options)
    } catch (err) {
      if (err instanceof ApiError) throw new ExitCode(err.status === null ? 2 : 1, `error: ${err.message}${err.status === null ? '' : ` (${err.code})`}`)
      throw err
    }
  }
  return { call }
}
