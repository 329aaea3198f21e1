import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { CONTENT_SECURITY_POLICY } from '../plugins/security.ts'

export const WEB_DIST = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web', 'dist')

/** The dashboard's page URLs: each one serves the app shell, which reads its state from the URL. */
export const PAGE_URLS = ['/', '/series/:id', '/series/:id/compare', '/tests', '/runs/:id', '/machines', '/issues', '/issues/:id'] as const

export interface WebRoutesOptions {
  /** the built dashboard (`npm run build:web`); web/dist by default */
  root?: string
}

/** `default-src 'self'; script-src 'self'; ...` from the one policy the security plugin also sends. */
export const CSP_HEADER = Object.entries(CONTENT_SECURITY_POLICY)
  .map(([name, values]) => `${name.replace(/[A-Z]/g, c => `-${c.toLowerCase()}`)} ${values.join(' ')}`)
  .join('; ')

function pageHeaders (reply: FastifyReply): FastifyReply {
  // set here as well as by helmet, so that a page never goes out without its policy
  return reply
    .header('content-security-policy', CSP_HEADER)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'same-origin')
}

/** The dashboard: page URLs answer with the app shell, /assets/ with the bundle (uPlot included). */
export const webRoutes: FastifyPluginAsync<WebRoutesOptions> = async (app, options) => {
  const root = options.root ?? WEB_DIST
  const shellPath = join(root, 'index.html')
  const built = existsSync(shellPath)

  if (built) {
    await app.register(fastifyStatic, {
      root: join(root, 'assets'),
      prefix: '/assets/',
      decorateReply: false,
      index: false,
      schemaHide: true,
      // file names carry no hash: browsers revalidate with the ETag instead of trusting a max-age
      cacheControl: false,
      setHeaders: (reply) => {
        reply.header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff')
      },
    })
  }
  // read once: the shell is a few hundred bytes and changes only with a new build and restart
  const shell = built ? readFileSync(shellPath) : null

  for (const url of PAGE_URLS) {
    app.get(url, { schema: { hide: true } }, async (_request, reply) => {
      pageHeaders(reply).header('cache-control', 'no-cache')
      if (shell === null) {
        return reply.status(503).type('text/plain; charset=utf-8')
          .send('The dashboard is not built: run `npm run build:web` (npm start does it), then restart. The API works meanwhile: /api/v1/series, /docs.\n')
      }
      return reply.type('text/html; charset=utf-8').send(shell)
    })
  }
}
