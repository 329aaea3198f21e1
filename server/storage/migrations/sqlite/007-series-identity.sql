-- Series identity and the patch delta (docs/series.md). A series is recognized by its b4
-- change-ids, then by its versions' cover-letter Message-IDs, then by any of its names
-- (storage/identity-store.ts); each version keeps the list of the series' patches a run reported
-- (storage/patch-store.ts), which compare reads to say what changed between two versions.

-- b4 change-ids of a series: one as a rule, more after an admin merged two series
CREATE TABLE series_change_ids (
  change_id TEXT PRIMARY KEY,
  series_id INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
  created_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX series_change_ids_by_series ON series_change_ids (series_id);

-- Every title a series was uploaded under (and every name an admin gave it), by its lookup key
-- (domain/series-identity.ts seriesNameKey: NFKC, white space collapsed, lower case). A key names
-- one series; filled for stored series by backfills.ts.
CREATE TABLE series_names (
  name_key TEXT PRIMARY KEY,
  series_id INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  created_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX series_names_by_series ON series_names (series_id, created_at);

-- an upload names its cover letter or earlier ones: found without reading every version
CREATE INDEX versions_by_message_id ON versions (message_id);

-- Names a machine had before an admin renamed it or merged it into another: uploads under an old
-- name land on the machine it became.
CREATE TABLE machine_names (
  name TEXT PRIMARY KEY,
  machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
  created_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX machine_names_by_machine ON machine_names (machine_id);

-- The one patch list of a version: the first a run reported. `digest` is over its patch-ids in
-- order, what later reports are compared with.
CREATE TABLE version_patch_lists (
  version_id INTEGER PRIMARY KEY REFERENCES versions(id) ON DELETE CASCADE,
  digest TEXT NOT NULL,
  run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX version_patch_lists_by_run ON version_patch_lists (run_id);

-- Its patches in series order (base..HEAD, oldest first), each with `git patch-id --stable` and the
-- files it touches (JSON array).
CREATE TABLE version_patches (
  version_id INTEGER NOT NULL REFERENCES version_patch_lists(version_id) ON DELETE CASCADE ON UPDATE CASCADE,
  position INTEGER NOT NULL,
  subject TEXT NOT NULL,
  author TEXT,
  patch_id TEXT NOT NULL,
  files TEXT NOT NULL DEFAULT '[]',
  message_id TEXT,
  PRIMARY KEY (version_id, position)
) WITHOUT ROWID;

-- What each run reported: the digest of its list, and the list itself (JSON) when it differs from
-- its version's, kept for a person to read.
CREATE TABLE run_patch_reports (
  run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
  digest TEXT NOT NULL,
  patches INTEGER NOT NULL,
  differing TEXT,
  created_at TEXT NOT NULL
);
