/**
 * Builds the dashboard into web/dist: the app shell, one JavaScript bundle (uPlot included, no
 * CDN) and one stylesheet. `npm run build:web`; `npm test` runs it first, since the sources' page
 * routes serve web/dist. `npm run build` (and so `npm start`) builds the same into dist/web/dist.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

export const WEB_SOURCE = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'web')
export const WEB_DIST = join(WEB_SOURCE, 'dist')

/** What the issue allows the reader's browser to download, gzipped. */
export const JS_BUDGET_GZIP = 300 * 1024

export interface WebBuild {
  jsBytes: number
  jsGzipBytes: number
  cssBytes: number
}

export async function buildWeb (outDir = WEB_DIST): Promise<WebBuild> {
  rmSync(outDir, { recursive: true, force: true })
  const assets = join(outDir, 'assets')
  mkdirSync(assets, { recursive: true })
  await build({
    entryPoints: { app: join(WEB_SOURCE, 'src', 'main.ts'), 'app-style': join(WEB_SOURCE, 'styles', 'app.css') },
    outdir: assets,
    entryNames: '[name]',
    bundle: true,
    minify: true,
    sourcemap: 'linked',
    format: 'esm',
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    legalComments: 'linked',
    logLevel: 'warning',
  })
  // esbuild names a CSS entry after its file; the shell links /assets/app.css
  const css = readFileSync(join(assets, 'app-style.css'), 'utf8').replace(/\/\*# sourceMappingURL=.*?\*\/\s*$/, '')
  writeFileSync(join(assets, 'app.css'), css)
  rmSync(join(assets, 'app-style.css'))
  rmSync(join(assets, 'app-style.css.map'), { force: true })
  copyFileSync(join(WEB_SOURCE, 'index.html'), join(outDir, 'index.html'))
  copyFileSync(join(WEB_SOURCE, 'favicon.svg'), join(assets, 'favicon.svg'))
  const js = readFileSync(join(assets, 'app.js'))
  return { jsBytes: js.length, jsGzipBytes: gzipSync(js, { level: 9 }).length, cssBytes: readFileSync(join(assets, 'app.css')).length }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await buildWeb()
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`
  process.stdout.write(`web/dist: app.js ${kib(result.jsBytes)} (${kib(result.jsGzipBytes)} gzipped), app.css ${kib(result.cssBytes)}\n`)
  if (result.jsGzipBytes > JS_BUDGET_GZIP) {
    process.stderr.write(`build-web: app.js is ${kib(result.jsGzipBytes)} gzipped, over the budget of ${kib(JS_BUDGET_GZIP)}\n`)
    process.exitCode = 1
  }
}
