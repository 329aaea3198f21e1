-- The two tables an upload writes a row into per result keep no foreign key to their parent: the
-- check of results.run_id and of case_stats.version_id looked the parent up once per row, 3 s of
-- the 6.5 s that storing a run of 245 000 results took (EXPLAIN ANALYZE: 1.45 s in
-- case_stats_version_id_fkey's trigger alone). Ingest writes both from ids of its own transaction:
-- the run it has just inserted, and the version its run's row references, whose foreign key (one
-- check per run) holds the version against a concurrent delete until the upload commits. SQLite's
-- ingest suspends its checks for the same reason.
--
-- Deleting a run or a version still takes its rows along, as ON DELETE CASCADE did: a trigger on
-- the parent deletes them before the parent row goes, having waited for any upload that holds it.
ALTER TABLE results DROP CONSTRAINT results_run_id_fkey;
ALTER TABLE case_stats DROP CONSTRAINT case_stats_version_id_fkey;

-- The rows of the table TG_ARGV[0] whose column TG_ARGV[1] names the parent row being deleted.
CREATE FUNCTION delete_child_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('DELETE FROM %I WHERE %I = $1', TG_ARGV[0], TG_ARGV[1]) USING OLD.id;
  RETURN OLD;
END
$$;
CREATE TRIGGER runs_delete_results BEFORE DELETE ON runs FOR EACH ROW EXECUTE FUNCTION delete_child_rows('results', 'run_id');
CREATE TRIGGER versions_delete_case_stats BEFORE DELETE ON versions FOR EACH ROW EXECUTE FUNCTION delete_child_rows('case_stats', 'version_id');
