import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { RunResponse, RunResults } from '../../web/src/api.ts'
import { chromiumSkip, getJson, inViewport, launchBrowser, open, screenshot, startDashboard, type Dashboard } from './browser.ts'

/** The demo's run cut short by a kernel panic: v4 on the SEV-SNP host. */
async function truncatedRun (dashboard: Dashboard): Promise<RunResponse> {
  for (let id = 1; ; id++) {
    const run = await getJson<RunResponse>(dashboard, `/api/v1/runs/${id}`)
    if (run.version.label === 'v4' && run.machine.name === 'snp-host-1') return run
  }
}

test('the run page shows the metadata, the results tree with the API\'s counts, kernel trouble and the highlighted log lines', { skip: chromiumSkip }, async (t) => {
  const dashboard = await startDashboard(t)
  const browser = await launchBrowser(t)
  const page = await browser.page()
  const run = await truncatedRun(dashboard)
  const results = await getJson<RunResults>(dashboard, `/api/v1/runs/${run.id}/results`)

  await open(page, `${dashboard.url}/runs/${run.id}#L120-L130`)
  await screenshot(page, 'run', { fullPage: false })

  const meta = await page.locator('dl.meta').innerText()
  for (const expected of [run.machine.name, run.cpu!, run.kernel!, run.commit!, run.jobUrl!, ...run.flags]) assert.ok(meta.includes(expected), `metadata shows ${expected}`)
  assert.equal(await page.locator('dl.meta a', { hasText: 'cover letter on lore' }).getAttribute('href'), run.version.loreUrl)

  // the summary chips at the top are the run's summary
  const chips = await page.locator('.page-header + p .chip').evaluateAll(els => els.map(e => [e.getAttribute('data-status'), Number(e.getAttribute('data-count'))]))
  assert.deepEqual(Object.fromEntries(chips), Object.fromEntries(Object.entries(run.summary).filter(([k, v]) => k !== 'total' && v > 0)))

  // the tree lists every test, in the log's order, with its status
  const tree = await page.locator('.tree li[data-test]').evaluateAll(els => els.map(e => [e.getAttribute('data-test'), e.querySelector('.status')!.textContent]))
  assert.deepEqual(tree, results.tests.map(test => [test.name, `${{ pass: '✓', fail: '✗', skip: '–', xfail: '⊘', xpass: '!', timeout: '◔', error: '‼' }[test.status]} ${test.status}`]))

  const panicked = results.tests.find(test => test.status === 'error')!
  assert.ok(panicked.flags.includes('kernel_panic'))
  const trouble = await page.locator('.trouble').innerText()
  assert.ok(trouble.includes(`kvm: ${panicked.name}`) && trouble.includes('kernel_panic'), trouble)

  // #L120-L130: eleven lines highlighted, the first in view
  assert.deepEqual(await page.locator('.line.hl').evaluateAll(els => els.map(e => e.id)), Array.from({ length: 11 }, (_, i) => `L${120 + i}`))
  assert.ok(await inViewport(page.locator('#L120')))
  const log = await getJson<{ lines: string[] }>(dashboard, `/api/v1/runs/${run.id}/log?from=120&to=120`)
  assert.equal(await page.locator('#L120 .lt').textContent(), log.lines[0])

  // a test's "lines" link highlights its span; the span is marked in the log
  await page.locator('.tree li', { hasText: panicked.name }).locator('a.lines').first().click()
  await page.waitForFunction((from) => document.querySelector('.line.hl')?.id === `L${from}`, panicked.lines[0])
  assert.equal(await page.locator('.line.hl').count(), panicked.lines[1] - panicked.lines[0] + 1)
  assert.equal(new URL(page.url()).hash, `#L${panicked.lines[0]}-L${panicked.lines[1]}`)
  const label = page.locator(`.span-label[data-from="${panicked.lines[0]}"]`)
  assert.match(await label.innerText(), new RegExp(`kvm: ${panicked.name}.*error`))

  // shift-click on a line number extends the anchored line to a range
  await page.locator(`#L${panicked.lines[0]} a.ln`).click()
  await page.waitForFunction(() => document.querySelectorAll('.line.hl').length === 1)
  await page.locator(`#L${panicked.lines[0] + 3} a.ln`).click({ modifiers: ['Shift'] })
  await page.waitForFunction(() => document.querySelectorAll('.line.hl').length === 4)
  assert.equal(new URL(page.url()).hash, `#L${panicked.lines[0]}-L${panicked.lines[0] + 3}`)
  await screenshot(page, 'run-panic-span', { fullPage: false })

  assert.deepEqual(browser.problems, [])
})

test('the log viewer pages through a long log and jumps to an anchor far from the start', { skip: chromiumSkip }, async (t) => {
  const dashboard = await startDashboard(t, { demo: false })
  const { ingestText } = await import('../helpers/store.ts')
  const { generateLog, scaledLogSpec } = await import('../../server/demo/log-generator.ts')
  const text = generateLog(scaledLogSpec({ seed: 5, targetBytes: 600_000 }))
  const { runId } = await ingestText(dashboard.app.store, text, { series: 'long log', version: 'v1' })
  const total = text.split('\n').length - 1
  const browser = await launchBrowser(t)
  const page = await browser.page()

  await open(page, `${dashboard.url}/runs/${runId}`)
  assert.equal(await page.locator('.line').count(), 2000)
  await page.locator('.log-more button', { hasText: 'later lines' }).click()
  await page.waitForFunction(() => document.querySelectorAll('.line').length === 3000)

  const far = total - 5
  await page.evaluate((n) => { location.hash = `#L${n}` }, far)
  await page.waitForFunction((n) => document.querySelector('.line.hl')?.id === `L${n}`, far)
  assert.ok(await inViewport(page.locator(`#L${far}`)))
  const log = await getJson<{ lines: string[] }>(dashboard, `/api/v1/runs/${runId}/log?from=${far}&to=${far}`)
  assert.equal(await page.locator(`#L${far} .lt`).textContent(), log.lines[0])
  // lines added above keep the ones being read in place (a real click would first scroll to the button)
  const topOf = () => page.locator(`#L${far}`).evaluate(el => el.getBoundingClientRect().top)
  const before = await topOf()
  const firstShown = await page.locator('.line').first().getAttribute('data-n')
  await page.locator('.log-more button', { hasText: 'earlier lines' }).evaluate(button => { (button as HTMLButtonElement).click() })
  await page.waitForFunction((n) => document.querySelector('.line')?.getAttribute('data-n') !== n, firstShown)
  assert.equal(await page.locator('.line').first().getAttribute('data-n'), String(Number(firstShown) - 1000))
  assert.ok(Math.abs(await topOf() - before) < 2, 'the anchored line stays where it was')
  assert.ok(await inViewport(page.locator(`#L${far}`)))
  assert.deepEqual(browser.problems, [])
})
