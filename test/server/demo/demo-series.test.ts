import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DEMO_MACHINES, DEMO_SERIES, DEMO_VERSIONS, demoRuns, loadDemo } from '../../../server/demo/demo-series.ts'
import { outcomeStatus } from '../../../server/demo/log-generator.ts'
import { openTestBackendStore, testStoreLocation } from '../../helpers/backend.ts'
import { runKsft } from '../../helpers/cli.ts'

describe('the demo series', () => {
  test('loads through the ingest path with every run as its story says, and loading again adds nothing', async (t) => {
    const { store } = await openTestBackendStore(t)
    const first = await loadDemo(store)
    const runs = demoRuns()
    assert.equal(first.created, runs.length)
    assert.equal(new Set(first.runIds).size, runs.length, 'every demo log is distinct, flaky reruns included')
    const counter = await store.runs.writeCounter()

    const second = await loadDemo(store)
    assert.equal(second.created, 0)
    assert.deepEqual(second.runIds, first.runIds)
    assert.equal(await store.runs.writeCounter(), counter)

    for (const [i, run] of runs.entries()) {
      const stored = (await store.runs.getRun(first.runIds[i]!))!
      assert.equal(stored.series.name, DEMO_SERIES)
      assert.equal(stored.version.label, run.meta.version)
      assert.equal(stored.machine.name, run.meta.machine)
      const panic = run.spec.tests.findIndex(test => test.outcome === 'panic')
      const expected = (panic === -1 ? run.spec.tests : run.spec.tests.slice(0, panic + 1))
        .map(test => `${test.collection}/${test.name}=${outcomeStatus(test.outcome)}`)
      assert.deepEqual((await store.runs.getRunTests(stored.id)).map(test => `${test.collection}/${test.name}=${test.status}`), expected,
        `${run.meta.version} on ${run.meta.machine}`)
    }
  })

  test('has base and v1..v6 on three machines, a truncated run, a timeout, a kernel warning and a flaky test', () => {
    const runs = demoRuns()
    assert.deepEqual([...new Set(runs.map(run => run.meta.version))], [...DEMO_VERSIONS])
    assert.deepEqual([...new Set(runs.map(run => run.meta.machine))], DEMO_MACHINES.map(m => m.name))
    const outcomes = (version: string, machine: string, name: string) => runs
      .filter(run => run.meta.version === version && run.meta.machine === machine)
      .map(run => run.spec.tests.find(test => test.name === name)?.outcome ?? 'absent')
    assert.deepEqual(outcomes('v4', 'snp-host-1', 'private_mem_conversions_test'), ['panic'])
    assert.deepEqual(outcomes('v3', 'snp-host-1', 'max_guest_memory_test'), ['timeout'])
    assert.deepEqual(outcomes('v6', 'tdx-host-1', 'dirty_log_test'), ['pass', 'fail', 'pass'])
    assert.deepEqual(outcomes('base', 'tdx-host-1', 'guest_memfd_test'), ['absent'])
    // a regression and its fix on every machine
    for (const machine of DEMO_MACHINES) {
      assert.deepEqual(['v1', 'v2', 'v3'].flatMap(v => outcomes(v, machine.name, 'memfd_test')), ['pass', 'fail', 'pass'])
    }
    assert.ok(runs.some(run => run.spec.tests.some(test => test.kernelWarning)))
  })

  test('`ksft demo` loads into --db and says so; a second time it stores nothing', async (t) => {
    const db = await testStoreLocation(t)
    const first = await runKsft(['demo', '--db', db])
    assert.equal(first.code, 0, first.stderr)
    assert.match(first.stdout, new RegExp(`^demo series "${DEMO_SERIES}": ${demoRuns().length} runs stored in `))
    assert.match(first.stdout, /open \/series\/1\n$/)
    const second = await runKsft(['demo', '--db', db])
    assert.equal(second.code, 0, second.stderr)
    assert.match(second.stdout, new RegExp(`: 0 runs stored, ${demoRuns().length} already there in `))
  })
})
