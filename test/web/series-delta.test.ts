import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { CompareResponse } from '../../web/src/api.ts'
import { uploadUrl } from '../helpers/app.ts'
import { SEV_SMOKE_CHANGE_ID, SEV_SMOKE_PASSING_LOG, SEV_SMOKE_SELFTEST, sevSmokeFailingLog } from '../helpers/sev-smoke.ts'
import { chromiumSkip, getJson, launchBrowser, open, screenshot, settled, startDashboard, type Dashboard } from './browser.ts'

/**
 * Issue 17 in the browser: on the comparison page, what changed in the series' patches above the
 * failures, and beside a regression the patches most likely behind it; on the series page, an
 * admin's rename and merge; on the series list, a search by any title. Logs and patch lists are
 * synthetic, written for this test.
 */
const TITLE_V6 = 'KVM: SEV: smoke tests'
const TITLE_V7 = 'KVM: SEV: smoke tests for SNP'
const CHANGE_ID = SEV_SMOKE_CHANGE_ID
const SELFTEST = SEV_SMOKE_SELFTEST
const PASS = SEV_SMOKE_PASSING_LOG
const FAIL = sevSmokeFailingLog()
// v8 has v7's patches, and the other test fails: not the series' doing
const FAIL_BOTH = FAIL.replace('ok 2 selftests: kvm: hardware_disable_test', '# hardware disable failed\nnot ok 2 selftests: kvm: hardware_disable_test # exit=1')

const patch = (subject: string, seed: string, files: string[], messageId: string | null = null) => ({ subject, author: 'A <a@example.org>', patchId: seed.repeat(40).slice(0, 40), files, messageId })
const SEV = patch('KVM: SEV: add the smoke path', 'a1', ['arch/x86/kvm/svm/sev.c'])
const V6 = [SEV, patch('KVM: selftests: check SEV', 'b1', [SELFTEST]), patch('KVM: selftests: add a helper', 'c1', ['tools/testing/selftests/kvm/lib/kvm_util.c'])]
const V7 = [SEV, patch('KVM: selftests: check SEV', 'b2', [SELFTEST], '20240315.2-v7-a@example.org'), patch('KVM: x86: warn on a bad MSR', 'd1', ['arch/x86/kvm/x86.c'])]

