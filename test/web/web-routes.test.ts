import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import Fastify from 'fastify'
import { JS_BUDGET_GZIP, WEB_SOURCE, buildWeb } from '../../bin/build-web.ts'
import { buildApp } from '../../server/app.ts'
import { PAGE_URLS, webRoutes } from '../../server/routes/web.ts'
import { tempDir } from '../helpers/store.ts'
import { ensureWebBuilt } from '../helpers/web-build.ts'

test('the bundle stays within the budget of 300 KB gzipped and carries uPlot', async (t) => {
  const out = join(tempDir(t), 'dist')
  const build = await buildWeb(out)
  assert.ok(build.jsGzipBytes < JS_BUDGET_GZIP, `${build.jsGzipBytes} bytes gzipped`)
  const js = readFileSync(join(out, 'assets', 'app.js'), 'utf8')
  assert.match(js, /uplot/, 'uPlot is bundled, not fetched from a CDN')
  assert.doesNotMatch(readFileSync(join(out, 'index.html'), 'utf8'), /https?:\/\//, 'the shell loads nothing from elsewhere')
})

test('the client never parses data as HTML', () => {
  const files: string[] = []
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else if (name.endsWith('.ts')) files.push(path)
    }
  }
  walk(join(WEB_SOURCE, 'src'))
  assert.ok(files.length > 5)
  for (const file of files) {
    const source = readFileSync(file, 'utf8')
    assert.doesNotMatch(source, /\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(/, file)
  }
})

test('every page URL serves the app shell with the CSP; assets are served; nothing is inline', async (t) => {
  await ensureWebBuilt()
  const app = await buildApp({ dbPath: join(tempDir(t), 'ksft.db'), logger: false })
  t.after(() => app.close())
  // one concrete URL per page route, so a page added to PAGE_URLS is checked here too
  const concrete = PAGE_URLS.map(pattern => pattern.replaceAll(':id', '7'))
  const withQueries = ['/series/KVM%3A%20x/compare?base=v1&head=v2', '/tests?collection=kvm&test=x']
  for (const url of [...concrete, ...withQueries]) {
    const res = await app.inject({ url })
    assert.equal(res.statusCode, 200, url)
    assert.match(res.headers['content-type'] as string, /^text\/html/)
    const csp = res.headers['content-security-policy'] as string
    assert.match(csp, /script-src 'self'(;|$)/)
    assert.match(csp, /style-src 'self'(;|$)/)
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/)
    assert.equal(res.headers['x-content-type-options'], 'nosniff')
    assert.match(res.body, /<script type="module" src="\/assets\/app.js"><\/script>/)
    assert.doesNotMatch(res.body, /<script>|<script [^>]*>[^<]|<style|\sstyle=|\son\w+=/i)
  }
  const js = await app.inject({ url: '/assets/app.js' })
  assert.equal(js.statusCode, 200)
  assert.match(js.headers['content-type'] as string, /javascript/)
  assert.equal((await app.inject({ url: '/assets/app.css' })).statusCode, 200)
  // the API keeps its JSON 404s; only page URLs get the shell
  const missing = await app.inject({ url: '/nope' })
  assert.equal(missing.statusCode, 404)
  assert.equal(missing.json().error.code, 'NOT_FOUND')
  assert.equal((await app.inject({ url: '/assets/../package.json' })).statusCode, 404)
})

test('without a build the pages say how to build, with a 503, and the API still works', async (t) => {
  const app = Fastify()
  await app.register(webRoutes, { root: tempDir(t) })
  t.after(() => app.close())
  const res = await app.inject({ url: '/series/1' })
  assert.equal(res.statusCode, 503)
  assert.match(res.body, /npm run build:web/)
  assert.match(res.headers['content-security-policy'] as string, /default-src 'self'/)
})
