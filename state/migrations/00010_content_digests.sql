-- Content digests: a SHA-256 of each row's desired-state content, kept by
-- PostgreSQL itself (generated columns), so they always match the content
-- whoever writes it. The staleness token (plan.Token) is an HMAC over these
-- digests instead of a re-encoding of every instance's overrides and
-- template on every plan. Digests are never shown: overrides and variables
-- hold secret values, and an unkeyed digest of a short secret can be tested
-- against guesses.
-- docs/schema.md is the reference for this file.

-- +goose Up

-- +goose StatementBegin
-- devarch_content_digest is sha256 of the jsonb's binary form (a version
-- byte and its normalised text: key order and whitespace do not matter)
-- followed by extra as UTF-8. Declared IMMUTABLE for the generated columns:
-- convert_to depends on the database encoding only, which never changes.
CREATE FUNCTION devarch_content_digest(doc jsonb, extra text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN sha256(jsonb_send(doc) || convert_to(extra, 'UTF8'));
-- +goose StatementEnd

ALTER TABLE instances ADD COLUMN content_digest bytea NOT NULL
    GENERATED ALWAYS AS (devarch_content_digest(overrides, '')) STORED;

ALTER TABLE templates ADD COLUMN content_digest bytea NOT NULL
    GENERATED ALWAYS AS (devarch_content_digest(spec, compose)) STORED;

-- A stack's own content beside its name, network and enabled flag (which
-- the token covers directly): its wires and its variables. Each jsonb_send
-- starts with a version byte that JSON text never holds unescaped, so the
-- concatenation is unambiguous.
ALTER TABLE stacks ADD COLUMN content_digest bytea NOT NULL
    GENERATED ALWAYS AS (sha256(jsonb_send(wires) || jsonb_send(variables))) STORED;

-- +goose Down

ALTER TABLE stacks DROP COLUMN content_digest;
ALTER TABLE templates DROP COLUMN content_digest;
ALTER TABLE instances DROP COLUMN content_digest;
DROP FUNCTION devarch_content_digest(jsonb, text);
