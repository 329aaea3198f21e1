/**
 * The server as the benchmark runs it: the real app (buildApp) listening on 127.0.0.1 in a process
 * of its own, so that its memory is measured alone and load generators never share its event loop.
 * Rate limits are off (they would be the thing measured otherwise) and the log size limit is raised
 * for the 1 GB upload. One route is added: a hello-world on the same app and plugins, the yardstick
 * of the HTTP throughput measurement.
 *
 * Prints one JSON line `{ port, token }` once listening; closes on SIGTERM.
 */
import { buildApp } from '../server/app.ts'

const dbPath = process.argv[2]
if (!dbPath) throw new Error('usage: server-child.ts <db path>')

const app = await buildApp({
  dbPath,
  logger: false,
  maxLogBytes: 8 * 1024 ** 3,
  security: { readsPerMinute: 0, uploadsPerMinute: 0 },
  // the uploads in flight per token and the parse deadline would be measured too (a 1 GB log parses past 60 s)
  limits: { uploadsInFlightPerToken: 0, parseDeadlineMs: 3_600_000 },
})
app.get('/bench/hello', async () => ({ hello: 'world' }))
const { token } = await app.store.tokens.create(`bench-${process.pid}-${Date.now()}`, ['upload'])
await app.listen({ host: '127.0.0.1', port: 0 })
const address = app.server.address()
if (address === null || typeof address === 'string') throw new Error('no TCP address')
process.stdout.write(`${JSON.stringify({ port: address.port, token })}\n`)
process.once('SIGTERM', () => {
  app.close().then(() => process.exit(0), () => process.exit(1))
})
