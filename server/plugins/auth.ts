import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import { KsftError } from '../errors.ts'
import type { TokenInfo, TokenScope } from '../storage/rows.ts'
import type { StoreTokens } from '../storage/store.ts'

declare module 'fastify' {
  interface FastifyRequest {
    token: TokenInfo | null
  }
}

function bearer (request: FastifyRequest): string | null {
  const header = request.headers.authorization
  if (!header) return null
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return m ? m[1]! : null
}

/** A preHandler that lets through only a live token holding `scope`. */
export function requireScope (tokens: StoreTokens, scope: TokenScope): preHandlerAsyncHookHandler {
  return async function checkToken (request: FastifyRequest, _reply: FastifyReply) {
    const presented = bearer(request)
    if (presented === null) throw new KsftError('UNAUTHORIZED', 'an Authorization: Bearer <token> header is required (ksft token create makes one)')
    const token = await tokens.verify(presented)
    if (!token) throw new KsftError('UNAUTHORIZED', 'the token is unknown or revoked')
    if (!token.scopes.includes(scope) && !token.scopes.includes('admin')) {
      throw new KsftError('FORBIDDEN', `the token "${token.name}" lacks the ${scope} scope`)
    }
    request.token = token
  }
}
