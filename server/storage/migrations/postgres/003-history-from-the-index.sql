-- A history page reads its results from results_by_case alone, and the table only for the few that
-- have a reason. Its rows are each in a run of their own, so in a heap page of their own: a page
-- of 200 results of a case not read lately read 200 heap pages, 10-14 ms on the benchmark's
-- 10M-result store (45-60 µs a read on its machine), and the same from the index takes 1.6-2.2 ms.
--
-- The index carries every column of a history entry but the reason, which may be 4 096
-- characters and so past the size of a B-tree entry. Which results have one, results_with_reason
-- says: an index of only those rows (fail and skip results with an explanation, 0.5% of the
-- benchmark's), so that the heap is read for them alone.
--
-- Rebuilding the index takes about 11 s per 10M results, with uploads held until it is done.
DROP INDEX results_by_case;
CREATE INDEX results_by_case ON results (case_id, run_id, seq)
  INCLUDE (status, flags, exit_code, timeout_seconds, line_from, line_to);
CREATE INDEX results_with_reason ON results (case_id, run_id, seq) WHERE reason IS NOT NULL;
