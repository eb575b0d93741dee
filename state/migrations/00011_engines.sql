-- Several engines: a stack names the configured engine it runs on. An
-- empty name means the controller's default engine (docs/engines.md).
-- docs/schema.md is the reference for this file.

-- +goose Up

ALTER TABLE stacks ADD COLUMN engine text NOT NULL DEFAULT ''
    CHECK (engine = '' OR engine ~ '^[a-z0-9][a-z0-9_-]{0,62}$');

-- +goose Down

ALTER TABLE stacks DROP COLUMN engine;
