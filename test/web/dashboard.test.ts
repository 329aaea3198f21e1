import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Page } from 'playwright-core'
import type { CollectionsResponse, CompareResponse, FlakyResponse, HistoryResponse, MachineList, MatrixResponse, SeriesList, TrendResponse } from '../../web/src/api.ts'
import { DEMO_SERIES } from '../../server/demo/demo-series.ts'
import { chromiumSkip, getJson, inViewport, launchBrowser, open, screenshot, settled, startDashboard } from './browser.ts'

const STATUSES = ['pass', 'fail', 'skip', 'xfail', 'xpass', 'timeout', 'error'] as const
const SEVERITY = ['error', 'timeout', 'fail', 'xpass', 'skip', 'xfail', 'pass'] as const
const worst = (cell: Record<(typeof SEVERITY)[number], number>) => SEVERITY.find(s => cell[s] > 0)!

/** The API paths (with their query) a page asks for from now on. */
function apiRequests (page: Page): string[] {
  const asked: string[] = []
  page.on('request', request => {
    const url = new URL(request.url())
    if (url.pathname.startsWith('/api/')) asked.push(url.pathname + url.search)
  })
  return asked
}

test('a fresh install teaches how to send the first run', { skip: chromiumSkip }, async (t) => {
  const dashboard = await startDashboard(t, { demo: false })
  const browser = await launchBrowser(t)
  const page = await browser.page()
  await open(page, `${dashboard.url}/`)
  const guide = await page.locator('.empty-state').innerText()
  assert.ok(guide.includes(`curl -fsS ${dashboard.url}/hook.sh | sh -s -- --server ${dashboard.url} --series`), guide)
  assert.ok(guide.includes('ksft ingest ksft.log --series'), guide)
  assert.ok(guide.includes('ksft demo'), guide)
  await screenshot(page, 'empty-install')
  await open(page, `${dashboard.url}/machines`)
  assert.ok((await page.locator('main').innerText()).includes('No machine has uploaded a run yet'))
  assert.deepEqual(browser.problems, [])
})

test('the series list shows each series with the API\'s latest version, counts and a sparkline', { skip: chromiumSkip }, async (t) => {
  const dashboard = await startDashboard(t)
  const browser = await launchBrowser(t)
  const page = await browser.page()
  const list = await getJson<SeriesList>(dashboard, '/api/v1/series')
  const asked = apiRequests(page)
  await open(page, `${dashboard.url}/`)
  await page.locator('.sparkline canvas').first().waitFor()
  assert.deepEqual(asked, ['/api/v1/series'], 'the sparklines come with the list, not from a trend per series')
  const rows = page.locator('tr[data-series]')
  assert.equal(await rows.count(), list.series.length)
  for (const series of list.series) {
    const row = page.locator(`tr[data-series="${series.id}"]`)
    assert.equal(await row.locator('th a').first().textContent(), series.name)
    assert.equal(await row.locator('td[data-field=latest] a').textContent(), series.latestVersion.label)
    const chips = await row.locator('.chip[data-status]').evaluateAll(els => els.map(e => [e.getAttribute('data-status'), Number(e.getAttribute('data-count'))]))
    assert.deepEqual(Object.fromEntries(chips), Object.fromEntries(STATUSES.filter(s => series.latestVersion.summary[s] > 0).map(s => [s, series.latestVersion.summary[s]])))
    assert.equal(await row.locator('.sparkline canvas').count(), 1)
    const rates = series.passRates.map(v => `${v.label} ${v.passRate === null ? 'none' : `${Math.round(v.passRate * 100)}%`}`).join(', ')
    assert.equal(await row.locator('.sparkline').getAttribute('aria-label'), `pass rate per version: ${rates}`)
  }
  await screenshot(page, 'series-list')
  assert.deepEqual(browser.problems, [])
})

