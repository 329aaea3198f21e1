import type { Database } from 'better-sqlite3'
import { seriesNameKey } from '../../domain/series-identity.ts'
import { COUNTS } from '../outcome-sql.ts'
import { AdminStore } from './admin-store.ts'
import type { IssueStore } from './issue-store.ts'
import { OUTCOME_CELL_SQL } from './outcomes.ts'
import type { IdentityRefusal, MachineMergeReport, NamedRef, SeriesMergeReport } from '../rows.ts'

/**
 * Renaming and merging series and machines (docs/series.md), each in one transaction that keeps
 * every aggregate equal to what a recount of the results gives, as if the runs had been uploaded
 * together: versions with the same label fold together (AdminStore.foldVersion), cells of case_stats
 * add up, and the outcome sets of the versions whose cells changed are written again from them
 * (the triggers of migration 003 drop them as runs move). Old names stay names, so that later uploads under them land here too;
 * known issues scoped to the old series or machine are scoped to the new one and matched again.
 */
export class IdentityAdmin {
  private readonly s: ReturnType<typeof prepare>
  private readonly admin: AdminStore

  constructor (private readonly db: Database, private readonly issues: IssueStore, private readonly clock: () => Date = () => new Date()) {
    this.s = prepare(db)
    this.admin = new AdminStore(db, issues)
  }

  /** Gives a series a new name; its old names stay names. */
  renameSeries (id: number, name: string): NamedRef | IdentityRefusal | null {
    const now = this.clock().toISOString()
    return this.db.transaction((): NamedRef | IdentityRefusal | null => {
      const series = this.s.seriesById.get(id) as NamedRef | undefined
      if (!series) return null
      if (series.name === name) return { refused: 'same' }
      const holder = (this.s.seriesByName.get(name) ?? this.s.seriesByNameKey.get(seriesNameKey(name))) as NamedRef | undefined
      if (holder !== undefined && holder.id !== id) return { refused: 'name_taken', by: holder }
      this.s.renameSeries.run(name, id)
      this.s.addSeriesName.run(seriesNameKey(name), id, name, now)
      this.s.bumpCounter.run()
      return { id, name }
    }).immediate()
  }

  /**
   * Series `fromId` into series `intoId`, which stays; `from` is gone afterwards. The known issues
   * scoped to either are matched again, or with `match: false` left to the caller (rematchSteps),
   * which a server runs between its event loop's turns: they are pending until then, also after a crash.
   */
  mergeSeries (fromId: number, intoId: number, actor: string, options: { match?: boolean } = {}): SeriesMergeReport | IdentityRefusal | null {
    const now = this.clock().toISOString()
    const report = this.db.transaction((): SeriesMergeReport | IdentityRefusal | null => {
      const from = this.s.seriesById.get(fromId) as NamedRef | undefined
      const into = this.s.seriesById.get(intoId) as NamedRef | undefined
      if (!from || !into) return null
      if (from.id === into.id) return { refused: 'same' }
      const versionsMoved: string[] = []
      const versionsMerged: string[] = []
      const folded: number[] = []
      let runs = 0
      for (const version of this.s.versionsOf.all(from.id) as Array<{ id: number, label: string, runs: number }>) {
        const target = this.s.versionByLabel.get(into.id, version.label) as { id: number } | undefined
        if (target === undefined) {
          this.s.moveVersion.run(into.id, version.id)
          versionsMoved.push(version.label)
          runs += version.runs
        } else {
          runs += this.admin.foldVersion(version.id, target.id)
          versionsMerged.push(version.label)
          folded.push(target.id)
        }
      }
      this.s.writeOutcomeSets.run(JSON.stringify(folded))
      this.s.copySeriesTests.run({ into: into.id, from: from.id })
      // its name and every title it had (a name stored before names were folded has no key row yet)
      this.s.addSeriesName.run(seriesNameKey(from.name), into.id, from.name, now)
      this.s.moveSeriesNames.run(into.id, from.id)
      this.s.moveChangeIds.run(into.id, from.id)
      const issuesRematched = this.issues.renameInScopes('series', from.id, into.id, actor)
      this.s.deleteSeries.run(from.id)
      this.s.bumpCounter.run()
      return { from, into, versionsMoved, versionsMerged, runs, issuesRematched }
    }).immediate()
    this.matchAgain(report, options)
    return report
  }

