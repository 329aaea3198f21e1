-- The whole schema, in PostgreSQL's dialect: what the SQLite migrations 001..007 build, table for
-- table and column for column, so that a store's statements port one to one. A name in double
-- braces is filled in from the code's one definition of each vocabulary (storage/postgres/migrate.ts).
-- A fresh database needs none of the SQLite migrations' backfills: there is nothing stored yet.
--
-- Choices that hold for every table (storage/postgres/connect.ts reads them back the same way):
-- * ids are `bigint GENERATED ALWAYS AS IDENTITY`: the database picks them, and only a copy that
--   keeps them (ksft migrate-store: token ids are part of the tokens) says OVERRIDING SYSTEM VALUE
--   and then moves each sequence past the copied ids (setval on pg_get_serial_sequence). Unlike
--   SQLite, a rolled-back insert or an `ON CONFLICT DO NOTHING` that found the row still uses up
--   an id: insert what a lookup did not find, and leave ON CONFLICT to catch races.
-- * bigint columns (ids, sums, counts) come back as JS numbers (connect.ts), as SQLite's do;
--   `sum()` of a bigint is numeric and comes back as a string: cast it (`::bigint`).
-- * what the code stamps with its clock (`clock().toISOString()`) is `timestamptz`, read back as
--   the same ISO string (connect.ts). What an uploader says (runs.started_at) stays text, verbatim.
-- * every text column is COLLATE "C": SQLite compares text bytewise, and the answers that page by
--   name (machines, a series' tests, history) must come in the same order from both backends;
--   lower() under "C" folds ASCII only, as SQLite's does.
-- * JSON kept by the code (warnings, plans, paths, scopes of issues, audit changes) stays text, as
--   written and parsed in JS; SQL that needs its items uses jsonb functions on a cast.
-- * flags SQLite keeps as INTEGER 0/1 are `smallint` 0/1, so that `sum(1 - complete)`,
--   `complete = 0` and `row.complete === 1` read the same; a comparison used as a number
--   (`sum(status = 'pass')`) is `count(*) FILTER (WHERE status = 'pass')` or `(...)::int` here.
-- * comma lists (flags, scopes, statuses) stay comma lists; `string_to_array(x, ',')` turns one into
--   an array ('' gives '{}'), which is how the CHECKs below hold them to their vocabulary and how
--   TROUBLED_RESULT_SQL's `instr(',' || flags || ',', ',f,')` reads here:
--   `string_to_array(r.flags, ',') && ARRAY[<TROUBLE_FLAGS>]`.
-- * a b-tree entry holds at most ~2.7 kB after compression. Names that come from logs (collection,
--   test, a subtest's path) can be longer (the parser keeps lines up to 16 KiB): such a name fits
--   SQLite's indexes but fails the unique constraints of cases, series_tests and run_collections
--   here, unless ingest bounds names for both backends.
-- * text cannot hold U+0000, which SQLite's can.

CREATE TABLE series (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text COLLATE "C" NOT NULL UNIQUE,
  created_at timestamptz NOT NULL
);

CREATE TABLE versions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  series_id bigint NOT NULL REFERENCES series(id) ON DELETE CASCADE,
  label text COLLATE "C" NOT NULL,
  -- `base` first, then by the number in the label (RFC before the plain one), unnumbered last
  sort_key double precision NOT NULL,
  message_id text COLLATE "C",
  base_commit text COLLATE "C",
  created_at timestamptz NOT NULL,
  -- the checkout of the version, as KCIDB calls it: the tree it applies to and the hash of its patches
  tree_name text COLLATE "C",
  git_url text COLLATE "C",
  patchset_hash text COLLATE "C",
  UNIQUE (series_id, label)
);
-- an upload names its cover letter or earlier ones: found without reading every version
CREATE INDEX versions_by_message_id ON versions (message_id);

CREATE TABLE machines (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text COLLATE "C" NOT NULL UNIQUE,
  arch text COLLATE "C",
  cpu text COLLATE "C",
  flags text COLLATE "C" NOT NULL DEFAULT '',
  kernel text COLLATE "C",
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);

CREATE TABLE runs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  version_id bigint NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
  machine_id bigint NOT NULL REFERENCES machines(id),
  kernel text COLLATE "C",
  commit_sha text COLLATE "C",
  arch text COLLATE "C",
  cpu text COLLATE "C",
  flags text COLLATE "C" NOT NULL DEFAULT '',
  job_url text COLLATE "C",
  -- what the uploader said, verbatim (validated as a date, not normalized)
  started_at text COLLATE "C",
  created_at timestamptz NOT NULL,
  content_sha256 text COLLATE "C" NOT NULL,
  -- The log's hash and its metadata: the same upload again finds the same run. Unique, so that the
  -- same log reaching two nodes at once is stored once: the second insert waits for the first
  -- transaction and then conflicts (INSERT ... ON CONFLICT (dedup_key) DO NOTHING RETURNING id,
  -- then read the run that won).
  dedup_key text COLLATE "C" NOT NULL UNIQUE,
  log_bytes bigint NOT NULL,
  log_lines integer NOT NULL,
  total integer NOT NULL,
  pass integer NOT NULL,
  fail integer NOT NULL,
  skip integer NOT NULL,
  xfail integer NOT NULL,
  xpass integer NOT NULL,
  timeout integer NOT NULL,
  error integer NOT NULL,
  warnings text COLLATE "C" NOT NULL DEFAULT '[]',
  plans text COLLATE "C" NOT NULL DEFAULT '[]',
  -- 0 when the run stopped early; incomplete_reasons says why (JSON, see ingest/completeness.ts),
  -- not_run counts the tests its plans promised that never arrived
  complete smallint NOT NULL DEFAULT 1 CHECK (complete IN (0, 1)),
  incomplete_reasons text COLLATE "C" NOT NULL DEFAULT '[]',
  not_run integer NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_version ON runs (version_id, machine_id);
CREATE INDEX runs_by_machine ON runs (machine_id);

-- The raw log, verbatim, in deflated chunks that start at a line boundary: in the database, so that
-- every node serves every log.
CREATE TABLE log_chunks (
  run_id bigint NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  seq integer NOT NULL,
  first_line integer NOT NULL,
  line_count integer NOT NULL,
  content bytea NOT NULL,
  PRIMARY KEY (run_id, seq)
);
-- deflated already: PostgreSQL's own compression of large values would spend CPU at every insert for nothing
ALTER TABLE log_chunks ALTER COLUMN content SET STORAGE EXTERNAL;

-- What a result is about: a test (path '[]') or a subtest (path: JSON array of names under it).
-- Outcome sets (below) hold a case id in the 29 bits above the outcome bits: an id past that would
-- be encoded wrong, so it is refused instead.
CREATE TABLE cases (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY CHECK (id < 536870912),
  collection text COLLATE "C" NOT NULL,
  test text COLLATE "C" NOT NULL,
  path text COLLATE "C" NOT NULL DEFAULT '[]',
  UNIQUE (collection, test, path)
);

CREATE TABLE results (
  run_id bigint NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  -- position in the run's tree, depth first; parent_seq is NULL for a test
  seq integer NOT NULL,
  parent_seq integer,
  -- no foreign key to cases: ingest writes only case ids it found or inserted in the same
  -- transaction, cases are never deleted, and the check cost a lookup per result (about a third
  -- of storing a run of 245 000 results); SQLite's ingest suspends its checks for the same reason
  case_id bigint NOT NULL,
  status text COLLATE "C" NOT NULL CHECK (status IN ({{STATUSES}})),
  number integer,
  exit_code integer,
  timeout_seconds integer,
  reason text COLLATE "C",
  -- a comma list of ingest/vocabulary.ts FLAGS, '' for none
  flags text COLLATE "C" NOT NULL DEFAULT '' CHECK (string_to_array(flags, ',') <@ ARRAY[{{FLAGS}}]),
  line_from integer NOT NULL,
  line_to integer NOT NULL,
  -- 1 for a failing result whose evidence says the harness or the lab failed, not the kernel: what
  -- SQLite asks its JS function ksft_infrastructure(status, exit_code, reason) for inside SQL
  -- (storage/database.ts). PostgreSQL cannot call the JS rule and the rule must not be written
  -- twice, so ingest stores its answer here, from queries/verdict.ts infrastructureEvidence (not
  -- null: 1), and the aggregates sum it: SQLite's INFRASTRUCTURE_RESULT_SQL is `r.infrastructure = 1`
  -- here. A copy from SQLite (ksft migrate-store) computes it the same way, and a change of the rule
  -- needs a migration whose backfill recomputes it, as SQLite's 006 recounts case_stats.
  infrastructure smallint NOT NULL DEFAULT 0 CHECK (infrastructure IN (0, 1)),
  PRIMARY KEY (run_id, seq)
);
-- seq too: SQLite's index on this WITHOUT ROWID table carries the primary key, and history pages
-- through (case, run, seq) from the index alone
CREATE INDEX results_by_case ON results (case_id, run_id, seq);

-- Counts every committed write, so that readers can tell (and ETags can say) whether anything
-- changed: in the database, so that a write on one node is seen by every node. Also
-- 'known_issues_revision', inserted by the first change of a known issue.
CREATE TABLE store_state (
  key text COLLATE "C" PRIMARY KEY,
  value bigint NOT NULL
);
INSERT INTO store_state (key, value) VALUES ('write_counter', 0);

-- Upload and admin tokens. Only a hash of each token's secret is kept.
CREATE TABLE tokens (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text COLLATE "C" NOT NULL UNIQUE,
  secret_sha256 text COLLATE "C" NOT NULL CHECK (secret_sha256 ~ '^[0-9a-f]{64}$'),
  -- a comma list of storage/token-store.ts TOKEN_SCOPES, at least one
  scopes text COLLATE "C" NOT NULL CHECK (scopes <> '' AND string_to_array(scopes, ',') <@ ARRAY[{{TOKEN_SCOPES}}]),
  created_at timestamptz NOT NULL,
  last_used_at timestamptz,
  revoked_at timestamptz
);

-- Aggregates the trend queries read instead of the results table (see the SQLite migration
-- 003-trend-aggregates.sql): kept up to date by ingest in the run's transaction, with upserts that
-- add (`total = case_stats.total + excluded.total`), never a read-modify-write in JS, so that
-- concurrent ingests on different nodes keep them equal to a recount.

-- Results counted per status for every (version, machine, case): what matrix, flaky and the
-- compare entries read. `total` is the number of results, one per run that reported the case.
CREATE TABLE case_stats (
  version_id bigint NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
  -- no foreign keys to machines and cases, as results has none to cases: ids ingest and the
  -- admin's merges write from rows of the same transaction; one lookup each per result was half of
  -- this upsert's time. A merged machine's rows move before it goes (identity-admin.ts).
  machine_id bigint NOT NULL,
  case_id bigint NOT NULL,
  total integer NOT NULL,
  pass integer NOT NULL,
  fail integer NOT NULL,
  skip integer NOT NULL,
  xfail integer NOT NULL,
  xpass integer NOT NULL,
  timeout integer NOT NULL,
  error integer NOT NULL,
  -- results of the cell with kernel trouble or a false pass (queries/verdict.ts TROUBLE_FLAGS)
  trouble integer NOT NULL DEFAULT 0,
  -- failing results with infrastructure evidence (results.infrastructure)
  infrastructure integer NOT NULL DEFAULT 0,
  PRIMARY KEY (version_id, machine_id, case_id)
);
-- one test across versions (matrix rows, flaky tests, history counts), covering: no lookups into the table
CREATE INDEX case_stats_by_case ON case_stats (case_id, version_id, machine_id)
  INCLUDE (total, pass, fail, skip, xfail, xpass, timeout, error, trouble);
-- the few cells with a failure: where flaky tests are looked for, without reading the passing rest
CREATE INDEX case_stats_failing ON case_stats (version_id, case_id, machine_id)
  WHERE fail + xpass + timeout + error > 0;
CREATE INDEX case_stats_infrastructure ON case_stats (version_id, machine_id, case_id) WHERE infrastructure > 0;

-- What compare reads: the cases of each (version, machine) with their outcome, one big-endian
-- uint32 per case (case_id * 8 + the outcome bits of storage/outcomes.ts), in case order.
-- SQLite builds a set with `unhex(group_concat(printf('%08X', <cell>), '' ORDER BY case_id))`;
-- the same bytes here: `string_agg(substr(int8send(<cell>), 5), ''::bytea ORDER BY case_id)`
-- (int8send is the 8 big-endian bytes of a bigint; the last 4 are the uint32 a cell fits in).
-- Rewritten from case_stats by ingest for the run's (version, machine).
CREATE TABLE outcome_sets (
  version_id bigint NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
  machine_id bigint NOT NULL REFERENCES machines(id),
  cells bytea NOT NULL,
  PRIMARY KEY (version_id, machine_id)
);
-- A run deleted or moved to another version changes case_stats behind the sets' back: the sets of
-- its (version, machine) go, and readers build them from case_stats until the next upload there.
CREATE FUNCTION runs_drop_outcome_sets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM outcome_sets WHERE version_id = OLD.version_id AND machine_id = OLD.machine_id;
  IF TG_OP = 'UPDATE' THEN
    DELETE FROM outcome_sets WHERE version_id = NEW.version_id AND machine_id = NEW.machine_id;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER runs_deleted_drop_outcome_sets AFTER DELETE ON runs
  FOR EACH ROW EXECUTE FUNCTION runs_drop_outcome_sets();
CREATE TRIGGER runs_moved_drop_outcome_sets AFTER UPDATE OF version_id, machine_id ON runs
  FOR EACH ROW EXECUTE FUNCTION runs_drop_outcome_sets();

-- The tests (not subtests) of each run counted per status and collection: trends filtered by
-- collection, summed over a few rows per run like the runs' own summary columns.
CREATE TABLE run_collections (
  run_id bigint NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  collection text COLLATE "C" NOT NULL,
  total integer NOT NULL,
  pass integer NOT NULL,
  fail integer NOT NULL,
  skip integer NOT NULL,
  xfail integer NOT NULL,
  xpass integer NOT NULL,
  timeout integer NOT NULL,
  error integer NOT NULL,
  complete smallint NOT NULL DEFAULT 1 CHECK (complete IN (0, 1)),
  not_run integer NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, collection)
);