test('the series page shows the API\'s trend, comparison, matrix and flaky tests, and copies the summary', { skip: chromiumSkip }, async (t) => {
  const dashboard = await startDashboard(t)
  const browser = await launchBrowser(t)
  await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: dashboard.url })
  const page = await browser.page()
  const id = dashboard.seriesId
  const trend = await getJson<TrendResponse>(dashboard, `/api/v1/series/${id}/trend`)
  const labels = trend.versions.map(v => v.label)
  assert.deepEqual(labels, ['base', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6'])

  const asked = apiRequests(page)
  await open(page, `${dashboard.url}/series/${id}`)
  await page.locator('table.matrix').waitFor()
  assert.equal(await page.locator('h1').textContent(), DEMO_SERIES)
  assert.equal(asked.filter(path => path.includes('/matrix')).length, 1, 'the collection filter does not read a matrix page of its own')

  // the collection filter offers what the series ran
  const collections = await getJson<CollectionsResponse>(dashboard, `/api/v1/series/${id}/collections`)
  assert.deepEqual(await page.locator('form.filters select[name=collection] option').allTextContents(), ['all', ...collections.collections.map(c => c.name)])
  assert.equal(await page.locator('#trend canvas').count() > 0, true)

  // the numbers under the chart are the trend's
  for (const version of trend.versions) {
    const row = page.locator(`details.trend-table tr[data-version="${version.label}"]`)
    const shown = await row.locator('td[data-field]').evaluateAll(els => Object.fromEntries(els.map(e => [e.getAttribute('data-field'), e.textContent])))
    assert.equal(shown.runs, String(version.runs))
    assert.equal(shown.machines, String(version.machines))
    for (const status of STATUSES) assert.equal(shown[status], String(version.summary[status]), `${version.label} ${status}`)
    assert.equal(shown.passRate, version.passRate === null ? '–' : `${(version.passRate * 100).toFixed(1)}%`)
  }

  // the latest version against the one before, regressions first
  const compare = await getJson<CompareResponse>(dashboard, `/api/v1/series/${id}/compare?base=v5&head=v6&limit=50`)
  assert.ok(compare.counts.regression > 0, 'the demo has regressions in v6')
  const chips = await page.locator('#compare .bucket-chips .chip[data-bucket]').evaluateAll(els => els.map(e => [e.getAttribute('data-bucket'), Number(e.getAttribute('data-count'))]))
  assert.deepEqual(Object.fromEntries(chips), Object.fromEntries(Object.entries(compare.counts).filter(([k, v]) => v > 0 || k === 'unchanged')))
  const rows = await page.locator('#compare table.compare tbody tr').evaluateAll(els => els.map(e => [e.getAttribute('data-bucket'), e.querySelector('th')!.textContent]))
  assert.deepEqual(rows, compare.entries.map(e => [e.bucket, [`${e.collection}: ${e.test}`, ...e.path].join(' › ')]))
  assert.equal(rows[0]![0], 'regression')

  // the matrix: one row per test, each cell the API's count and worst status
  const matrix = await getJson<MatrixResponse>(dashboard, `/api/v1/series/${id}/matrix?limit=100`)
  const tests = matrix.rows.filter(r => r.path.length === 0)
  const shownRows = await page.locator('table.matrix tbody tr.test').evaluateAll(trs => trs.map(tr => ({
    name: tr.querySelector('th a')!.textContent,
    cells: [...tr.querySelectorAll('td.cell')].map(td => td.classList.contains('absent') ? null : [Number(td.getAttribute('data-total')), td.getAttribute('data-worst')]),
  })))
  assert.deepEqual(shownRows, tests.map(r => ({ name: `${r.collection}: ${r.test}`, cells: r.cells.map(c => (c === null ? null : [c.total, worst(c)])) })))

  // subtests unfold from the keyboard
  const withSubtests = tests.find(r => r.hasSubtests)!
  const fold = page.locator('table.matrix tr.test', { hasText: withSubtests.test }).locator('button.fold')
  await fold.focus()
  await page.keyboard.press('Enter')
  assert.equal(await fold.getAttribute('aria-expanded'), 'true')
  const subRows = matrix.rows.filter(r => r.test === withSubtests.test && r.collection === withSubtests.collection && r.path.length > 0)
  assert.equal(await page.locator('table.matrix tr.sub:not([hidden])').count(), subRows.length)
  const title = await page.locator('table.matrix tr.sub td.cell:not(.absent)').first().getAttribute('title')
  assert.match(title!, /results? on \d+ machines? \(/)
  // each cell names the machines of its results
  const titles = await page.locator('table.matrix tbody tr.test td.cell:not(.absent)').evaluateAll(tds => tds.map(td => td.getAttribute('title')!))
  const names = titles.map(t => /machines? \(([^)]*)\)/.exec(t)?.[1])
  assert.deepEqual(names, tests.flatMap(r => r.cells.filter(c => c !== null).map(c => matrix.machineSets[c.machineSet]!.join(', '))))
  assert.ok(names.includes('arm64-host-1, snp-host-1, tdx-host-1'), 'cells count several machines')

  // the flaky list
  const flaky = await getJson<FlakyResponse>(dashboard, `/api/v1/series/${id}/flaky`)
  assert.ok(flaky.entries.some(e => e.test === 'dirty_log_test'))
  assert.deepEqual(await page.locator('table.flaky tbody tr').evaluateAll(els => els.map(e => e.getAttribute('data-test'))), flaky.entries.map(e => e.test))

  // the summary for a mailing-list reply, copied as the API writes it
  const summary = await (await fetch(`${dashboard.url}/api/v1/series/${id}/summary.txt?base=v5&head=v6`)).text()
  await page.locator('button.copy-summary').click()
  await page.waitForFunction(() => document.querySelector('button.copy-summary')?.textContent?.startsWith('Copied'))
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), summary)

  await screenshot(page, 'series')
  await page.locator('#compare').scrollIntoViewIfNeeded()
  await screenshot(page, 'series-compare', { fullPage: false })
  assert.deepEqual(browser.problems, [])
})