  private matchAgain (report: { issuesRematched: number[] } | IdentityRefusal | null, options: { match?: boolean }): void {
    if (report === null || 'refused' in report || options.match === false) return
    for (const issue of report.issuesRematched) this.issues.rematch(issue)
  }

  /** Gives a machine a new name; uploads under the old one land on it still. */
  renameMachine (id: number, name: string, actor: string): NamedRef | IdentityRefusal | null {
    const now = this.clock().toISOString()
    const renamed = this.db.transaction((): { machine: NamedRef, old: string } | IdentityRefusal | null => {
      const machine = this.s.machineById.get(id) as NamedRef | undefined
      if (!machine) return null
      if (machine.name === name) return { refused: 'same' }
      const holder = (this.s.machineByName.get(name) ?? this.s.machineByOldName.get(name)) as NamedRef | undefined
      if (holder !== undefined && holder.id !== id) return { refused: 'name_taken', by: holder }
      this.s.dropOldName.run(name)
      this.s.addOldName.run(machine.name, id, now)
      this.s.renameMachine.run(name, id)
      // the same results, under the new name: nothing to match again
      this.issues.renameInScopes('machines', machine.name, name, actor, { merge: false })
      this.s.bumpCounter.run()
      return { machine: { id, name }, old: machine.name }
    }).immediate()
    return renamed !== null && 'machine' in renamed ? renamed.machine : renamed
  }

  /** Machine `fromId` into machine `intoId`, which stays; its runs and their aggregates go along. Known issues as mergeSeries. */
  mergeMachines (fromId: number, intoId: number, actor: string, options: { match?: boolean } = {}): MachineMergeReport | IdentityRefusal | null {
    const now = this.clock().toISOString()
    const report = this.db.transaction((): MachineMergeReport | IdentityRefusal | null => {
      const from = this.s.machineById.get(fromId) as NamedRef | undefined
      const into = this.s.machineById.get(intoId) as NamedRef | undefined
      if (!from || !into) return null
      if (from.id === into.id) return { refused: 'same' }
      const ids = { from: from.id, into: into.id }
      const versions = this.s.versionsRunOn.all(from.id) as number[]
      const runs = this.s.moveRuns.run(ids).changes
      this.s.mergeMachineStats.run(ids)
      this.s.dropMachineStats.run(ids)
      this.s.writeOutcomeSets.run(JSON.stringify(versions))
      this.s.describeFromBoth.run(ids)
      this.s.moveOldNames.run(ids)
      this.s.addOldName.run(from.name, into.id, now)
      const issuesRematched = this.issues.renameInScopes('machines', from.name, into.name, actor)
      this.s.deleteMachine.run(from.id)
      this.s.bumpCounter.run()
      return { from, into, runs, issuesRematched }
    }).immediate()
    this.matchAgain(report, options)
    return report
  }
}

