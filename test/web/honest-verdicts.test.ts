import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { CompareResponse, MatrixResponse, TrendResponse } from '../../web/src/api.ts'
import { realFixturesSkip } from '../helpers/fixtures.ts'
import { cutAfterTwo, realLog, warningOnly } from '../helpers/kvm-variants.ts'
import { chromiumSkip, getJson, launchBrowser, open, screenshot, settled, startDashboard, uploadLog } from './browser.ts'

/**
 * The series page with a run that stopped early and a cell with kernel trouble (issue 11). The logs
 * are synthetic edits (test/helpers/kvm-variants.ts) of the real fixtures/real/real-kvm-pvm-subset-8-tests.txt: v1 is
 * cut after two of its eight tests (a hung host), v2 has a kernel WARNING in a passing test.
 */
const SERIES = 'KVM: guest_memfd: honest page'

function logs (): Record<string, string> {
  return { base: realLog().join('\n'), v1: cutAfterTwo(), v2: warningOnly() }
}

test('the series page marks the run that stopped early and the cell with kernel trouble, with the API\'s numbers', { skip: chromiumSkip || realFixturesSkip }, async (t) => {
  const dashboard = await startDashboard(t, { demo: false })
  const { token } = await dashboard.app.store.tokens.create('uploader', ['upload'])
  for (const [version, text] of Object.entries(logs())) {
    await uploadLog(dashboard, token, { series: SERIES, version, machine: 'tdx-lab-1' }, text)
  }
  const trend = await getJson<TrendResponse>(dashboard, '/api/v1/series/1/trend')
  const matrix = await getJson<MatrixResponse>(dashboard, '/api/v1/series/1/matrix')
  const compare = await getJson<CompareResponse>(dashboard, '/api/v1/series/1/compare?base=v1&head=v2&limit=10')

  const browser = await launchBrowser(t)
  const page = await browser.page()
  await open(page, `${dashboard.url}/series/1?base=base&head=v1`)
  await page.locator('table.matrix').waitFor()
  await settled(page)

  // the incomplete version is said in words, with the API's counts
  const v1 = trend.versions.find(version => version.label === 'v1')!
  assert.equal(v1.incompleteRuns, 1)
  const note = page.locator('.incomplete-note span[data-version="v1"]')
  assert.equal(await note.getAttribute('data-incomplete-runs'), String(v1.incompleteRuns))
  assert.equal(await note.getAttribute('data-not-run'), String(v1.notRun))
  assert.ok(await note.isVisible())
  assert.equal(await page.locator('.incomplete-note span[data-version="v2"]').count(), 0, 'a whole run has no mark')
  const row = page.locator('details.trend-table tr[data-version="v1"]')
  assert.equal(await row.locator('td[data-field="notRun"]').textContent(), String(v1.notRun))
  assert.equal(await row.locator('td[data-field="passRate"]').textContent(), `${(v1.passRate! * 100).toFixed(1)}%`)

  // the comparison base -> v1 shows the tests that never ran, not fixes
  const chip = page.locator('.bucket-chips [data-bucket="not_run"]')
  assert.ok(await chip.isVisible())
  assert.equal(await page.locator('.bucket-chips [data-bucket="fixed"]').count(), 0)

  // the kernel-trouble cell carries a visible mark and the API's count
  const column = matrix.versions.findIndex(version => version.label === 'v2')
  const apiRow = matrix.rows.findIndex(r => r.test === 'kvm_create_max_vcpus' && r.path.length === 0)
  assert.equal(matrix.rows[apiRow]!.cells[column]!.trouble, 1)
  const cell = page.locator('table.matrix tbody tr.test').filter({ hasText: 'kvm_create_max_vcpus' }).locator('td.cell').nth(column)
  assert.match((await cell.getAttribute('class'))!, /\btroubled\b/)
  assert.equal(await cell.getAttribute('data-trouble'), '1')
  assert.ok(await cell.locator('.trouble-mark').isVisible())
  assert.match((await cell.getAttribute('title'))!, /kernel trouble or a false pass in 1 result/)
  const plain = page.locator('table.matrix tbody tr.test').filter({ hasText: 'kvm_create_max_vcpus' }).locator('td.cell').nth(0)
  assert.doesNotMatch((await plain.getAttribute('class'))!, /\btroubled\b/, 'base had none')

  // and the comparison v1 -> v2 names the new trouble as the API does
  assert.deepEqual(compare.entries.filter(entry => entry.bucket === 'new_kernel_trouble').map(entry => entry.test), ['kvm_create_max_vcpus'])
  await open(page, `${dashboard.url}/series/1/compare?base=v1&head=v2`)
  await page.locator('table.compare').waitFor()
  const troubled = page.locator('table.compare tr[data-bucket="new_kernel_trouble"]')
  assert.equal(await troubled.count(), 1)
  assert.match((await troubled.textContent())!, /new: kernel_warning/)
  await screenshot(page, 'honest-verdicts-compare')
  assert.deepEqual(browser.problems, [])
})
