import assert from 'node:assert/strict'
import { test } from 'node:test'
import { matrixPage, type MatrixKey, type MatrixOptions } from '../../../server/queries/matrix.ts'
import { buildScenario } from '../trend-scenario.ts'

test('a matrix page stops taking tests at its cell budget, keeps at least one whole test, and the pages still cover every row', async (t) => {
  const s = await buildScenario(t)
  const trends = s.app.store.trends
  const versionIds = (await trends.versions(1)).map(version => version.id)
  assert.equal(versionIds.length, 5)
  const options: MatrixOptions = { seriesId: 1, versionIds, collection: null, machineId: null, arch: null, after: null, limit: 50 }
  const whole = await matrixPage(trends, options)
  assert.equal(whole.next, null)

  const pages: string[][] = []
  const rows: unknown[] = []
  let after: MatrixKey | null = null
  do {
    // two rows of five versions
    const page = await matrixPage(trends, { ...options, after, maxCells: 10 })
    pages.push(page.rows.map(row => [row.test, ...row.path].join('/')))
    rows.push(...page.rows.map(row => ({ ...row, cells: row.cells.map(cell => cell && { ...cell, machineSet: page.machineSets[cell.machineSet] }) })))
    after = page.next
  } while (after !== null)
  assert.deepEqual(pages, [
    ['guest_memfd_test', 'hardware_disable_test'],
    // three rows: past the budget, and alone on its page rather than split
    ['kvm_binary_stats_test', 'kvm_binary_stats_test/vm0', 'kvm_binary_stats_test/vm1'],
    ['pmu_counters_test', 'private_mem_conversions_test'],
    ['set_memory_region_test', 'sev_smoke_test'],
    ['memfd_test', 'run_hugetlbfs_test.sh'],
  ])
  assert.deepEqual(rows, whole.rows.map(row => ({ ...row, cells: row.cells.map(cell => cell && { ...cell, machineSet: whole.machineSets[cell.machineSet] }) })))

  // the limit still holds below the budget
  assert.deepEqual((await matrixPage(trends, { ...options, limit: 1 })).rows.map(row => row.test), ['guest_memfd_test'])
})
