/**
 * Rewrites docs/dashboard.png, the screenshot in the docs: the demo series' page in a laptop-sized
 * window. Run by hand after a visible change: `node --import tsx test/web/docs-screenshot.ts`.
 */
import { join } from 'node:path'
import { test } from 'node:test'
import { PROJECT_ROOT } from '../helpers/fixtures.ts'
import { chromiumSkip, launchBrowser, open, startDashboard } from './browser.ts'

test('docs/dashboard.png', { skip: chromiumSkip }, async (t) => {
  const dashboard = await startDashboard(t)
  const browser = await launchBrowser(t)
  const page = await browser.page()
  await page.setViewportSize({ width: 1280, height: 800 })
  await open(page, `${dashboard.url}/series/${dashboard.seriesId}`)
  await page.screenshot({ path: join(PROJECT_ROOT, 'docs', 'dashboard.png') })
  if (browser.problems.length) throw new Error(browser.problems.join('\n'))
})