function prepare (db: Database) {
  return {
    seriesById: db.prepare('SELECT id, name FROM series WHERE id = ?'),
    seriesByName: db.prepare('SELECT id, name FROM series WHERE name = ?'),
    seriesByNameKey: db.prepare('SELECT s.id, s.name FROM series_names n JOIN series s ON s.id = n.series_id WHERE n.name_key = ?'),
    renameSeries: db.prepare('UPDATE series SET name = ? WHERE id = ?'),
    addSeriesName: db.prepare('INSERT OR IGNORE INTO series_names (name_key, series_id, name, created_at) VALUES (?, ?, ?, ?)'),
    versionsOf: db.prepare(`
      SELECT v.id, v.label, (SELECT count(*) FROM runs r WHERE r.version_id = v.id) AS runs FROM versions v WHERE v.series_id = ? ORDER BY v.sort_key, v.id`),
    versionByLabel: db.prepare('SELECT id FROM versions WHERE series_id = ? AND label = ?'),
    moveVersion: db.prepare('UPDATE versions SET series_id = ? WHERE id = ?'),
    copySeriesTests: db.prepare(`
      INSERT OR IGNORE INTO series_tests (series_id, collection, test, case_id)
      SELECT @into, collection, test, case_id FROM series_tests WHERE series_id = @from`),
    moveSeriesNames: db.prepare('UPDATE series_names SET series_id = ? WHERE series_id = ?'),
    moveChangeIds: db.prepare('UPDATE series_change_ids SET series_id = ? WHERE series_id = ?'),
    deleteSeries: db.prepare('DELETE FROM series WHERE id = ?'),
    machineById: db.prepare('SELECT id, name FROM machines WHERE id = ?'),
    machineByName: db.prepare('SELECT id, name FROM machines WHERE name = ?'),
    machineByOldName: db.prepare('SELECT m.id, m.name FROM machine_names o JOIN machines m ON m.id = o.machine_id WHERE o.name = ?'),
    renameMachine: db.prepare('UPDATE machines SET name = ? WHERE id = ?'),
    dropOldName: db.prepare('DELETE FROM machine_names WHERE name = ?'),
    addOldName: db.prepare('INSERT OR REPLACE INTO machine_names (name, machine_id, created_at) VALUES (?, ?, ?)'),
    moveOldNames: db.prepare('UPDATE machine_names SET machine_id = @into WHERE machine_id = @from'),
    // the runs' move drops the outcome sets of both machines in their versions (the trigger of migration 003)
    moveRuns: db.prepare('UPDATE runs SET machine_id = @into WHERE machine_id = @from'),
    mergeMachineStats: db.prepare(`
      INSERT INTO case_stats (version_id, machine_id, case_id, ${COUNTS.join(', ')})
      SELECT version_id, @into, case_id, ${COUNTS.join(', ')} FROM case_stats WHERE machine_id = @from
      ON CONFLICT (version_id, machine_id, case_id) DO UPDATE SET
        ${COUNTS.map(c => `${c} = case_stats.${c} + excluded.${c}`).join(', ')}`),
    dropMachineStats: db.prepare('DELETE FROM case_stats WHERE machine_id = @from'),
    // what the merged machine lacked, it takes from the other; it was seen first when either was
    describeFromBoth: db.prepare(`
      UPDATE machines SET arch = coalesce(machines.arch, f.arch), cpu = coalesce(machines.cpu, f.cpu),
        flags = CASE WHEN machines.flags = '' THEN f.flags ELSE machines.flags END, kernel = coalesce(machines.kernel, f.kernel),
        created_at = min(machines.created_at, f.created_at), updated_at = max(machines.updated_at, f.updated_at)
      FROM (SELECT * FROM machines WHERE id = @from) AS f WHERE machines.id = @into`),
    deleteMachine: db.prepare('DELETE FROM machines WHERE id = ?'),
    versionsRunOn: db.prepare('SELECT DISTINCT version_id FROM runs WHERE machine_id = ?').pluck(),
    writeOutcomeSets: db.prepare(`
      INSERT OR REPLACE INTO outcome_sets (version_id, machine_id, cells)
      SELECT version_id, machine_id, unhex(group_concat(${OUTCOME_CELL_SQL}, '' ORDER BY case_id))
      FROM case_stats WHERE version_id IN (SELECT value FROM json_each(?)) GROUP BY version_id, machine_id`),
    bumpCounter: db.prepare("UPDATE store_state SET value = value + 1 WHERE key = 'write_counter'"),
  }
}