test('filters and the version picker live in the URL and narrow the numbers as the API does', { skip: chromiumSkip }, async (t) => {
  const dashboard = await startDashboard(t)
  const browser = await launchBrowser(t)
  const page = await browser.page()
  const id = dashboard.seriesId
  await open(page, `${dashboard.url}/series/${id}`)
  await page.locator('form.filters select[name=collection]').selectOption('memfd')
  await page.locator('form.filters select[name=machine]').selectOption('tdx-host-1')
  await page.locator('form.filters button[type=submit]').click()
  await page.waitForURL(/collection=memfd/)
  await page.locator('main p.muted', { hasText: 'filtered to collection memfd, machine tdx-host-1' }).waitFor()
  await settled(page)
  assert.deepEqual(Object.fromEntries(new URL(page.url()).searchParams), { collection: 'memfd', machine: 'tdx-host-1' })
  const trend = await getJson<TrendResponse>(dashboard, `/api/v1/series/${id}/trend?collection=memfd&machine=tdx-host-1`)
  const shown = await page.locator('details.trend-table tr[data-version]').evaluateAll(trs => trs.map(tr => Number(tr.querySelector('[data-field=fail]')!.textContent)))
  assert.deepEqual(shown, trend.versions.map(v => v.summary.fail))
  assert.deepEqual(await page.locator('table.matrix tbody tr.test th a').allTextContents(), ['memfd: memfd_test', 'memfd: run_fuse_test.sh', 'memfd: run_hugetlbfs_test.sh'])

  await page.locator('form.picker select[name=base]').selectOption('v1')
  await page.locator('form.picker select[name=head]').selectOption('v2')
  await page.locator('form.picker button').click()
  await page.waitForURL(/base=v1&head=v2/)
  await page.locator('#compare .compare-head strong', { hasText: 'v1 → v2' }).waitFor()
  await settled(page)
  // the comparison follows the collection filter too: v2 breaks memfd_test, and its fix of kvm's guest_memfd_test is not shown
  const compare = await getJson<CompareResponse>(dashboard, `/api/v1/series/${id}/compare?base=v1&head=v2&machine=tdx-host-1&collection=memfd&limit=50`)
  const everything = await getJson<CompareResponse>(dashboard, `/api/v1/series/${id}/compare?base=v1&head=v2&machine=tdx-host-1&limit=50`)
  assert.ok(everything.entries.some(e => e.bucket === 'fixed' && e.test === 'guest_memfd_test'))
  const rows = await page.locator('#compare table.compare tbody tr').evaluateAll(els => els.map(e => [e.getAttribute('data-bucket'), e.querySelector('th')!.textContent]))
  assert.deepEqual(rows, compare.entries.map(e => [e.bucket, [`${e.collection}: ${e.test}`, ...e.path].join(' › ')]))
  assert.deepEqual(rows.filter(([bucket]) => bucket === 'regression'), [['regression', 'memfd: memfd_test']])
  assert.ok(!rows.some(([, name]) => name!.startsWith('kvm: ')))
  // back goes to the previous state
  await page.goBack()
  await page.locator('#compare .compare-head strong', { hasText: 'v5 → v6' }).waitFor()
  assert.equal(new URL(page.url()).searchParams.get('base'), null)
  assert.deepEqual(browser.problems, [])
})

