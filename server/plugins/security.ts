import { createHash, timingSafeEqual } from 'node:crypto'
import helmet from '@fastify/helmet'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { KsftError } from '../errors.ts'

export interface SecurityOptions {
  /** When set, every page and API read needs this token (private series). */
  readToken?: string
  /** Requests per minute and client IP on every route; 0 turns the limit off. */
  readsPerMinute?: number
  /** Uploads per minute and token; 0 turns the limit off. */
  uploadsPerMinute?: number
}

export const DEFAULT_READS_PER_MINUTE = 1200
export const DEFAULT_UPLOADS_PER_MINUTE = 120

/** The Content-Security-Policy of every response: nothing inline, nothing from elsewhere. */
export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
}

function digest (text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

/**
 * The read token, from `Authorization: Bearer <token>` (scripts) or from HTTP Basic auth with the
 * token as password (browsers ask for it themselves and send it with every request of the page).
 */
function presentedReadToken (request: FastifyRequest): string | null {
  const header = request.headers.authorization
  if (!header) return null
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header)
  if (bearer) return bearer[1]!
  const basic = /^Basic\s+(\S+)\s*$/i.exec(header)
  if (!basic) return null
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon === -1 ? null : decoded.slice(colon + 1)
}

/** Security headers and CSP, rate limits, and the optional read token. */
export async function registerSecurity (app: FastifyInstance, options: SecurityOptions): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
    // the API is read cross-origin by scripts only through their own HTTP clients
    crossOriginResourcePolicy: { policy: 'same-origin' },
  })

  const readsPerMinute = options.readsPerMinute ?? DEFAULT_READS_PER_MINUTE
  await app.register(rateLimit, {
    global: readsPerMinute > 0,
    max: readsPerMinute > 0 ? readsPerMinute : 1,
    timeWindow: 60_000,
    // monitoring polls the health check; it must never be the one refused
    allowList: (request) => request.url === '/healthz',
    errorResponseBuilder: (_request, context) => new KsftError('RATE_LIMITED', `too many requests; retry in ${context.after}`),
  })

  if (options.readToken) {
    const expected = digest(options.readToken)
    app.addHook('onRequest', async (request, reply) => {
      // the health check stays open for load balancers; uploads carry their own tokens
      if (request.url === '/healthz' || (request.method === 'POST' && request.url.startsWith('/api/v1/runs'))) return
      const presented = presentedReadToken(request)
      if (presented !== null && timingSafeEqual(digest(presented), expected)) return
      // upload and admin tokens may read too
      if (presented !== null && await app.store.tokens.verify(presented)) return
      reply.header('www-authenticate', 'Basic realm="ksft-dashboard", charset="UTF-8"')
      throw new KsftError('UNAUTHORIZED', 'this dashboard is private: send the read token (Authorization: Bearer <token>, or as the password when the browser asks)')
    })
  }
}

/** The rate limit of the upload route: per token, checked after the token is known. */
export function uploadRateLimit (uploadsPerMinute = DEFAULT_UPLOADS_PER_MINUTE) {
  if (uploadsPerMinute <= 0) return false
  return {
    max: uploadsPerMinute,
    timeWindow: 60_000,
    hook: 'preHandler' as const,
    keyGenerator: (request: FastifyRequest) => `upload:${request.token?.name ?? request.ip}`,
  }
}
