-- Stack list pages: GET /api/v1/stacks?limit=&cursor= reads live stacks in
-- byte order of their names (COLLATE "C", as every stack list does) after
-- a cursor. stacks_name_live (00001) indexes names in the database's
-- collation, which the "C" order cannot use unless the database's
-- collation is C; this index serves the page in any database.
-- docs/schema.md is the reference for this file.

-- +goose Up
CREATE INDEX stacks_name_c_live ON stacks ((name COLLATE "C")) WHERE deleted_at IS NULL;

-- +goose Down
DROP INDEX stacks_name_c_live;