test('arch and collection narrow the comparison, the matrix and the flaky list as the API does, and the full comparison keeps them', { skip: chromiumSkip }, async (t) => {
  const dashboard = await startDashboard(t)
  const browser = await launchBrowser(t)
  const page = await browser.page()
  const id = dashboard.seriesId
  const filters = 'collection=kvm&arch=x86_64'
  await open(page, `${dashboard.url}/series/${id}?${filters}`)
  await page.locator('table.matrix').waitFor()
  assert.equal(await page.locator('main').getByText(/narrows by machine only|not the architecture/).count(), 0)

  const compare = await getJson<CompareResponse>(dashboard, `/api/v1/series/${id}/compare?base=v5&head=v6&${filters}&limit=50`)
  const everywhere = await getJson<CompareResponse>(dashboard, `/api/v1/series/${id}/compare?base=v5&head=v6&limit=0`)
  assert.notDeepEqual(compare.counts, everywhere.counts, 'the filters change the comparison')
  const shownCompare = await page.locator('#compare table.compare tbody tr').evaluateAll(els => els.map(e => [e.getAttribute('data-bucket'), e.querySelector('th')!.textContent, e.querySelectorAll('td')[1]!.textContent]))
  // a machine is only compared with itself; a test failing on one machine and passing on another says so
  assert.deepEqual(shownCompare, compare.entries.map(e => [e.bucket, [`${e.collection}: ${e.test}`, ...e.path].join(' › '), `${e.machine}${e.machineSpecific ? ' ◐ machine-specific' : ''}`]))
  assert.ok(compare.entries.every(e => e.sameMachine))
  assert.ok(compare.entries.every(e => e.collection === 'kvm' && e.machine !== 'arm64-host-1'))

  const matrix = await getJson<MatrixResponse>(dashboard, `/api/v1/series/${id}/matrix?${filters}&limit=100`)
  const shownTests = await page.locator('table.matrix tbody tr.test').evaluateAll(trs => trs.map(tr => ({
    name: tr.querySelector('th a')!.textContent,
    cells: [...tr.querySelectorAll('td.cell')].map(td => td.classList.contains('absent') ? null : Number(td.getAttribute('data-total'))),
  })))
  assert.deepEqual(shownTests, matrix.rows.filter(r => r.path.length === 0).map(r => ({ name: `${r.collection}: ${r.test}`, cells: r.cells.map(c => c?.total ?? null) })))
  assert.deepEqual(matrix.machineSets.flat().filter(name => name === 'arm64-host-1'), [])

  const flaky = await getJson<FlakyResponse>(dashboard, `/api/v1/series/${id}/flaky?${filters}`)
  assert.deepEqual(await page.locator('table.flaky tbody tr').evaluateAll(els => els.map(e => e.getAttribute('data-test'))), flaky.entries.map(e => e.test))
  await screenshot(page, 'series-filtered')

  await page.locator('#compare .compare-head a', { hasText: 'full comparison' }).click()
  await page.waitForURL(/\/compare\?/)
  await page.locator('table.compare').waitFor()
  await settled(page)
  const url = new URL(page.url())
  assert.deepEqual([url.searchParams.get('collection'), url.searchParams.get('arch')], ['kvm', 'x86_64'])
  const full = await getJson<CompareResponse>(dashboard, `/api/v1/series/${id}/compare?base=v5&head=v6&${filters}`)
  assert.equal(await page.locator('table.compare tbody tr').count(), full.entries.length)
  assert.ok((await page.locator('main').innerText()).includes('Only the kvm collection.'))
  await screenshot(page, 'compare-filtered')
  assert.deepEqual(browser.problems, [])
})

