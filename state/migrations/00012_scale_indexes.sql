-- Indexes for many stacks in one database (10,000 stacks and more).
-- docs/schema.md is the reference for this file.
--
-- stacks_name_c_listed: the listed stacks (live and deleting: removed_at
-- IS NULL, as Store.Stacks reads them) in byte order of names (COLLATE
-- "C", as every stack list reads them) and then id, for the full pass and
-- for GET /api/v1/stacks?limit=&cursor= pages (the stacks after a
-- cursor's name and id). stacks_name_live (00001) indexes live names in
-- the database's collation, which a "C" order cannot use unless the
-- database's collation is C.
--
-- instances_stack_name_c_live: the live instances of a set of stacks in
-- (stack, name byte order), as loadStacks reads them: the full pass reads
-- every stack's instances in that order without a sort.
--
-- approvals_status: the approval counts per status (a metric refreshed on
-- every full pass) from the index alone, not the whole approval history.

-- +goose Up
CREATE INDEX stacks_name_c_listed ON stacks ((name COLLATE "C"), id) WHERE removed_at IS NULL;
CREATE INDEX instances_stack_name_c_live ON instances (stack_id, (name COLLATE "C")) WHERE deleted_at IS NULL;
CREATE INDEX approvals_status ON approvals (status);

-- +goose Down
DROP INDEX approvals_status;
DROP INDEX instances_stack_name_c_live;
DROP INDEX stacks_name_c_listed;
