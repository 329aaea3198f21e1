import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Answer with an ETag of the store's write counter and the URL, and If-None-Match with 304. */
    etag?: boolean
  }
}

export interface EtagOptions {
  /** Changes whenever anything a reader can see changes (RunStore.writeCounter). */
  writeCounter: () => number
}

/** The ETag of a URL while the store holds what `counter` counts: weak, as compression may change the bytes. */
export function etagOf (counter: number, url: string): string {
  return `W/"${counter}-${createHash('sha256').update(url).digest('base64url').slice(0, 22)}"`
}

/**
 * Weak comparison (RFC 9110 13.1.2). `*` is not honoured: the tag is known before the handler
 * runs, not whether the resource exists, and an unknown id must stay a 404.
 */
function matches (header: string | undefined, tag: string): boolean {
  if (header === undefined) return false
  const opaque = tag.slice(2)
  return header.split(',').some(candidate => {
    const trimmed = candidate.trim()
    return trimmed === tag || trimmed === opaque
  })
}

/**
 * Conditional GETs for the routes that opt in with `config: { etag: true }`. The tag is taken
 * before the handler reads anything: a run stored while the handler runs then gives a tag older
 * than the body, which only costs the next request a full answer, never a stale 304.
 */
export const etag = fp<EtagOptions>(async (app: FastifyInstance, options: EtagOptions) => {
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.routeOptions.config.etag !== true || (request.method !== 'GET' && request.method !== 'HEAD')) return
    const tag = etagOf(options.writeCounter(), request.url)
    reply.header('etag', tag).header('cache-control', 'no-cache')
    if (matches(request.headers['if-none-match'], tag)) return reply.code(304).send()
  })
  app.addHook('onSend', async (_request, reply, payload) => {
    // an error is not the resource: no validator for it
    if (reply.statusCode >= 400 && reply.hasHeader('etag')) reply.removeHeader('etag').removeHeader('cache-control')
    return payload
  })
}, { name: 'ksft-etag' })
