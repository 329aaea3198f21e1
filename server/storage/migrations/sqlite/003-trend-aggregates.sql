-- Aggregates the trend queries read instead of the results table: a store of ten million results
-- must answer a trend in milliseconds and a compare in well under a second. RunStore.ingestRun
-- keeps them up to date in the same transaction as the run; the statements below fill them for
-- runs stored before this migration, with the same rules.

-- Results counted per status for every (version, machine, case): what matrix, flaky and the
-- compare entries read. `total` is the number of results, one per run that reported the case.
CREATE TABLE case_stats (
  version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
  machine_id INTEGER NOT NULL REFERENCES machines(id),
  case_id INTEGER NOT NULL REFERENCES cases(id),
  total INTEGER NOT NULL,
  pass INTEGER NOT NULL,
  fail INTEGER NOT NULL,
  skip INTEGER NOT NULL,
  xfail INTEGER NOT NULL,
  xpass INTEGER NOT NULL,
  timeout INTEGER NOT NULL,
  error INTEGER NOT NULL,
  PRIMARY KEY (version_id, machine_id, case_id)
) WITHOUT ROWID;
-- one test across versions (matrix rows, flaky tests, history counts), covering: no lookups into the table
CREATE INDEX case_stats_by_case ON case_stats (case_id, version_id, machine_id, total, pass, fail, skip, xfail, xpass, timeout, error);
-- the few cells with a failure: where flaky tests are looked for, without reading the passing rest
CREATE INDEX case_stats_failing ON case_stats (version_id, case_id, machine_id)
  WHERE fail + xpass + timeout + error > 0;

-- What compare reads: the cases of each (version, machine) with their outcome, one big-endian
-- uint32 per case (case_id * 4, + 1 when some result passed, + 2 when some failed), in case order.
-- Comparing two versions then merges a few blobs instead of reading tens of thousands of rows.
-- Rewritten from case_stats by ingestRun for the run's (version, machine).
CREATE TABLE outcome_sets (
  version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
  machine_id INTEGER NOT NULL REFERENCES machines(id),
  cells BLOB NOT NULL,
  PRIMARY KEY (version_id, machine_id)
);
-- A run deleted or moved to another version changes case_stats behind the sets' back: the sets of
-- its (version, machine) go, and readers build them from case_stats until the next upload there.
CREATE TRIGGER runs_deleted_drop_outcome_sets AFTER DELETE ON runs BEGIN
  DELETE FROM outcome_sets WHERE version_id = OLD.version_id AND machine_id = OLD.machine_id;
END;
CREATE TRIGGER runs_moved_drop_outcome_sets AFTER UPDATE OF version_id, machine_id ON runs BEGIN
  DELETE FROM outcome_sets WHERE (version_id = OLD.version_id AND machine_id = OLD.machine_id)
    OR (version_id = NEW.version_id AND machine_id = NEW.machine_id);
END;

-- The tests (not subtests) of each run counted per status and collection: trends filtered by
-- collection, summed over a few rows per run like the runs' own summary columns.
CREATE TABLE run_collections (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  collection TEXT NOT NULL,
  total INTEGER NOT NULL,
  pass INTEGER NOT NULL,
  fail INTEGER NOT NULL,
  skip INTEGER NOT NULL,
  xfail INTEGER NOT NULL,
  xpass INTEGER NOT NULL,
  timeout INTEGER NOT NULL,
  error INTEGER NOT NULL,
  PRIMARY KEY (run_id, collection)
) WITHOUT ROWID;

-- Every test a series ever ran, in name order: the matrix pages through a series' tests with this
-- instead of walking the cases of every series.
CREATE TABLE series_tests (
  series_id INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
  collection TEXT NOT NULL,
  test TEXT NOT NULL,
  case_id INTEGER NOT NULL REFERENCES cases(id),
  PRIMARY KEY (series_id, collection, test)
) WITHOUT ROWID;

INSERT INTO case_stats (version_id, machine_id, case_id, total, pass, fail, skip, xfail, xpass, timeout, error)
SELECT ru.version_id, ru.machine_id, r.case_id, count(*),
  sum(r.status = 'pass'), sum(r.status = 'fail'), sum(r.status = 'skip'), sum(r.status = 'xfail'),
  sum(r.status = 'xpass'), sum(r.status = 'timeout'), sum(r.status = 'error')
FROM results r JOIN runs ru ON ru.id = r.run_id
GROUP BY ru.version_id, ru.machine_id, r.case_id;

INSERT INTO outcome_sets (version_id, machine_id, cells)
SELECT version_id, machine_id, unhex(group_concat(printf('%08X', case_id * 4
    + CASE WHEN pass + xfail > 0 THEN 1 ELSE 0 END + CASE WHEN fail + xpass + timeout + error > 0 THEN 2 ELSE 0 END), '' ORDER BY case_id))
FROM case_stats
GROUP BY version_id, machine_id;

INSERT INTO run_collections (run_id, collection, total, pass, fail, skip, xfail, xpass, timeout, error)
SELECT r.run_id, c.collection, count(*),
  sum(r.status = 'pass'), sum(r.status = 'fail'), sum(r.status = 'skip'), sum(r.status = 'xfail'),
  sum(r.status = 'xpass'), sum(r.status = 'timeout'), sum(r.status = 'error')
FROM results r JOIN cases c ON c.id = r.case_id
WHERE r.parent_seq IS NULL
GROUP BY r.run_id, c.collection;

INSERT OR IGNORE INTO series_tests (series_id, collection, test, case_id)
SELECT DISTINCT v.series_id, c.collection, c.test, c.id
FROM results r JOIN runs ru ON ru.id = r.run_id JOIN versions v ON v.id = ru.version_id JOIN cases c ON c.id = r.case_id
WHERE r.parent_seq IS NULL;
