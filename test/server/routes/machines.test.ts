import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ingestText } from '../../helpers/store.ts'
import { ARM, buildScenario, kselftestLog, SERIES, TDX, tick } from '../trend-scenario.ts'

test('machines: by name, with arch, CPU, flags, latest kernel, runs, when they were first and last seen, and the versions they ran', async (t) => {
  const s = await buildScenario(t)
  const res = await s.get('/api/v1/machines')
  assert.equal(res.status, 200)
  // arm64-host-1 uploaded runs 2, 4, 8 and 10 of the plan (ticks 1, 3, 7, 9); tdx-host-1 the rest, last v4 (tick 10)
  assert.deepEqual(res.json, {
    machines: [
      {
        id: 2, name: ARM, arch: 'aarch64', cpu: 'Ampere Altra Q80-30', flags: [], kernel: '6.14.0-rc4', runs: 4, firstSeenAt: tick(1), lastSeenAt: tick(9),
        series: [{ id: 1, name: SERIES, versions: ['base', 'v1', 'v2', 'v3'] }], seriesCount: 1,
      },
      {
        id: 1, name: TDX, arch: 'x86_64', cpu: 'Intel Xeon Platinum 8480+', flags: ['tdx'], kernel: '6.14.0-rc5', runs: 7, firstSeenAt: tick(0), lastSeenAt: tick(10),
        series: [{ id: 1, name: SERIES, versions: ['base', 'v1', 'v2', 'v3', 'v4'] }], seriesCount: 1,
      },
    ],
    nextCursor: null,
  })
  const first = await s.get('/api/v1/machines?limit=1')
  assert.deepEqual(first.json.machines, [res.json.machines[0]])
  const second = await s.get(`/api/v1/machines?limit=1&cursor=${first.json.nextCursor}`)
  assert.deepEqual(second.json, { machines: [res.json.machines[1]], nextCursor: null })
})

test('machines: the newest 20 series a machine ran, each with its versions in version order, and how many there are in all', async (t) => {
  const s = await buildScenario(t)
  const { text } = kselftestLog([{ collection: 'memfd', name: 'memfd_test', status: 'pass' }], '0x5eed')
  for (let n = 2; n <= 23; n++) {
    // uploaded out of version order, and one version on the other machine only
    for (const version of ['v3', 'v1', 'RFC v2']) await ingestText(s.app.store, text, { series: `series ${n}`, version, machine: ARM })
    await ingestText(s.app.store, text, { series: `series ${n}`, version: 'v4', machine: TDX })
  }
  const machines = (await s.get('/api/v1/machines')).json.machines as Array<{ name: string, series: Array<{ id: number, name: string, versions: string[] }>, seriesCount: number }>
  const arm = machines.find(machine => machine.name === ARM)!
  assert.equal(arm.seriesCount, 23)
  assert.deepEqual(arm.series, Array.from({ length: 20 }, (_, i) => 23 - i).map(n => ({ id: n, name: `series ${n}`, versions: ['v1', 'RFC v2', 'v3'] })))
  const tdx = machines.find(machine => machine.name === TDX)!
  assert.equal(tdx.seriesCount, 23)
  assert.deepEqual(tdx.series[0], { id: 23, name: 'series 23', versions: ['v4'] })
  assert.deepEqual(tdx.series.length, 20)
})
