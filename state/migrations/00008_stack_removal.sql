-- Stack removal: a deleted stack (deleted_at set) stays plannable until
-- the removal of its containers, networks and (when asked) named volumes
-- has been applied; removed_at then finalises it and it disappears from
-- every list. remove_volumes asks that removal to remove the stack's named
-- volumes too (stack delete --volumes).
-- docs/schema.md is the reference for this file.

-- +goose Up

ALTER TABLE stacks ADD COLUMN remove_volumes boolean NOT NULL DEFAULT false;
ALTER TABLE stacks ADD COLUMN removed_at timestamptz NULL
    CONSTRAINT stacks_removed_after_delete CHECK (removed_at IS NULL OR deleted_at IS NOT NULL);

-- "Which deleted stacks still have a removal to apply?"
CREATE INDEX stacks_deleting ON stacks (name) WHERE deleted_at IS NOT NULL AND removed_at IS NULL;

-- +goose Down

DROP INDEX stacks_deleting;
ALTER TABLE stacks DROP COLUMN removed_at;
ALTER TABLE stacks DROP COLUMN remove_volumes;