-- Every test a series ever ran, in name order: the matrix pages through a series' tests with this
-- instead of walking the cases of every series.
CREATE TABLE series_tests (
  series_id bigint NOT NULL REFERENCES series(id) ON DELETE CASCADE,
  collection text COLLATE "C" NOT NULL,
  test text COLLATE "C" NOT NULL,
  -- no foreign key to cases, as results has none (see there)
  case_id bigint NOT NULL,
  PRIMARY KEY (series_id, collection, test)
);

-- Known issues (server/domain/known-issues.ts): a failure triaged once, with a matcher and a
-- scope, tied to every stored and future result it explains.
CREATE TABLE known_issues (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  title text COLLATE "C" NOT NULL,
  url text COLLATE "C",
  culprit text COLLATE "C" NOT NULL CHECK (culprit IN ({{CULPRITS}})),
  intermittent smallint NOT NULL DEFAULT 0 CHECK (intermittent IN (0, 1)),
  -- the matcher
  test_glob text COLLATE "C" NOT NULL,
  reason_regex text COLLATE "C",
  log_regex text COLLATE "C",
  exit_code integer,
  -- a comma list of statuses, '' for any
  statuses text COLLATE "C" NOT NULL DEFAULT '' CHECK (string_to_array(statuses, ',') <@ ARRAY[{{STATUSES}}]),
  -- whether the issue also explains kernel trouble (WARNING, BUG...) in what it matches
  kernel_trouble smallint NOT NULL DEFAULT 0 CHECK (kernel_trouble IN (0, 1)),
  -- the scope: JSON arrays (empty for all) and optional patterns
  series text COLLATE "C" NOT NULL DEFAULT '[]',
  machines text COLLATE "C" NOT NULL DEFAULT '[]',
  arch text COLLATE "C",
  cpu_flags text COLLATE "C" NOT NULL DEFAULT '',
  kernel_glob text COLLATE "C",
  versions_from text COLLATE "C",
  versions_to text COLLATE "C",
  created_at timestamptz NOT NULL,
  created_by text COLLATE "C" NOT NULL,
  updated_at timestamptz NOT NULL,
  -- NULL while active; a resolved issue keeps its matches but no longer triages them
  resolved_at timestamptz,
  -- moves with every change of the issue; its matches are complete for matched_generation (a
  -- rematch interrupted by a crash leaves it behind, and the server catches up at start)
  generation integer NOT NULL DEFAULT 1,
  matched_generation integer NOT NULL DEFAULT 0
);

