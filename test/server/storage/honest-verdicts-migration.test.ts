import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Database } from 'better-sqlite3'
import { openDatabase } from '../../../server/storage/sqlite/database.ts'
import { loadMigrations } from '../../../server/storage/sqlite/migrate.ts'
import { compareVersions } from '../../../server/queries/compare.ts'
import { realFixturesSkip } from '../../helpers/fixtures.ts'
import { cutAfterTwo, panicInLastTest, realLog, warningOnly } from '../../helpers/kvm-variants.ts'
import { ingestText, openTestStore, trendsOn } from '../../helpers/store.ts'

/**
 * Migration 005 fills completeness and kernel trouble for runs stored before it, with the rules
 * ingest applies. The store is written through the real ingest path, then taken back to schema 4
 * (the new columns dropped, the outcome sets in the old `case_id * 4` encoding), then reopened:
 * what the backfill computes must equal what ingest had stored. Logs: the real kvm log and
 * synthetic edits of it (cut short, a panic, a WARNING), as in test/server/queries/honest-verdicts.test.ts.
 */

function variants (): Record<string, string> {
  return { base: realLog().join('\n'), v1: cutAfterTwo(), v2: panicInLastTest(), v3: warningOnly() }
}

async function snapshot (db: Database) {
  const trends = trendsOn(db)
  return {
    runs: db.prepare('SELECT id, complete, incomplete_reasons, not_run FROM runs ORDER BY id').all(),
    collections: db.prepare('SELECT run_id, collection, complete, not_run FROM run_collections ORDER BY run_id, collection').all(),
    trouble: db.prepare('SELECT version_id, machine_id, case_id, trouble FROM case_stats WHERE trouble > 0 ORDER BY 1, 2, 3').all(),
    sets: db.prepare('SELECT version_id, machine_id, hex(cells) AS cells FROM outcome_sets ORDER BY 1, 2').all(),
    compares: await Promise.all([2, 3, 4].map(head => compareVersions(trends, { baseVersionId: 1, headVersionId: head, machine: null, bucket: null, after: null, limit: 100 }))),
  }
}

test('migration 005 backfills completeness and kernel trouble exactly as ingest stores them', { skip: realFixturesSkip }, async (t) => {
  const { db, store, path } = openTestStore(t)
  for (const [version, text] of Object.entries(variants())) {
    await ingestText(store, text, { series: 'KVM: migration', version, machine: 'tdx-lab-1' })
  }
  const stored = await snapshot(db)
  // the stored facts are the ones the verdict tests rely on
  assert.deepEqual((stored.runs as Array<{ complete: number, not_run: number }>).map(run => [run.complete, run.not_run]), [[1, 0], [0, 6], [0, 0], [1, 0]])
  assert.equal(stored.trouble.length, 2, 'svm_vmcall_test in v2 (the panic) and kvm_create_max_vcpus in v3 (the WARNING)')
  assert.deepEqual(stored.compares.map(page => page.counts.not_run), [10, 0, 0])
  assert.deepEqual(stored.compares.map(page => page.counts.new_kernel_trouble), [0, 0, 1])

  // back to schema 4, as a store written before migration 005 was (and before 006, 007 and 008)
  db.exec(`
    DROP INDEX results_with_reason;
    DROP INDEX results_by_case;
    CREATE INDEX results_by_case ON results (case_id, run_id);
    DROP TABLE run_patch_reports;
    DROP TABLE version_patches;
    DROP TABLE version_patch_lists;
    DROP TABLE machine_names;
    DROP INDEX versions_by_message_id;
    DROP TABLE series_names;
    DROP TABLE series_change_ids;
    DROP INDEX case_stats_infrastructure;
    ALTER TABLE case_stats DROP COLUMN infrastructure;
    DROP INDEX case_stats_by_case;
    ALTER TABLE case_stats DROP COLUMN trouble;
    CREATE INDEX case_stats_by_case ON case_stats (case_id, version_id, machine_id, total, pass, fail, skip, xfail, xpass, timeout, error);
    ALTER TABLE runs DROP COLUMN complete;
    ALTER TABLE runs DROP COLUMN incomplete_reasons;
    ALTER TABLE runs DROP COLUMN not_run;
    ALTER TABLE run_collections DROP COLUMN complete;
    ALTER TABLE run_collections DROP COLUMN not_run;
    DELETE FROM outcome_sets;
    INSERT INTO outcome_sets (version_id, machine_id, cells)
      SELECT version_id, machine_id, unhex(group_concat(printf('%08X', case_id * 4
        + CASE WHEN pass + xfail > 0 THEN 1 ELSE 0 END + CASE WHEN fail + xpass + timeout + error > 0 THEN 2 ELSE 0 END), '' ORDER BY case_id))
      FROM case_stats GROUP BY version_id, machine_id;
    DROP TABLE known_issue_audit;
    DROP TABLE known_issue_matches;
    DROP TABLE known_issues;
    PRAGMA user_version = 4;`)
  db.close()

  const reopened = openDatabase(path)
  t.after(() => reopened.close())
  assert.equal(reopened.pragma('user_version', { simple: true }), loadMigrations().at(-1)!.version)
  assert.equal(loadMigrations().at(-1)!.name, '008-history-from-the-index.sql')
  assert.deepEqual(await snapshot(reopened), stored)
  // migration 007 gives each stored series its name as its first name
  assert.deepEqual(reopened.prepare('SELECT name_key, series_id, name FROM series_names').all(), [{ name_key: 'kvm: migration', series_id: 1, name: 'KVM: migration' }])
})
