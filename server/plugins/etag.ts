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
  /** Changes whenever anything a reader can see changes (StoreRuns.writeCounter). */
  writeCounter: () => Promise<number>
}

/** Bodies kept per store state: enough for every page a dashboard shows, small beside the page cache. */
const MAX_KEPT_BODIES = 512
const MAX_KEPT_BYTES = 32 * 1024 * 1024

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
 *
 * The bodies of those routes are kept by tag too, and a request whose tag has one gets it without
 * running the handler: the tag names the URL and the store's write counter, and these handlers
 * only read the store. A body is never older than its tag (it was made after the tag was taken),
 * and a new counter drops every body kept, so what is sent is never staler than a fresh answer.
 */
export const etag = fp<EtagOptions>(async (app: FastifyInstance, options: EtagOptions) => {
  const kept = new KeptBodies()
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.routeOptions.config.etag !== true || (request.method !== 'GET' && request.method !== 'HEAD')) return
    const counter = await options.writeCounter()
    const tag = etagOf(counter, request.url)
    reply.header('etag', tag).header('cache-control', 'no-cache')
    if (matches(request.headers['if-none-match'], tag)) return reply.code(304).send()
    const body = request.method === 'GET' ? kept.get(counter, tag) : undefined
    if (body) return reply.type(body.type).send(body.payload)
  })
  app.addHook('onSend', async (request, reply, payload) => {
    // an error is not the resource: no validator for it
    if (reply.statusCode >= 400 && reply.hasHeader('etag')) reply.removeHeader('etag').removeHeader('cache-control')
    else if (reply.statusCode === 200 && request.method === 'GET' && request.routeOptions.config.etag === true && typeof payload === 'string') {
      const tag = reply.getHeader('etag')
      const type = reply.getHeader('content-type')
      if (typeof tag === 'string' && typeof type === 'string') kept.put(tag, { type, payload })
    }
    return payload
  })
}, { name: 'ksft-etag' })

/** Serialized bodies of one store state, by tag; the oldest go first when there are too many. */
class KeptBodies {
  private counter = -1
  private bytes = 0
  private readonly bodies = new Map<string, { type: string, payload: string }>()

  get (counter: number, tag: string): { type: string, payload: string } | undefined {
    if (counter !== this.counter) {
      this.bodies.clear()
      this.bytes = 0
      this.counter = counter
      return undefined
    }
    return this.bodies.get(tag)
  }

  put (tag: string, body: { type: string, payload: string }): void {
    // a body made while the counter moved on belongs to a state nobody asks about any more
    if (!tag.startsWith(`W/"${this.counter}-`) || this.bodies.has(tag) || body.payload.length > MAX_KEPT_BYTES / 4) return
    this.bodies.set(tag, body)
    this.bytes += body.payload.length
    for (const [oldest, dropped] of this.bodies) {
      if (this.bodies.size <= MAX_KEPT_BODIES && this.bytes <= MAX_KEPT_BYTES) break
      this.bodies.delete(oldest)
      this.bytes -= dropped.payload.length
    }
  }
}
