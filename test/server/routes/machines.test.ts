import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ARM, buildScenario, TDX, tick } from '../trend-scenario.ts'

test('machines: by name, with arch, CPU, flags, latest kernel, runs and when they were first and last seen', async (t) => {
  const s = await buildScenario(t)
  const res = await s.get('/api/v1/machines')
  assert.equal(res.status, 200)
  // arm64-host-1 uploaded runs 2, 4, 8 and 10 of the plan (ticks 1, 3, 7, 9); tdx-host-1 the rest, last v4 (tick 10)
  assert.deepEqual(res.json, {
    machines: [
      { id: 2, name: ARM, arch: 'aarch64', cpu: 'Ampere Altra Q80-30', flags: [], kernel: '6.14.0-rc4', runs: 4, firstSeenAt: tick(1), lastSeenAt: tick(9) },
      { id: 1, name: TDX, arch: 'x86_64', cpu: 'Intel Xeon Platinum 8480+', flags: ['tdx'], kernel: '6.14.0-rc5', runs: 7, firstSeenAt: tick(0), lastSeenAt: tick(10) },
    ],
    nextCursor: null,
  })
  const first = await s.get('/api/v1/machines?limit=1')
  assert.deepEqual(first.json.machines, [res.json.machines[0]])
  const second = await s.get(`/api/v1/machines?limit=1&cursor=${first.json.nextCursor}`)
  assert.deepEqual(second.json, { machines: [res.json.machines[1]], nextCursor: null })
})
