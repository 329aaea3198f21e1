import { createServer, request, type IncomingHttpHeaders } from 'node:http'
import type { TestContext } from 'node:test'

export interface CannedAnswer {
  status: number
  headers?: Record<string, string>
  body?: string
}

export interface SeenRequest {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: Buffer
}

/**
 * A server on 127.0.0.1 that gives the canned answers first, one per request, then forwards every
 * later request to `target` (the real app), and records what it was sent. It stands in for a
 * dashboard behind a proxy that is restarting, or for a server that is not a dashboard at all;
 * with `answers`, for an older dashboard that lacks some routes (what it answers itself).
 */
export async function startFlakyServer (t: TestContext, target: string | null, canned: CannedAnswer[],
  answers: (method: string, url: string) => CannedAnswer | null = () => null): Promise<{ url: string, seen: SeenRequest[] }> {
  const queue = [...canned]
  const seen: SeenRequest[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      const answer = queue.shift() ?? answers(req.method ?? '', req.url ?? '') ?? (target === null ? { status: 404, body: 'nothing here' } : null)
      if (answer) {
        res.writeHead(answer.status, answer.headers ?? { 'content-type': 'application/json' })
        res.end(answer.body ?? JSON.stringify({ error: { code: 'STORE_UNAVAILABLE', message: `canned ${answer.status}` } }))
        return
      }
      const headers = { ...req.headers, 'content-length': String(body.length) }
      delete headers['transfer-encoding']
      const forward = request(`${target}${req.url}`, { method: req.method, headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      })
      forward.on('error', (err) => { res.writeHead(502); res.end(err.message) })
      forward.end(body)
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>(resolve => server.close(() => resolve())))
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}`, seen }
}
