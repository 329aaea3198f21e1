import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core'
import { buildApp } from '../../server/app.ts'
import { loadDemo } from '../../server/demo/demo-series.ts'
import { PROJECT_ROOT } from '../helpers/fixtures.ts'
import { ensureWebBuilt } from '../helpers/web-build.ts'

export const CHROMIUM = '/usr/bin/chromium'
export const SCREENSHOTS = join(PROJECT_ROOT, 'test-output', 'screenshots')

/** A skip message when Debian's chromium is not installed (`.ci/run` installs it), else false. */
export const chromiumSkip: string | false = existsSync(CHROMIUM) ? false : `${CHROMIUM} is absent: browser tests skipped`

export interface Dashboard {
  app: FastifyInstance
  url: string
  seriesId: number
}

/** A server on 127.0.0.1 with a fresh SQLite file, seeded with the demo series through the real ingest path. */
export async function startDashboard (t: TestContext, options: { demo?: boolean } = {}): Promise<Dashboard> {
  await ensureWebBuilt()
  const dir = mkdtempSync(join(tmpdir(), 'ksft-web-'))
  // the pages make many small requests; the per-IP read limit is for the internet, not for this test
  const app = await buildApp({ dbPath: join(dir, 'ksft.db'), logger: false, security: { readsPerMinute: 0 } })
  t.after(async () => { await app.close(); rmSync(dir, { recursive: true, force: true }) })
  const seriesId = options.demo === false ? 0 : (await loadDemo(app.store, { spoolDir: dir })).seriesId
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { app, url: `http://127.0.0.1:${address.port}`, seriesId }
}

/** Uploads a log through the API, as the hook does: 201 or the test fails. */
export async function uploadLog (dashboard: Dashboard, token: string, meta: { series: string, version: string, machine: string }, text: string): Promise<void> {
  const res = await dashboard.app.inject({
    method: 'POST',
    url: `/api/v1/runs?${new URLSearchParams(meta).toString()}`,
    payload: text,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
  })
  if (res.statusCode !== 201) throw new Error(`upload of ${meta.version} answered ${res.statusCode}: ${res.body}`)
}

export interface Browser {
  context: BrowserContext
  /** everything the pages complained about: console errors, uncaught exceptions, CSP violations, dialogs */
  problems: string[]
  dialogs: string[]
  page: () => Promise<Page>
}

/** Headless Chromium with a fresh profile, closed when the test ends. */
export async function launchBrowser (t: TestContext, options: { colorScheme?: 'light' | 'dark' } = {}): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'ksft-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1366, height: 860 },
    colorScheme: options.colorScheme ?? 'light',
  })
  t.after(async () => { await context.close(); rmSync(profile, { recursive: true, force: true }) })
  const problems: string[] = []
  const dialogs: string[] = []
  return {
    context,
    problems,
    dialogs,
    page: async () => {
      const page = await context.newPage()
      page.on('console', message => { if (message.type() === 'error') problems.push(`console: ${message.text()}`) })
      page.on('pageerror', error => problems.push(`exception: ${error.message}`))
      page.on('dialog', dialog => { dialogs.push(`${dialog.type()}: ${dialog.message()}`); void dialog.dismiss() })
      // a CSP violation is reported to the page, not always to the console
      await page.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (event) => {
          console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`)
        })
      })
      return page
    },
  }
}

/** Opens a page and waits until every section has loaded. */
export async function open (page: Page, url: string): Promise<void> {
  await page.goto(url)
  await page.waitForLoadState('networkidle')
  await settled(page)
}

/**
 * Waits until no section of the page is still loading. After an in-app navigation (pushState) the
 * browser's load states are long reached: wait first for something of the new view, then for this.
 */
export async function settled (page: Page): Promise<void> {
  await page.waitForFunction(() => document.querySelectorAll('main .loading').length === 0, null, { timeout: 15_000 })
}

export async function screenshot (page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true })
  const path = join(SCREENSHOTS, `${name}.png`)
  await page.screenshot({ path, fullPage: options.fullPage ?? true })
  return path
}

export async function getJson<T> (dashboard: Dashboard, path: string): Promise<T> {
  const res = await fetch(`${dashboard.url}${path}`)
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return await res.json() as T
}

/** Whether the element is inside the window's viewport (isVisible only says it is rendered). */
export async function inViewport (locator: Locator): Promise<boolean> {
  return await locator.evaluate((el) => {
    const box = el.getBoundingClientRect()
    // inside a scrolling box (the log viewer) it must be within the box's visible part too
    const clip = el.parentElement?.closest('.log-box')?.getBoundingClientRect() ?? { top: 0, bottom: window.innerHeight }
    return box.height > 0 && box.top >= Math.max(0, clip.top) && box.bottom <= Math.min(window.innerHeight, clip.bottom)
  })
}
