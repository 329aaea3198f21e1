import { readFileSync } from 'node:fs'
import type { TestContext } from 'node:test'
import type { Database } from 'better-sqlite3'
import { loadDemo } from '../../server/demo/demo-series.ts'
import { generateLog, scaledLogSpec } from '../../server/demo/log-generator.ts'
import type { IssueDefinition } from '../../server/domain/known-issues.ts'
import { AdminStore } from '../../server/storage/sqlite/admin-store.ts'
import { IdentityAdmin } from '../../server/storage/sqlite/identity-admin.ts'
import { PatchStore } from '../../server/storage/sqlite/patch-store.ts'
import type { RunStore } from '../../server/storage/sqlite/run-store.ts'
import { TokenStore } from '../../server/storage/sqlite/token-store.ts'
import { realFixtureNames, realFixturePath } from './fixtures.ts'
import { ingestText, openTestStore } from './store.ts'

/**
 * A SQLite store with something in every table, built through the real ingest path: the demo
 * series (SYNTHETIC logs of server/demo), a second series of generated logs with subtests on two
 * machines, the real logs of ../shared/fixtures/real when they are here (a series of their own),
 * known issues (one resolved), tokens (one revoked), patch lists, a renamed machine and a deleted
 * run (whose version and machine then have no outcome set).
 */
export interface SeededStore {
  db: Database
  store: RunStore
  path: string
  /** The demo series, the generated one, and the real logs' (when present). */
  seriesIds: number[]
  /** Every run kept, by id. */
  runIds: number[]
  /** How many real logs went in. */
  realLogs: number
}

function issue (title: string, matcher: Partial<IssueDefinition['matcher']>, scope: Partial<IssueDefinition['scope']> = {}): IssueDefinition {
  return {
    title,
    url: `https://bugzilla.example.org/${encodeURIComponent(title)}`,
    culprit: 'kernel',
    intermittent: false,
    matcher: { testGlob: '*', reasonRegex: null, logRegex: null, exitCode: null, statuses: [], kernelTrouble: false, ...matcher },
    scope: { series: [], machines: [], arch: null, cpuFlags: [], kernelGlob: null, versionsFrom: null, versionsTo: null, ...scope },
  }
}

export async function seededStore (t: TestContext, options: { realLogs?: boolean } = {}): Promise<SeededStore> {
  const { db, store, path } = openTestStore(t)
  // issues first: ingest matches the active ones as it stores each run
  store.issues.create(issue('kvm assertion failures', { testGlob: 'kvm/*', statuses: ['fail'] }), 'tester')
  store.issues.create(issue('memfd under kernel trouble', { testGlob: 'memfd/*', kernelTrouble: true }), 'tester')
  // on the real logs: failures with kernel trouble an issue explains, and others whose trouble it leaves open
  store.issues.create(issue('real failures', { testGlob: '*' }, { machines: ['real-host-0', 'real-host-1', 'real-host-2'] }), 'tester')
  store.issues.create(issue('real trouble', { testGlob: '*', kernelTrouble: true }, { machines: ['real-host-3', 'real-host-4'] }), 'tester')

  // the demo loads through the Store's ingest; here it lands in this RunStore, one transaction a run
  const demo = await loadDemo({ runs: { ingest: async (...args: Parameters<RunStore['ingestRun']>) => store.ingestRun(...args), getRun: async (id: number) => store.getRun(id) } })
  const runIds = [...demo.runIds]
  const seriesIds = [demo.seriesId]

  // a series of generated logs: failures, skips, timeouts and nested results, two machines, three versions
  for (const [vi, version] of ['v1', 'v2', 'v3'].entries()) {
    for (const [mi, machine] of ['gen-a', 'gen-b'].entries()) {
      const spec = scaledLogSpec({ seed: 100 * vi + mi, targetBytes: 0, tests: 30, failRate: 0.2, skipRate: 0.2, timeoutRate: 0.05, extraSubtests: 2, arch: mi === 0 ? 'x86_64' : 'aarch64' })
      const { runId } = await ingestText(store, generateLog(spec), {
        series: 'mm: generated series', version, machine, arch: mi === 0 ? 'x86_64' : 'aarch64', kernel: `6.9.0-gen-${version}`,
        change_id: '20240501-generated-series-abc123', message_id: `gen-${version}@example.org`,
      })
      runIds.push(runId)
    }
  }
  seriesIds.push(store.getRun(runIds.at(-1)!)!.series.id)

  let realLogs = 0
  if (options.realLogs ?? true) {
    for (const [i, name] of realFixtureNames().entries()) {
      const { runId } = await ingestText(store, readFileSync(realFixturePath(name)), {
        series: 'real logs', version: i % 2 === 0 ? 'v1' : 'v2', machine: `real-host-${i % 5}`, arch: i % 3 === 0 ? 'aarch64' : 'x86_64',
      })
      runIds.push(runId)
      realLogs++
    }
    if (realLogs > 0) seriesIds.push(store.getRun(runIds.at(-1)!)!.series.id)
  }

  // an issue resolved after it matched: its matches stay, readers leave it out
  const resolved = store.issues.create(issue('generated timeouts', { testGlob: 'kvm/*', statuses: ['timeout'] }), 'tester')
  store.issues.setActive(resolved.id, false, 'tester')

  const tokens = new TokenStore(db)
  tokens.create('lab-1', ['upload'])
  tokens.create('admin', ['upload', 'admin'])
  tokens.create('old-lab', ['upload'])
  tokens.revoke('old-lab')

  const patches = new PatchStore(db)
  const generated = store.getRun(runIds[demo.runIds.length]!)!
  patches.report(generated.id, generated.version.id, [
    { subject: 'mm: add a thing', author: 'A U Thor <author@example.org>', patchId: 'a'.repeat(40), files: ['mm/thing.c'], messageId: 'p1@example.org' },
    { subject: 'kvm: use the thing', author: null, patchId: 'b'.repeat(40), files: ['virt/kvm/kvm_main.c', 'mm/thing.c'], messageId: null },
  ])
  const other = store.getRun(runIds[demo.runIds.length + 1]!)!
  patches.report(other.id, other.version.id, [{ subject: 'mm: add a thing, differently', author: null, patchId: 'c'.repeat(40), files: [], messageId: null }])

  const identity = new IdentityAdmin(db, store.issues)
  const genB = store.getRun(runIds[demo.runIds.length + 1]!)!.machine
  identity.renameMachine(genB.id, 'gen-b-renamed', 'tester')

  // a deleted run of a version and machine with another run: they lose their outcome set (while
  // case_stats keeps the other run's results), which readers then build from case_stats
  const deleted = db.prepare(`
    SELECT max(id) FROM runs WHERE id IN (${demo.runIds.join(', ')})
    GROUP BY version_id, machine_id HAVING count(*) > 1 ORDER BY version_id DESC LIMIT 1`).pluck().get() as number | undefined
  if (deleted === undefined) throw new Error('the demo has no version and machine with two runs any more: choose another run to delete')
  runIds.splice(runIds.indexOf(deleted), 1)
  new AdminStore(db, store.issues).deleteRun(deleted)

  return { db, store, path, seriesIds, runIds, realLogs }
}
