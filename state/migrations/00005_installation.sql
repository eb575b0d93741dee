-- The installation: the keys that make staleness tokens and the digests of
-- secrets in container labels, and the host paths every plan and apply of
-- this database builds containers with. docs/schema.md is the reference
-- for this file.

-- +goose Up

-- installation_keys: HMAC-SHA256 keys. Exactly one key is current (not
-- retired) once Migrate has run: Migrate creates it (from crypto/rand, in
-- Go), `devarch-controller key rotate` retires it and creates the next.
-- Retired keys are kept so that a digest made before a rotation can still
-- be checked. The secret never leaves the controller's processes: no view,
-- NOTIFY payload, log or API response carries it.
CREATE TABLE installation_keys (
    id         bigserial   PRIMARY KEY,
    secret     bytea       NOT NULL CONSTRAINT installation_keys_secret_size CHECK (length(secret) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz NULL,
    CONSTRAINT installation_keys_retired_after_created CHECK (retired_at IS NULL OR retired_at >= created_at)
);

-- At most one current key.
CREATE UNIQUE INDEX installation_keys_one_current ON installation_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

-- installation_paths: the host paths config files are materialized under
-- (state_dir) and relative bind mounts resolve under (workspace_dir). One
-- row. serve records its configured paths at start; migrate records its
-- own only while none are stored.
CREATE TABLE installation_paths (
    id            integer     PRIMARY KEY DEFAULT 1 CONSTRAINT installation_paths_one_row CHECK (id = 1),
    state_dir     text        NOT NULL CONSTRAINT installation_paths_state_dir_absolute CHECK (state_dir LIKE '/%'),
    workspace_dir text        NOT NULL CONSTRAINT installation_paths_workspace_dir_absolute CHECK (workspace_dir LIKE '/%'),
    -- Who recorded them last (for example "serve host/pid/replica").
    recorded_by   text        NOT NULL DEFAULT '',
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER installation_paths_touch BEFORE UPDATE ON installation_paths
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION devarch_touch_updated_at();

-- A new key, a retired key or new host paths change every stack's token
-- and possibly every container's spec: NOTIFY devarch_desired with kind
-- "installation" (stack_id null), so controllers plan every stack again.
CREATE TRIGGER installation_keys_notify AFTER INSERT OR UPDATE ON installation_keys
    FOR EACH ROW EXECUTE FUNCTION devarch_notify_desired('installation');
CREATE TRIGGER installation_paths_notify_insert AFTER INSERT ON installation_paths
    FOR EACH ROW EXECUTE FUNCTION devarch_notify_desired('installation');
CREATE TRIGGER installation_paths_notify_update AFTER UPDATE ON installation_paths
    FOR EACH ROW WHEN (OLD.state_dir IS DISTINCT FROM NEW.state_dir OR OLD.workspace_dir IS DISTINCT FROM NEW.workspace_dir)
    EXECUTE FUNCTION devarch_notify_desired('installation');

-- +goose Down
DROP TABLE installation_paths;
DROP TABLE installation_keys;
