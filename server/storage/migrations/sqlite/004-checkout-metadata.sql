-- What KCIDB calls the checkout of a series version: the tree it was applied to and the hash of
-- its patches, as uploaders state them.
ALTER TABLE versions ADD COLUMN tree_name TEXT;
ALTER TABLE versions ADD COLUMN git_url TEXT;
ALTER TABLE versions ADD COLUMN patchset_hash TEXT;
