-- A history page reads its results from results_by_case alone, and the table only for the few that
-- have a reason. A case's results are each in a run of their own, so each in a page of the table
-- of its own: a page of 200 results of a case not read lately read 200 pages from the OS, 7-19 ms
-- on the benchmark's 10M-result store. Compare reads a cell's results (cellResults) the same way.
--
-- The index carries every column of a history entry but the reason, which may be 4 096
-- characters. Which results have one, results_with_reason says: an index of only those rows (fail
-- and skip results with an explanation), so that the table is read for them alone.
DROP INDEX results_by_case;
CREATE INDEX results_by_case ON results (case_id, run_id, seq, status, flags, exit_code, timeout_seconds, line_from, line_to);
CREATE INDEX results_with_reason ON results (case_id, run_id, seq) WHERE reason IS NOT NULL;
