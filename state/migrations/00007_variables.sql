-- Compose variables: each stack's variables (the stack file's variables:
-- section, as a JSON array of {name, value, secret}), and the compose file
-- of a template that references variables, which each stack resolves with
-- its own (catalog.Resolve). Empty for a template without references.
-- docs/schema.md is the reference for this file.

-- +goose Up

ALTER TABLE stacks ADD COLUMN variables jsonb NOT NULL DEFAULT '[]'
    CONSTRAINT stacks_variables_array CHECK (jsonb_typeof(variables) = 'array');

ALTER TABLE templates ADD COLUMN compose text NOT NULL DEFAULT '';

-- +goose Down

ALTER TABLE templates DROP COLUMN compose;

ALTER TABLE stacks DROP COLUMN variables;
