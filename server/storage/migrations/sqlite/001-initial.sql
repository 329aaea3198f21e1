-- The core model: a patch series, its versions, the machines that ran it, and one run per
-- uploaded log with its tests and subtests. `{{STATUSES}}` is filled in from ingest/vocabulary.ts.

CREATE TABLE series (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
);

CREATE TABLE versions (
  id INTEGER PRIMARY KEY,
  series_id INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
  label TEXT NOT NULL,
  -- `base` first, then by the number in the label (RFC before the plain one), unnumbered last
  sort_key REAL NOT NULL,
  message_id TEXT,
  base_commit TEXT,
  created_at TEXT NOT NULL,
  UNIQUE (series_id, label)
);

CREATE TABLE machines (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  arch TEXT,
  cpu TEXT,
  flags TEXT NOT NULL DEFAULT '',
  kernel TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
  machine_id INTEGER NOT NULL REFERENCES machines(id),
  kernel TEXT,
  commit_sha TEXT,
  arch TEXT,
  cpu TEXT,
  flags TEXT NOT NULL DEFAULT '',
  job_url TEXT,
  started_at TEXT,
  created_at TEXT NOT NULL,
  content_sha256 TEXT NOT NULL,
  -- the log's hash and its metadata: the same upload again finds the same run
  dedup_key TEXT NOT NULL UNIQUE,
  log_bytes INTEGER NOT NULL,
  log_lines INTEGER NOT NULL,
  total INTEGER NOT NULL,
  pass INTEGER NOT NULL,
  fail INTEGER NOT NULL,
  skip INTEGER NOT NULL,
  xfail INTEGER NOT NULL,
  xpass INTEGER NOT NULL,
  timeout INTEGER NOT NULL,
  error INTEGER NOT NULL,
  warnings TEXT NOT NULL DEFAULT '[]',
  plans TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX runs_by_version ON runs (version_id, machine_id);
CREATE INDEX runs_by_machine ON runs (machine_id);

-- The raw log, verbatim, in deflated chunks that start at a line boundary.
CREATE TABLE log_chunks (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  first_line INTEGER NOT NULL,
  line_count INTEGER NOT NULL,
  content BLOB NOT NULL,
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

-- What a result is about: a test (path '[]') or a subtest (path: JSON array of names under it).
CREATE TABLE cases (
  id INTEGER PRIMARY KEY,
  collection TEXT NOT NULL,
  test TEXT NOT NULL,
  path TEXT NOT NULL DEFAULT '[]',
  UNIQUE (collection, test, path)
);

CREATE TABLE results (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  -- position in the run's tree, depth first; parent_seq is NULL for a test
  seq INTEGER NOT NULL,
  parent_seq INTEGER,
  case_id INTEGER NOT NULL REFERENCES cases(id),
  status TEXT NOT NULL CHECK (status IN ({{STATUSES}})),
  number INTEGER,
  exit_code INTEGER,
  timeout_seconds INTEGER,
  reason TEXT,
  flags TEXT NOT NULL DEFAULT '',
  line_from INTEGER NOT NULL,
  line_to INTEGER NOT NULL,
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE INDEX results_by_case ON results (case_id, run_id);

-- Counts every committed write, so that readers can tell (and ETags can say) whether anything changed.
CREATE TABLE store_state (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT INTO store_state (key, value) VALUES ('write_counter', 0);
