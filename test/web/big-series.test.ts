import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { FlakyResponse, MatrixResponse } from '../../web/src/api.ts'
import { logBuffers, scaledLogSpec } from '../../server/demo/log-generator.ts'
import { parseRunMetadata } from '../../server/domain/run-metadata.ts'
import { ingestLog } from '../../server/services/ingest-log.ts'
import { chromiumSkip, getJson, launchBrowser, open, screenshot, startDashboard } from './browser.ts'

const VERSIONS = 20
const TESTS = 500
const RERUNS = 4

test(`a series of ${VERSIONS} versions × ${TESTS} tests opens in seconds and pages its matrix`, { skip: chromiumSkip }, async (t) => {
  const dashboard = await startDashboard(t, { demo: false })
  for (let v = 1; v <= VERSIONS; v++) {
    const spec = scaledLogSpec({ seed: v, targetBytes: 0, tests: TESTS, extraSubtests: 2 })
    await ingestLog(logBuffers(spec), parseRunMetadata({ series: 'big series', version: `v${v}`, machine: 'tdx-host-1', arch: 'x86_64' }), dashboard.app.store)
  }
  // flaky means reruns that disagree: the first RERUNS versions run a second time, with other random failures
  for (let v = 1; v <= RERUNS; v++) {
    const spec = scaledLogSpec({ seed: 1000 + v, targetBytes: 0, tests: TESTS, extraSubtests: 2 })
    await ingestLog(logBuffers(spec), parseRunMetadata({ series: 'big series', version: `v${v}`, machine: 'tdx-host-1', arch: 'x86_64' }), dashboard.app.store)
  }
  const browser = await launchBrowser(t)
  const page = await browser.page()
  // how long each API answer took as the page saw it, queueing behind the others included
  const answered: string[] = []
  page.on('requestfinished', request => {
    const url = new URL(request.url())
    if (url.pathname.startsWith('/api/')) answered.push(`${url.pathname}${url.search} ${Math.round(request.timing().responseEnd)} ms`)
  })
  const started = Date.now()
  await open(page, `${dashboard.url}/series/1`)
  await page.locator('table.matrix').waitFor()
  const elapsed = Date.now() - started
  t.diagnostic(`series page with ${VERSIONS} versions × ${TESTS} tests ready in ${elapsed} ms; ${answered.join(', ')}`)
  // generous: the machine is shared; a page that rebuilt everything per cell would take far longer
  assert.ok(elapsed < 15_000, `${elapsed} ms`)
  assert.equal(await page.locator('table.matrix thead th.version-col').count(), VERSIONS)
  const flaky = await getJson<FlakyResponse>(dashboard, '/api/v1/series/1/flaky')
  assert.equal(flaky.entries.length, 100, `random failures in two runs of ${RERUNS} versions make more than a page of flaky tests`)
  assert.notEqual(flaky.nextCursor, null)
  assert.ok(flaky.entries.every(e => e.mixedVersions > 0))
  assert.deepEqual(await page.locator('table.flaky tbody tr th').allTextContents(), flaky.entries.map(e => [`${e.collection}: ${e.test}`, ...e.path].join(' › ')))

  const first = await getJson<MatrixResponse>(dashboard, '/api/v1/series/1/matrix?limit=100')
  assert.equal(await page.locator('table.matrix tbody tr.test').count(), first.rows.filter(r => r.path.length === 0).length)
  assert.equal(await page.locator('table.matrix tbody tr.sub').count(), 0, 'subtest rows are built when unfolded, not before')
  await page.locator('#matrix button', { hasText: 'Load more tests' }).click()
  await page.waitForFunction((n) => document.querySelectorAll('table.matrix tbody tr.test').length > n, first.rows.filter(r => r.path.length === 0).length)
  await screenshot(page, 'big-series', { fullPage: false })
  assert.deepEqual(browser.problems, [])
})