-- Results (run_id, seq) an issue matched: at ingest for active issues, and over every stored
-- result when an issue is created or its matcher or scope edited.
CREATE TABLE known_issue_matches (
  run_id bigint NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  seq integer NOT NULL,
  issue_id bigint NOT NULL REFERENCES known_issues(id) ON DELETE CASCADE,
  PRIMARY KEY (run_id, seq, issue_id)
);
CREATE INDEX known_issue_matches_by_issue ON known_issue_matches (issue_id, run_id);

-- Who changed an issue, when, and what: each field's value before and after (JSON).
CREATE TABLE known_issue_audit (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  issue_id bigint NOT NULL REFERENCES known_issues(id) ON DELETE CASCADE,
  at timestamptz NOT NULL,
  actor text COLLATE "C" NOT NULL,
  action text COLLATE "C" NOT NULL CHECK (action IN ({{AUDIT_ACTIONS}})),
  changes text COLLATE "C" NOT NULL
);
CREATE INDEX known_issue_audit_by_issue ON known_issue_audit (issue_id, id);

-- Series identity (docs/series.md): a series is recognized by its b4 change-ids, then by its
-- versions' cover-letter Message-IDs, then by any of its names (storage/identity-store.ts). The
-- keys below are what makes two nodes that see a new series at once create it once: the second
-- insert conflicts, and the upload finds the series the first one made.

