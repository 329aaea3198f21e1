import { isFailing, worseStatus, type Status } from '../../ingest/index.ts'
import { testPathOf } from '../domain/known-issues.ts'
import type { ResultDetail } from '../storage/rows.ts'
import type { StoreTrends } from '../storage/store.ts'
import { infrastructureEvidence } from './verdict.ts'

export interface UntriagedFailure {
  collection: string
  test: string
  path: string[]
  testPath: string
  machine: string
  status: Status
  reason: string | null
  infrastructure: string | null
  firstSeen: { version: string, machine: string }
  failingVersions: number
}

/**
 * The failures of one version of a series that no active known issue explains: what is left to
 * triage. One entry per test or subtest and machine with a failing result no issue matched, with how
 * long it has been failing in the series (the first version and machine it failed on, and how many
 * versions it failed in).
 */
export async function untriagedFailures (store: StoreTrends, seriesId: number, versionId: number, limit: number): Promise<{ failures: UntriagedFailure[], total: number }> {
  const cells = await store.failingCells(versionId)
  if (cells.length === 0) return { failures: [], total: 0 }
  const known = new Map((await store.triageCells([versionId])).map(cell => [`${cell.machineId}:${cell.caseId}`, cell]))
  const untriaged = cells.filter(cell => {
    const triage = known.get(`${cell.machineId}:${cell.caseId}`)
    return triage === undefined || triage.knownFailing < triage.failing
  })
  const listed = untriaged.slice(0, limit)
  const names = new Map((await store.caseNames([...new Set(listed.map(cell => cell.caseId))])).map(name => [name.id, name]))
  const resultsOf = new Map<string, ResultDetail[]>()
  for (const { machineId, caseId, result } of await store.cellResults(versionId, listed)) {
    const key = `${machineId}:${caseId}`
    resultsOf.set(key, [...resultsOf.get(key) ?? [], result])
  }
  const histories = new Map<number, Awaited<ReturnType<StoreTrends['failureHistory']>>>()
  const failures: UntriagedFailure[] = []
  for (const cell of listed) {
    const name = names.get(cell.caseId)!
    const unknown = resultsOf.get(`${cell.machineId}:${cell.caseId}`)!.filter(result => isFailing(result.status) && result.knownIssues.length === 0)
    const status = unknown.map(result => result.status).reduce((a, b) => worseStatus(a, b))
    const telling = unknown.find(result => result.status === status && result.reason !== null) ?? unknown[0]!
    if (!histories.has(cell.caseId)) histories.set(cell.caseId, await store.failureHistory(seriesId, cell.caseId))
    const history = histories.get(cell.caseId)
    failures.push({
      collection: name.collection,
      test: name.test,
      path: name.path,
      testPath: testPathOf(name.collection, name.test, name.path),
      machine: cell.machine,
      status,
      reason: telling.reason,
      infrastructure: infrastructureEvidence(telling),
      firstSeen: { version: history?.version ?? '', machine: history?.machine ?? cell.machine },
      failingVersions: history?.versions ?? 1,
    })
  }
  return { failures, total: untriaged.length }
}
