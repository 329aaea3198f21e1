-- Known issues (server/domain/known-issues.ts): a failure triaged once, with a matcher and a
-- scope, tied to every stored and future result it explains. A match never changes a result; the
-- compare reads the matches of active issues (queries/verdict.ts triagedBucket).

CREATE TABLE known_issues (
  id INTEGER PRIMARY KEY,
  title TEXT NOT NULL,
  url TEXT,
  culprit TEXT NOT NULL CHECK (culprit IN ({{CULPRITS}})),
  intermittent INTEGER NOT NULL DEFAULT 0 CHECK (intermittent IN (0, 1)),
  -- the matcher
  test_glob TEXT NOT NULL,
  reason_regex TEXT,
  log_regex TEXT,
  exit_code INTEGER,
  statuses TEXT NOT NULL DEFAULT '',
  -- whether the issue also explains kernel trouble (WARNING, BUG...) in what it matches
  kernel_trouble INTEGER NOT NULL DEFAULT 0 CHECK (kernel_trouble IN (0, 1)),
  -- the scope: JSON arrays (empty for all) and optional patterns
  series TEXT NOT NULL DEFAULT '[]',
  machines TEXT NOT NULL DEFAULT '[]',
  arch TEXT,
  cpu_flags TEXT NOT NULL DEFAULT '',
  kernel_glob TEXT,
  versions_from TEXT,
  versions_to TEXT,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  -- NULL while active; a resolved issue keeps its matches but no longer triages them
  resolved_at TEXT,
  -- moves with every change of the issue; its matches are complete for matched_generation (a
  -- rematch interrupted by a crash leaves it behind, and the server catches up at start)
  generation INTEGER NOT NULL DEFAULT 1,
  matched_generation INTEGER NOT NULL DEFAULT 0
);

-- Results (run_id, seq) an issue matched: at ingest for active issues, and over every stored
-- result when an issue is created or its matcher or scope edited.
CREATE TABLE known_issue_matches (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  issue_id INTEGER NOT NULL REFERENCES known_issues(id) ON DELETE CASCADE,
  PRIMARY KEY (run_id, seq, issue_id)
) WITHOUT ROWID;
CREATE INDEX known_issue_matches_by_issue ON known_issue_matches (issue_id, run_id);

-- Who changed an issue, when, and what: each field's value before and after (JSON).
CREATE TABLE known_issue_audit (
  id INTEGER PRIMARY KEY,
  issue_id INTEGER NOT NULL REFERENCES known_issues(id) ON DELETE CASCADE,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ({{AUDIT_ACTIONS}})),
  changes TEXT NOT NULL
);
CREATE INDEX known_issue_audit_by_issue ON known_issue_audit (issue_id, id);

-- Failing results whose evidence says the harness or the lab failed, not the kernel (queries/verdict.ts
-- infrastructureEvidence, as the SQL function ksft_infrastructure): counted per cell like the
-- statuses, so that compare triages without reading results. Filled for stored runs by backfills.ts.
ALTER TABLE case_stats ADD COLUMN infrastructure INTEGER NOT NULL DEFAULT 0;
CREATE INDEX case_stats_infrastructure ON case_stats (version_id, machine_id, case_id) WHERE infrastructure > 0;