-- b4 change-ids of a series: one as a rule, more after an admin merged two series
CREATE TABLE series_change_ids (
  change_id text COLLATE "C" PRIMARY KEY,
  series_id bigint NOT NULL REFERENCES series(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL
);
CREATE INDEX series_change_ids_by_series ON series_change_ids (series_id);

-- Every title a series was uploaded under (and every name an admin gave it), by its lookup key
-- (domain/series-identity.ts seriesNameKey: NFKC, white space collapsed, lower case). A key names
-- one series.
CREATE TABLE series_names (
  name_key text COLLATE "C" PRIMARY KEY,
  series_id bigint NOT NULL REFERENCES series(id) ON DELETE CASCADE,
  name text COLLATE "C" NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX series_names_by_series ON series_names (series_id, created_at);

-- Names a machine had before an admin renamed it or merged it into another: uploads under an old
-- name land on the machine it became.
CREATE TABLE machine_names (
  name text COLLATE "C" PRIMARY KEY,
  machine_id bigint NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL
);
CREATE INDEX machine_names_by_machine ON machine_names (machine_id);

-- The one patch list of a version: the first a run reported (the key: of two runs reporting at
-- once, one list wins). `digest` is over its patch-ids in order, what later reports are compared with.
CREATE TABLE version_patch_lists (
  version_id bigint PRIMARY KEY REFERENCES versions(id) ON DELETE CASCADE,
  digest text COLLATE "C" NOT NULL,
  run_id bigint REFERENCES runs(id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX version_patch_lists_by_run ON version_patch_lists (run_id);

-- Its patches in series order (base..HEAD, oldest first), each with `git patch-id --stable` and the
-- files it touches (JSON array).
CREATE TABLE version_patches (
  version_id bigint NOT NULL REFERENCES version_patch_lists(version_id) ON DELETE CASCADE ON UPDATE CASCADE,
  position integer NOT NULL,
  subject text COLLATE "C" NOT NULL,
  author text COLLATE "C",
  patch_id text COLLATE "C" NOT NULL,
  files text COLLATE "C" NOT NULL DEFAULT '[]',
  message_id text COLLATE "C",
  PRIMARY KEY (version_id, position)
);

-- What each run reported: the digest of its list, and the list itself (JSON) when it differs from
-- its version's, kept for a person to read.
CREATE TABLE run_patch_reports (
  run_id bigint PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
  digest text COLLATE "C" NOT NULL,
  patches integer NOT NULL,
  differing text COLLATE "C",
  created_at timestamptz NOT NULL
);