async function seed (dashboard: Dashboard) {
  const { token } = dashboard.app.tokens.create('lab', ['upload'])
  const upload = async (series: string, version: string, log: string, patches: unknown[] | null, extra: Record<string, string> = {}) => {
    const res = await dashboard.app.inject({ method: 'POST', url: uploadUrl({ series, version, machine: 'snp-1', ...extra }), payload: log, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' } })
    assert.equal(res.statusCode, 201, res.body)
    if (patches === null) return
    const put = await dashboard.app.inject({ method: 'PUT', url: `/api/v1/runs/${res.json().id}/patches`, payload: { patches }, headers: { authorization: `Bearer ${token}` } })
    assert.equal(put.statusCode, 200, put.body)
  }
  await upload(TITLE_V6, 'v6', PASS, V6, { change_id: CHANGE_ID })
  await upload(TITLE_V7, 'v7', FAIL, V7, { change_id: CHANGE_ID })
  await upload(TITLE_V7, 'v8', FAIL_BOTH, V7)
  // another series: an old upload of v5 under a title nobody linked to this one
  await upload('KVM: SEV: smoke (RFC)', 'v5', PASS, null)
}

test('the comparison page shows the series\' patch delta above the failures and suspects beside a regression; an admin renames and merges series', { skip: chromiumSkip }, async (t) => {
  const dashboard = await startDashboard(t, { demo: false })
  await seed(dashboard)
  const api = await getJson<CompareResponse>(dashboard, '/api/v1/series/1/compare?base=v6&head=v7')
  assert.equal(api.delta!.summary, 'v6→v7: 1 patch modified, 1 added, 1 dropped')

  const browser = await launchBrowser(t)
  const page = await browser.page()
  await open(page, `${dashboard.url}/series/1/compare?base=v6&head=v7`)
  const delta = page.locator('section.patch-delta')
  await delta.waitFor()
  assert.equal(await delta.locator('.delta-summary').textContent(), api.delta!.summary)
  assert.deepEqual(await delta.locator('table.patches > tbody > tr').evaluateAll(rows => rows.map(row => `${row.getAttribute('data-change')} ${row.querySelector('th')!.firstChild!.textContent}`)), [
    'modified KVM: selftests: check SEV',
    'dropped KVM: selftests: add a helper',
    'added KVM: x86: warn on a bad MSR',
    // folded away: the unchanged one
    'unchanged KVM: SEV: add the smoke path',
  ])
  assert.equal(await delta.locator('details.unchanged-patches').getAttribute('open'), null)
  assert.equal(await delta.locator('tr[data-change="modified"] a').getAttribute('href'), 'https://lore.kernel.org/r/20240315.2-v7-a%40example.org')
  // the delta comes before the table of failures
  assert.ok(await page.evaluate(() => {
    const block = document.querySelector('section.patch-delta')!
    const table = document.querySelector('table.compare')!
    return (block.compareDocumentPosition(table) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0
  }))

  const regression = page.locator('table.compare tr[data-bucket="regression"]')
  assert.equal(await regression.count(), 1)
  const suspects = regression.locator('.suspects li')
  assert.deepEqual(await suspects.evaluateAll(items => items.map(li => `${li.getAttribute('data-strength')} [${li.getAttribute('data-position')}]`)),
    ['test_source [2]', 'test_collection [3]', 'changed [3]'])
  assert.match((await suspects.first().textContent())!, /^\[2\] KVM: selftests: check SEV ± modified.*touches the failing test's own source: tools\/testing\/selftests\/kvm\/x86\/sev_smoke_test\.c/)
  assert.match((await regression.locator('.suspects').textContent())!, /^Hint, look first at:/)
  await screenshot(page, 'series-delta-compare')

  // v7 -> v8: the same patches, a new failure that is not the series' doing
  await open(page, `${dashboard.url}/series/1/compare?base=v7&head=v8`)
  await page.locator('table.compare').waitFor()
  assert.equal(await page.locator('section.patch-delta .delta-summary').textContent(), 'v7→v8: no change (3 patches unchanged)')
  const unexplained = page.locator('table.compare tr[data-bucket="regression"] .suspects.delta-empty')
  assert.match((await unexplained.textContent())!, /the same in v7 and v8: the change is not in the series/)

  // the series list finds the series by either title, in any case
  await open(page, `${dashboard.url}/?q=${encodeURIComponent('smoke TESTS for snp')}`)
  assert.deepEqual(await page.locator('table.series-list tbody tr').evaluateAll(rows => rows.map(row => row.getAttribute('data-series'))), ['1'])
  // its name is the first title; the later one is another name
  assert.match((await page.locator('table.series-list tbody tr .series-names').textContent())!, /^also: KVM: SEV: smoke tests for SNP$/)

  // an admin renames the series on its page, then merges the old RFC series into it
  const admin = dashboard.app.tokens.create('admin', ['admin']).token
  await open(page, `${dashboard.url}/series/1`)
  const panel = page.locator('details.identity-admin')
  await panel.locator('summary').click()
  const rename = panel.locator('form[data-action="series-rename"]')
  await rename.locator('input[name="name"]').fill('KVM: SEV: smoke tests for SEV-SNP')
  await rename.locator('input[name="token"]').fill('not-a-token')
  await rename.locator('button[type="submit"]').click()
  await panel.locator('.form-status', { hasText: 'UNAUTHORIZED' }).waitFor()
  await rename.locator('input[name="token"]').fill(admin)
  await rename.locator('button[type="submit"]').click()
  await page.locator('h1', { hasText: 'KVM: SEV: smoke tests for SEV-SNP' }).waitFor()
  await settled(page)
  assert.match((await page.locator('.series-names').textContent())!, /Also uploaded as: “KVM: SEV: smoke tests”, “KVM: SEV: smoke tests for SNP” · b4 change-id: 20240301-sev-smoke-5f0e3a9c21d4/)

  await open(page, `${dashboard.url}/series/2`)
  const other = page.locator('details.identity-admin')
  await other.locator('summary').click()
  const merge = other.locator('form[data-action="series-merge"]')
  // the token typed once is remembered for this tab
  assert.equal(await merge.locator('input[name="token"]').inputValue(), admin)
  await merge.locator('input[name="into"]').fill('kvm: sev: SMOKE tests')
  await Promise.all([page.waitForURL(`${dashboard.url}/series/1`), merge.locator('button[type="submit"]').click()])
  // the merged series' last version, then the whole table (a loaded machine renders late)
  await page.locator('table.numbers tbody tr[data-version="v8"]').waitFor({ state: 'attached' })
  await settled(page)
  assert.deepEqual(await page.locator('table.numbers tbody tr').evaluateAll(rows => rows.map(row => row.getAttribute('data-version'))), ['v5', 'v6', 'v7', 'v8'])
  assert.equal((await getJson<{ series: unknown[] }>(dashboard, '/api/v1/series')).series.length, 1)
  await screenshot(page, 'series-after-merge')

  // and renames a machine on the machines page: the old name stays an alias
  await open(page, `${dashboard.url}/machines`)
  const row = page.locator('table.machines tr[data-machine="snp-1"]')
  await row.locator('details.identity-admin summary').click()
  const renameMachine = row.locator('form[data-action="machine-rename"]')
  await renameMachine.locator('input[name="name"]').fill('snp-1.lab.example.org')
  await renameMachine.locator('button[type="submit"]').click()
  await page.locator('table.machines tr[data-machine="snp-1.lab.example.org"]').waitFor()
  assert.equal((await getJson<CompareResponse>(dashboard, '/api/v1/series/1/compare?base=v6&head=v7&machine=snp-1')).machine, 'snp-1.lab.example.org')
  assert.deepEqual(browser.problems.filter(problem => !/401/.test(problem)), [])
})
