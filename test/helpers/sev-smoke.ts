/**
 * A small series for the patch-delta tests (issue 17), synthetic, written for these tests: a
 * SEV smoke selftest that passes at one version and fails on its own assertion at the next, beside
 * a test that passes at both. Not a captured log.
 */
export const SEV_SMOKE_CHANGE_ID = '20240301-sev-smoke-5f0e3a9c21d4'
export const SEV_SMOKE_SELFTEST = 'tools/testing/selftests/kvm/x86/sev_smoke_test.c'

export const SEV_SMOKE_PASSING_LOG = 'TAP version 13\n1..2\n# selftests: kvm: sev_smoke_test\nok 1 selftests: kvm: sev_smoke_test\n' +
  '# selftests: kvm: hardware_disable_test\nok 2 selftests: kvm: hardware_disable_test\n'

/** sev_smoke_test fails on its assertion; `beforeSecondResult` goes between the second test's header and result (a kernel line, say). */
export function sevSmokeFailingLog (beforeSecondResult = ''): string {
  return 'TAP version 13\n1..2\n# selftests: kvm: sev_smoke_test\n# ==== Test Assertion Failure ====\n#   x86/sev_smoke_test.c:88: ret == 0\n' +
    '#   pid=1 tid=1 errno=22 - Invalid argument\nnot ok 1 selftests: kvm: sev_smoke_test # exit=254\n# selftests: kvm: hardware_disable_test\n' +
    `${beforeSecondResult}ok 2 selftests: kvm: hardware_disable_test\n`
}
