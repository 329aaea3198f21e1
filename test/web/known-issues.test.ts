import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { CompareResponse, MatrixResponse } from '../../web/src/api.ts'
import { realFixturesSkip } from '../helpers/fixtures.ts'
import { createMaxVcpusFails, realLog } from '../helpers/kvm-variants.ts'
import { chromiumSkip, getJson, launchBrowser, open, screenshot, settled, startDashboard, uploadLog } from './browser.ts'

/**
 * Issue 16 in the browser: a failure marked as known from the heatmap, and what the heatmap and the
 * comparison show afterwards. base is the real fixtures/real/real-kvm-pvm-subset-8-tests.txt; v1 is
 * a synthetic variant of it (kvm_create_max_vcpus fails, test/helpers/kvm-variants.ts).
 */
const SERIES = 'KVM: guest_memfd: triage page'

test('marking a failing heatmap cell as known records the issue, flags the cell and moves the comparison entry to known', { skip: chromiumSkip || realFixturesSkip }, async (t) => {
  const dashboard = await startDashboard(t, { demo: false })
  const { token } = await dashboard.app.store.tokens.create('uploader', ['upload'])
  const admin = (await dashboard.app.store.tokens.create('triager', ['admin'])).token
  for (const [version, text] of [['base', realLog().join('\n')], ['v1', createMaxVcpusFails()]] as const) {
    await uploadLog(dashboard, token, { series: SERIES, version, machine: 'tdx-lab-1' }, text)
  }
  const before = await getJson<CompareResponse>(dashboard, '/api/v1/series/1/compare?base=base&head=v1')
  assert.equal(before.counts.regression, 1)

  const browser = await launchBrowser(t)
  const page = await browser.page()
  await open(page, `${dashboard.url}/series/1?base=base&head=v1`)
  await page.locator('table.matrix').waitFor()
  await settled(page)
  const matrix = await getJson<MatrixResponse>(dashboard, '/api/v1/series/1/matrix')
  const column = matrix.versions.findIndex(version => version.label === 'v1')
  const cellOf = () => page.locator('table.matrix tbody tr.test').filter({ hasText: 'kvm_create_max_vcpus' }).locator('td.cell').nth(column)
  assert.equal(await cellOf().getAttribute('data-known'), '0')
  assert.doesNotMatch((await cellOf().getAttribute('class'))!, /\bknown\b/)

  // the cell's button opens a form prefilled from it; a wrong token gets the API's refusal, nothing stored
  await cellOf().locator('button[data-action="mark-known"]').click()
  const form = page.locator('.matrix-triage form.known-issue-form')
  await form.waitFor()
  assert.equal(await form.locator('input[name="testGlob"]').inputValue(), 'kvm/kvm_create_max_vcpus')
  assert.equal(await form.locator('input[name="machines"]').inputValue(), 'tdx-lab-1')
  await form.locator('input[name="token"]').fill('not-a-token')
  await form.locator('button[type="submit"]').click()
  await page.locator('.matrix-triage .form-status', { hasText: 'UNAUTHORIZED' }).waitFor()
  assert.equal((await getJson<{ issues: unknown[] }>(dashboard, '/api/v1/issues')).issues.length, 0)

  await form.locator('input[name="title"]').fill('kvm_create_max_vcpus: id 4095 refused on this host')
  await form.locator('input[name="url"]').fill('https://bugzilla.kernel.org/show_bug.cgi?id=218001')
  await form.locator('input[name="token"]').fill(admin)
  await Promise.all([page.waitForEvent('load'), form.locator('button[type="submit"]').click()])
  await page.locator('table.matrix').waitFor()
  await settled(page)

  // the cell now carries the known mark and the API's count
  const after = await getJson<MatrixResponse>(dashboard, '/api/v1/series/1/matrix')
  const apiRow = after.rows.find(row => row.test === 'kvm_create_max_vcpus' && row.path.length === 0)!
  assert.equal(apiRow.cells[column]!.known, 1)
  assert.equal(await cellOf().getAttribute('data-known'), '1')
  assert.match((await cellOf().getAttribute('class'))!, /\bknown\b/)
  assert.ok(await cellOf().locator('.known-mark').isVisible())
  assert.match((await cellOf().getAttribute('title'))!, /a known issue explains 1 result/)
  assert.equal(await cellOf().locator('button[data-action="mark-known"]').count(), 0)
  await screenshot(page, 'known-issue-heatmap')

  // the comparison lists it under known, with a link to the issue, and no regression is left
  await open(page, `${dashboard.url}/series/1/compare?base=base&head=v1`)
  await page.locator('table.compare').waitFor()
  assert.equal(await page.locator('.bucket-chips [data-bucket="regression"]').count(), 0)
  assert.equal(await page.locator('.bucket-chips [data-bucket="known"]').getAttribute('data-count'), '1')
  const row = page.locator('table.compare tr[data-bucket="known"]')
  assert.match((await row.textContent())!, /#1 kvm_create_max_vcpus: id 4095 refused on this host \(would be regression\)/)
  assert.equal(await row.locator('a.known-issue-link').getAttribute('href'), '/issues/1')

  // the issue's page lists where it matched and who recorded it
  await open(page, `${dashboard.url}/issues/1`)
  await page.locator('table.issue-matches').waitFor()
  assert.match((await page.locator('table.issue-matches tbody').textContent())!, /v1tdx-lab-111/)
  assert.match((await page.locator('ul.audit').textContent())!, /triager create/)
  await screenshot(page, 'known-issue-page')
  assert.deepEqual(browser.problems.filter(problem => !/401/.test(problem)), [])
})
