import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseKselftestLog, runCompleteness } from '../../ingest/index.ts'

// Synthetic logs, one per rule of ingest/completeness.ts, in the runner's own shapes.

const kinds = (log: string) => runCompleteness(parseKselftestLog(log)).reasons.map(reason => reason.kind)

test('a whole run is complete', () => {
  const result = runCompleteness(parseKselftestLog('TAP version 13\n1..2\n# selftests: kvm: a\nok 1 selftests: kvm: a\n# selftests: kvm: b\nnot ok 2 selftests: kvm: b # exit=1\n'))
  assert.deepEqual(result, { complete: true, reasons: [], notRun: 0, collections: [{ collection: 'kvm', complete: true, notRun: 0 }] })
})

test('a plan that promised more than arrived: plan_short, with the tests never run counted', () => {
  const result = runCompleteness(parseKselftestLog('TAP version 13\n1..5\n# selftests: kvm: a\nok 1 selftests: kvm: a\n'))
  assert.equal(result.complete, false)
  assert.equal(result.notRun, 4)
  assert.deepEqual(result.collections, [{ collection: 'kvm', complete: false, notRun: 4 }])
  assert.deepEqual(result.reasons.map(reason => reason.kind), ['plan_short'])
})

test('the log ends inside a test: log_ends_inside_test; a panic in it adds kernel_panic', () => {
  // the cut test is in its plan's count (as an error), so the plan is not short
  assert.deepEqual(kinds('TAP version 13\n1..1\n# selftests: memfd: run_fuse_test.sh\n# fuse: mounting\n'), ['log_ends_inside_test'])
  assert.deepEqual(kinds('# selftests: memfd: run_fuse_test.sh\n[  12.345678] Kernel panic - not syncing: Fatal exception\n'), ['log_ends_inside_test', 'kernel_panic'])
})

test('a collection whose stream begins as the log ends: stream_stops_early', () => {
  const log = "TAP version 13\n1..1\n# selftests: kvm: a\nok 1 selftests: kvm: a\nmake[1]: Entering directory '/src/tools/testing/selftests/memfd'\nTAP version 13\n"
  assert.deepEqual(kinds(log), ['stream_stops_early'])
})

test('a test the next header cut short leaves the run complete: the run went on', () => {
  const log = 'TAP version 13\n1..2\n# selftests: kvm: a\n# selftests: kvm: b\nok 2 selftests: kvm: b\n'
  const parsed = parseKselftestLog(log)
  assert.equal(parsed.tests.find(t => t.name === 'a')?.status, 'error')
  assert.deepEqual(runCompleteness(parsed).reasons, [])
})