test('a regression leads to its test page and on to the highlighted log lines', { skip: chromiumSkip }, async (t) => {
  const dashboard = await startDashboard(t)
  const browser = await launchBrowser(t)
  const page = await browser.page()
  const id = dashboard.seriesId
  const compare = await getJson<CompareResponse>(dashboard, `/api/v1/series/${id}/compare?base=v5&head=v6&limit=50`)
  const regression = compare.entries.find(e => e.bucket === 'regression' && e.path.length === 0)!

  await open(page, `${dashboard.url}/series/${id}`)
  await page.locator('#compare tr[data-bucket=regression] a.test-link', { hasText: `${regression.collection}: ${regression.test}` }).first().click()
  await page.waitForURL(/\/tests\?/)
  await page.locator('table.results').waitFor()
  await settled(page)
  const url = new URL(page.url())
  assert.equal(url.searchParams.get('collection'), regression.collection)
  assert.equal(url.searchParams.get('test'), regression.test)
  const history = await getJson<HistoryResponse>(dashboard, `/api/v1/tests/history?${url.searchParams.toString()}`)
  const chips = await page.locator('.page-header + p .chip[data-status]').evaluateAll(els => els.map(e => [e.getAttribute('data-status'), Number(e.getAttribute('data-count'))]))
  assert.deepEqual(Object.fromEntries(chips), Object.fromEntries(STATUSES.filter(s => history.counts[s] > 0).map(s => [s, history.counts[s]])))
  assert.equal(await page.locator('table.results tbody tr').count(), history.entries.length)
  const reasons = await page.locator('ul.reasons code.reason').allTextContents()
  assert.deepEqual(new Set(reasons), new Set(history.entries.map(e => e.reason).filter(Boolean)))
  await screenshot(page, 'test')

  const failing = history.entries.find(e => e.version.label === 'v6' && e.machine === regression.machine && e.status !== 'pass')!
  await page.locator(`table.results tr[data-run="${failing.runId}"] a[href^="/runs/"]`).click()
  await page.waitForURL(/\/runs\/\d+#L\d+-L\d+$/)
  await page.locator('.line.hl').first().waitFor()
  const highlighted = await page.locator('.line.hl').evaluateAll(els => els.map(e => Number(e.getAttribute('data-n'))))
  assert.equal(highlighted[0], failing.lines[0])
  assert.equal(highlighted.at(-1), failing.lines[1])
  assert.ok(await inViewport(page.locator(`#L${failing.lines[0]}`)))
  assert.match(await page.locator('.line.hl .lt').first().textContent() ?? '', new RegExp(`selftests: ${regression.collection}: ${regression.test}`))
  await screenshot(page, 'run-regression-lines', { fullPage: false })
  assert.deepEqual(browser.problems, [])
})

test('the comparison page lists a bucket at a time with the API\'s counts', { skip: chromiumSkip }, async (t) => {
  const dashboard = await startDashboard(t)
  const browser = await launchBrowser(t)
  const page = await browser.page()
  const id = dashboard.seriesId
  await open(page, `${dashboard.url}/series/${id}/compare?base=base&head=v6`)
  const all = await getJson<CompareResponse>(dashboard, `/api/v1/series/${id}/compare?base=base&head=v6`)
  assert.equal(await page.locator('table.compare tbody tr').count(), all.entries.length)
  assert.ok(all.counts.new > 0 && all.counts.still_failing > 0, 'base to v6: tests the series added, and a failure that was already there')
  await page.locator('.bucket-chips a[data-bucket=still_failing]').click()
  await page.waitForURL(/bucket=still_failing/)
  await page.locator('.bucket-chips a[aria-current]').waitFor()
  const bucket = await getJson<CompareResponse>(dashboard, `/api/v1/series/${id}/compare?base=base&head=v6&bucket=still_failing`)
  assert.deepEqual(await page.locator('table.compare tbody tr th').allTextContents(),
    bucket.entries.map(e => [`${e.collection}: ${e.test}`, ...e.path].join(' › ')))
  await screenshot(page, 'compare')
  assert.deepEqual(browser.problems, [])
})

test('the machines page lists the API\'s machines with their flags and the versions they ran', { skip: chromiumSkip }, async (t) => {
  const dashboard = await startDashboard(t)
  const browser = await launchBrowser(t)
  const page = await browser.page()
  const machines = await getJson<MachineList>(dashboard, '/api/v1/machines')
  const asked = apiRequests(page)
  await open(page, `${dashboard.url}/machines`)
  await page.locator('td.versions .labels').first().waitFor()
  assert.deepEqual(asked, ['/api/v1/machines'], 'the versions come with the machines, not from a trend per series and machine')
  for (const machine of machines.machines) {
    const row = page.locator(`tr[data-machine="${machine.name}"]`)
    assert.equal(await row.locator('td[data-field=runs]').textContent(), String(machine.runs))
    assert.deepEqual(await row.locator('.flag').allTextContents(), machine.flags)
    assert.deepEqual(await row.locator('td.versions .labels').allTextContents(), machine.series.map(s => s.versions.join(' ')))
    // the versions it ran are those where the series' trend on it counts runs
    const trend = await getJson<TrendResponse>(dashboard, `/api/v1/series/${dashboard.seriesId}/trend?machine=${machine.name}`)
    assert.deepEqual(machine.series.map(s => s.id), [dashboard.seriesId])
    assert.deepEqual(machine.series[0]!.versions, trend.versions.filter(v => v.runs > 0).map(v => v.label))
  }
  await screenshot(page, 'machines')
  assert.deepEqual(browser.problems, [])
})

test('a test named like HTML shows as text on every page and runs nothing', { skip: chromiumSkip }, async (t) => {
  const dashboard = await startDashboard(t, { demo: false })
  const { token } = await dashboard.app.store.tokens.create('browser-test', ['upload'])
  const evil = '<img src=x onerror=alert(1)>'
  const log = ['TAP version 13', '1..2', '# timeout set to 45', `# selftests: kvm: ${evil}`, `# reason <b>bold</b> <script>alert(2)</script>`,
    `not ok 1 selftests: kvm: ${evil} # exit=1`, '# selftests: kvm: fine_test', 'ok 2 selftests: kvm: fine_test', ''].join('\n')
  for (const version of ['v1', 'v2']) {
    const res = await fetch(`${dashboard.url}/api/v1/runs?series=${encodeURIComponent('<script>alert(3)</script> series')}&version=${version}&machine=${encodeURIComponent('<i>box</i>')}`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: log,
    })
    assert.equal(res.status, 201, await res.text())
  }
  const series = (await getJson<SeriesList>(dashboard, '/api/v1/series')).series[0]!
  const browser = await launchBrowser(t)
  const page = await browser.page()
  const pages = [
    '/', `/series/${series.id}`, `/series/${series.id}/compare?base=v1&head=v2`, '/machines', '/runs/1',
    `/tests?collection=kvm&test=${encodeURIComponent(evil)}&series=${series.id}`,
  ]
  for (const path of pages) {
    await open(page, `${dashboard.url}${path}`)
    await page.waitForTimeout(200)
    assert.equal(await page.locator('img').count(), 0, `no element made from the name on ${path}`)
    assert.equal(await page.locator('main script, main b, main i').count(), 0, path)
    const text = await page.locator('main').innerText()
    if (path !== '/' && path !== '/machines') assert.ok(text.includes(evil), `${path} shows the name as text`)
  }
  assert.ok((await page.locator('main').innerText()).includes('<b>bold</b>'), 'the reason is text too')
  await screenshot(page, 'xss-test-page')
  assert.deepEqual(browser.dialogs, [])
  assert.deepEqual(browser.problems, [])
})

test('dark mode follows the system setting', { skip: chromiumSkip }, async (t) => {
  const dashboard = await startDashboard(t)
  const browser = await launchBrowser(t, { colorScheme: 'dark' })
  const page = await browser.page()
  await open(page, `${dashboard.url}/series/${dashboard.seriesId}`)
  const [background, text] = await page.evaluate(() => [getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color])
  assert.equal(background, 'rgb(15, 20, 25)')
  assert.equal(text, 'rgb(227, 230, 234)')
  await screenshot(page, 'series-dark', { fullPage: false })
  assert.deepEqual(browser.problems, [])
})
