-- Honest verdicts: whether each run finished, and kernel trouble counted where compare and the
-- matrix read. Filled for runs stored before this migration by backfills.ts, with the same rules
-- ingest applies (ingest/completeness.ts, queries/verdict.ts).

-- 0 when the run stopped early; incomplete_reasons says why (JSON, see ingest/completeness.ts),
-- not_run counts the tests its plans promised that never arrived.
ALTER TABLE runs ADD COLUMN complete INTEGER NOT NULL DEFAULT 1 CHECK (complete IN (0, 1));
ALTER TABLE runs ADD COLUMN incomplete_reasons TEXT NOT NULL DEFAULT '[]';
ALTER TABLE runs ADD COLUMN not_run INTEGER NOT NULL DEFAULT 0;

-- the same per collection of a run
ALTER TABLE run_collections ADD COLUMN complete INTEGER NOT NULL DEFAULT 1 CHECK (complete IN (0, 1));
ALTER TABLE run_collections ADD COLUMN not_run INTEGER NOT NULL DEFAULT 0;

-- results of the cell with kernel trouble or a false pass (queries/verdict.ts TROUBLE_FLAGS)
ALTER TABLE case_stats ADD COLUMN trouble INTEGER NOT NULL DEFAULT 0;

-- the matrix reads trouble too: keep the index covering
DROP INDEX case_stats_by_case;
CREATE INDEX case_stats_by_case ON case_stats (case_id, version_id, machine_id, total, pass, fail, skip, xfail, xpass, timeout, error, trouble);

-- outcome sets gain a third bit (case_id * 8 + bits): rebuilt by the backfill
DELETE FROM outcome_sets;
