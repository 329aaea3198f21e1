import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { WEB_DIST, buildWeb } from '../../bin/build-web.ts'

let built: Promise<unknown> | null = null

/**
 * The dashboard in web/dist, which the page routes of the sources serve. `npm test` builds it before
 * any test runs (pretest) and sets KSFT_TEST_BUILT: its test processes, which run side by side, then
 * never rebuild a directory that another one is serving. A test file run alone builds it once.
 */
export function ensureWebBuilt (): Promise<unknown> {
  built ??= process.env.KSFT_TEST_BUILT === '1' && existsSync(join(WEB_DIST, 'index.html'))
    ? Promise.resolve()
    : buildWeb()
  return built
}
