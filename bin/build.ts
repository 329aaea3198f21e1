/**
 * Compiles what `ksft` runs into dist/: every TypeScript file of bin/, server/ and ingest/ as one
 * JavaScript file each (the tree's layout kept, so paths read relative to a module, such as
 * server/storage/migrations/ or bin/ksft-upload.sh, resolve the same in dist/), the files they read
 * at run time, and the dashboard's bundle. `npm run build`; `npm ci` (prepare), `npm start`,
 * `npm test` and `npm run bench` run it first. Tests run the TypeScript sources through tsx; the
 * ksft processes they start run these files under `npm test` (test/helpers/cli.ts FROM_SOURCE).
 *
 * esbuild transpiles only (no type check: `npm test` runs tsc). npm packages stay imports, so the
 * installed package resolves them from its node_modules, better-sqlite3's native module included.
 */
import { cpSync, existsSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type Plugin } from 'esbuild'
import { buildWeb } from './build-web.ts'

export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const DIST = join(PACKAGE_ROOT, 'dist')

/** The source trees compiled; bin/build*.ts are build tools and stay out. */
const SOURCE_DIRS = ['bin', 'server', 'ingest']
/** Files read at run time beside the modules that read them. */
const RUNTIME_FILES = ['server/storage/migrations', 'bin/ksft-upload.sh']

/**
 * One output file per source file: each import stays an import, and a relative `./x.ts` becomes
 * `./x.js`. esbuild has no such option without bundling, so this bundles with every import external.
 */
const oneFileEach: Plugin = {
  name: 'one-file-each',
  setup (builder) {
    builder.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined
      const relativePath = args.path.startsWith('./') || args.path.startsWith('../')
      return { path: relativePath ? args.path.replace(/\.ts$/, '.js') : args.path, external: true }
    })
  },
}

function sourceFiles (): string[] {
  const files: string[] = []
  for (const dir of SOURCE_DIRS) {
    for (const entry of readdirSync(join(PACKAGE_ROOT, dir), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue
      const file = join(entry.parentPath ?? entry.path, entry.name)
      if (dir === 'bin' && /^build/.test(entry.name)) continue
      files.push(file)
    }
  }
  return files.sort()
}

export interface BuildResult {
  modules: number
  webJsBytes: number
}

/**
 * Builds into a fresh directory beside dist/ and swaps it in, so that a `ksft` started meanwhile
 * finds the old tree or the new one, never half of one.
 */
export async function buildDist (outDir = DIST): Promise<BuildResult> {
  const staging = `${outDir}.tmp-${process.pid}`
  rmSync(staging, { recursive: true, force: true })
  try {
    const entryPoints = sourceFiles()
    await build({
      entryPoints,
      outbase: PACKAGE_ROOT,
      outdir: staging,
      bundle: true,
      plugins: [oneFileEach],
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'warning',
    })
    for (const path of RUNTIME_FILES) cpSync(join(PACKAGE_ROOT, path), join(staging, path), { recursive: true })
    // server/routes/web.ts serves ../../web/dist from its own directory: dist/web/dist here
    const web = await buildWeb(join(staging, 'web', 'dist'))
    const old = `${outDir}.old-${process.pid}`
    if (existsSync(outDir)) renameSync(outDir, old)
    renameSync(staging, outDir)
    rmSync(old, { recursive: true, force: true })
    return { modules: entryPoints.length, webJsBytes: web.jsBytes }
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const started = performance.now()
  const result = await buildDist()
  const ms = Math.round(performance.now() - started)
  process.stdout.write(`${relative(process.cwd(), DIST) || '.'}: ${result.modules} modules and the dashboard (app.js ${(result.webJsBytes / 1024).toFixed(1)} KiB) in ${ms} ms\n`)
}
