import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

export const HOOK_SCRIPT_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'ksft-upload.sh')

/** The CI upload hook, so that a test machine needs only `curl -fsS $SERVER/hook.sh | sh -s -- ...`. */
export const hookRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const script = readFileSync(HOOK_SCRIPT_PATH, 'utf8')
  app.get('/hook.sh', {
    schema: { summary: 'The POSIX sh upload hook for CI machines without Node', tags: ['operations'], produces: ['text/x-shellscript'] },
  }, async (_request, reply) => reply.type('text/x-shellscript; charset=utf-8').send(script))
}
