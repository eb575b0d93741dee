-- devarch-controller desired state, schema version 1.
--
-- Conventions used throughout:
--   * ids are bigserial; containers carry them in labels, so they are the
--     identity of stacks and instances (names may be reused after a delete).
--   * every timestamp is timestamptz; updated_at is maintained by the
--     devarch_touch_updated_at trigger and moves only when a row really changed.
--   * stacks and instances are soft-deleted (deleted_at); a live row is one
--     whose deleted_at IS NULL. Names are unique among live rows only.
--   * spec / overrides / plan columns are jsonb and may hold secret values
--     (overrides) or redacted data (plan). NOTIFY payloads never carry them.
-- docs/schema.md is the reference for this file.

-- +goose Up

-- ---------------------------------------------------------------------------
-- Trigger functions
-- ---------------------------------------------------------------------------

-- devarch_touch_updated_at sets updated_at to the transaction time. The
-- triggers that call it fire only WHEN (OLD.* IS DISTINCT FROM NEW.*), so an
-- UPDATE that changes nothing leaves updated_at alone.
-- +goose StatementBegin
CREATE FUNCTION devarch_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- devarch_notify_desired sends {"kind":K,"id":N,"stack_id":N|null} on
-- channel devarch_desired. K is the trigger's first argument (stack,
-- instance or template). stack_id is the stack's own id for a stack, the
-- owning stack for an instance and null for a template.
-- +goose StatementBegin
CREATE FUNCTION devarch_notify_desired() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    kind     text := TG_ARGV[0];
    row_id   bigint;
    stack_id bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        row_id := OLD.id;
        IF kind = 'stack' THEN
            stack_id := OLD.id;
        ELSIF kind = 'instance' THEN
            stack_id := OLD.stack_id;
        END IF;
    ELSE
        row_id := NEW.id;
        IF kind = 'stack' THEN
            stack_id := NEW.id;
        ELSIF kind = 'instance' THEN
            stack_id := NEW.stack_id;
        END IF;
    END IF;
    PERFORM pg_notify('devarch_desired',
        jsonb_build_object('kind', kind, 'id', row_id, 'stack_id', stack_id)::text);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- devarch_notify_approval sends {"id":N,"stack_id":N,"status":S} on channel
-- devarch_approvals.
-- +goose StatementBegin
CREATE FUNCTION devarch_notify_approval() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('devarch_approvals',
            jsonb_build_object('id', OLD.id, 'stack_id', OLD.stack_id, 'status', OLD.status)::text);
    ELSE
        PERFORM pg_notify('devarch_approvals',
            jsonb_build_object('id', NEW.id, 'stack_id', NEW.stack_id, 'status', NEW.status)::text);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- devarch_notify_approval_event sends {"approval_id":N,"seq":N} on channel
-- devarch_approval_events.
-- +goose StatementBegin
CREATE FUNCTION devarch_notify_approval_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('devarch_approval_events',
        jsonb_build_object('approval_id', NEW.approval_id, 'seq', NEW.seq)::text);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- ---------------------------------------------------------------------------
-- templates: the catalog. One compose service each.
-- ---------------------------------------------------------------------------
CREATE TABLE templates (
    id          bigserial   PRIMARY KEY,
    -- Catalog name, such as "postgres"; instances refer to it on import.
    name        text        NOT NULL UNIQUE CONSTRAINT templates_name_not_blank CHECK (btrim(name) <> ''),
    category    text        NOT NULL DEFAULT '',
    -- Where the template was imported from (informational).
    source_path text        NOT NULL DEFAULT '',
    -- spec.ServiceSpec as JSON.
    spec        jsonb       NOT NULL CONSTRAINT templates_spec_object CHECK (jsonb_typeof(spec) = 'object'),
    -- Content hash of name, category and spec (catalog.Digest). An import
    -- whose digest equals the stored one writes nothing.
    digest      text        NOT NULL CONSTRAINT templates_digest_not_blank CHECK (digest <> ''),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------
-- stacks: a named group of instances sharing a network.
-- ---------------------------------------------------------------------------
CREATE TABLE stacks (
    id           bigserial   PRIMARY KEY,
    -- DNS-safe: lower-case letters, digits and '-', starting and ending with
    -- a letter or digit, at most 63 characters (spec.ValidateName).
    name         text        NOT NULL CONSTRAINT stacks_name_dns CHECK (
                                 name ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$' AND length(name) <= 63),
    description  text        NOT NULL DEFAULT '',
    -- '' means the default network devarch-<name>-net.
    network_name text        NOT NULL DEFAULT '',
    enabled      boolean     NOT NULL DEFAULT true,
    -- []spec.Wire as JSON (stored, not applied yet).
    wires        jsonb       NOT NULL DEFAULT '[]' CONSTRAINT stacks_wires_array CHECK (jsonb_typeof(wires) = 'array'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    -- Soft delete: set once, never cleared. A deleted stack keeps its id so
    -- the controller can still remove the containers labeled with it.
    deleted_at   timestamptz NULL
);

-- Names are unique among live stacks; a deleted stack's name can be reused.
CREATE UNIQUE INDEX stacks_name_live ON stacks (name) WHERE deleted_at IS NULL;

-- ---------------------------------------------------------------------------
-- instances: one service of a stack = template + overrides.
-- ---------------------------------------------------------------------------
CREATE TABLE instances (
    id          bigserial   PRIMARY KEY,
    stack_id    bigint      NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
    name        text        NOT NULL CONSTRAINT instances_name_dns CHECK (
                                name ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$' AND length(name) <= 63),
    -- NULL: the instance carries a full spec in overrides.
    template_id bigint      NULL REFERENCES templates (id) ON DELETE RESTRICT,
    -- spec.Overrides as JSON. May hold secret env values: never log it and
    -- never put it in a NOTIFY payload.
    overrides   jsonb       NOT NULL DEFAULT '{}' CONSTRAINT instances_overrides_object CHECK (jsonb_typeof(overrides) = 'object'),
    enabled     boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz NULL
);

-- Instance names are unique among the live instances of a stack. The index
-- also serves "live instances of stack N".
CREATE UNIQUE INDEX instances_stack_name_live ON instances (stack_id, name) WHERE deleted_at IS NULL;
-- Supports the foreign key (template deletes) and "which instances use template T".
CREATE INDEX instances_template_id ON instances (template_id) WHERE template_id IS NOT NULL;

-- ---------------------------------------------------------------------------
-- approvals: a user's go-ahead to apply one plan to one stack.
-- ---------------------------------------------------------------------------
CREATE TABLE approvals (
    id           bigserial   PRIMARY KEY,
    stack_id     bigint      NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
    -- Staleness token of the desired state the plan was computed from.
    token        text        NOT NULL CONSTRAINT approvals_token_not_blank CHECK (token <> ''),
    -- The REDACTED plan the user saw (no secret values).
    plan         jsonb       NOT NULL,
    requested_by text        NOT NULL,
    status       text        NOT NULL DEFAULT 'pending' CONSTRAINT approvals_status_known CHECK (status IN (
                                 'pending', 'applying', 'succeeded', 'failed', 'stale',
                                 'conflict', 'interrupted', 'expired', 'cancelled')),
    -- Full sentence for the user: what happened and what to do next.
    message      text        NOT NULL DEFAULT '',
    -- Outcome details (for example compose's error output), redacted.
    result       jsonb       NULL,
    -- Identity of the replica that claimed the approval.
    claimed_by   text        NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz NULL,
    finished_at  timestamptz NULL,
    -- NULL: never expires.
    expires_at   timestamptz NULL,
    -- A claimed approval says who claimed it and when.
    CONSTRAINT approvals_applying_claimed CHECK (
        status <> 'applying' OR (claimed_by IS NOT NULL AND started_at IS NOT NULL)),
    -- finished_at is set exactly when the approval reached a final status.
    CONSTRAINT approvals_finished_final CHECK (
        (finished_at IS NULL) = (status IN ('pending', 'applying')))
);

-- The claim query: oldest pending approvals first.
CREATE INDEX approvals_pending ON approvals (created_at) WHERE status = 'pending';
-- "Is this stack being applied?" and the interrupted-approval sweep.
CREATE INDEX approvals_applying_stack ON approvals (stack_id) WHERE status = 'applying';
-- History of a stack, newest first.
CREATE INDEX approvals_stack_created ON approvals (stack_id, created_at DESC);

-- ---------------------------------------------------------------------------
-- approval_events: per-container progress of an apply, append-only.
-- ---------------------------------------------------------------------------
CREATE TABLE approval_events (
    approval_id bigint      NOT NULL REFERENCES approvals (id) ON DELETE CASCADE,
    -- 1, 2, 3... within one approval.
    seq         integer     NOT NULL CONSTRAINT approval_events_seq_positive CHECK (seq > 0),
    at          timestamptz NOT NULL DEFAULT now(),
    container   text        NOT NULL DEFAULT '',
    action      text        NOT NULL DEFAULT '',
    status      text        NOT NULL DEFAULT '',
    message     text        NOT NULL DEFAULT '',
    PRIMARY KEY (approval_id, seq)
);

-- ---------------------------------------------------------------------------
-- stack_status: the reconcile loop's latest view of each stack.
-- ---------------------------------------------------------------------------
CREATE TABLE stack_status (
    stack_id          bigint      PRIMARY KEY REFERENCES stacks (id) ON DELETE CASCADE,
    -- Summary condition set by reconcile: InSync, Drifted, Applying or Error
    -- (Unknown until the first reconcile).
    condition         text        NOT NULL DEFAULT 'Unknown',
    -- Counts such as {"add":1,"modify":0,"remove":0,"running":3}.
    counts            jsonb       NOT NULL DEFAULT '{}' CONSTRAINT stack_status_counts_object CHECK (jsonb_typeof(counts) = 'object'),
    -- Staleness token of the desired state last planned.
    token             text        NOT NULL DEFAULT '',
    message           text        NOT NULL DEFAULT '',
    last_reconcile_at timestamptz NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------
-- Triggers
-- ---------------------------------------------------------------------------
CREATE TRIGGER templates_touch BEFORE UPDATE ON templates
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION devarch_touch_updated_at();
CREATE TRIGGER stacks_touch BEFORE UPDATE ON stacks
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION devarch_touch_updated_at();
CREATE TRIGGER instances_touch BEFORE UPDATE ON instances
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION devarch_touch_updated_at();
CREATE TRIGGER approvals_touch BEFORE UPDATE ON approvals
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION devarch_touch_updated_at();
CREATE TRIGGER stack_status_touch BEFORE UPDATE ON stack_status
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION devarch_touch_updated_at();

-- NOTIFY after every insert, delete and real update (an UPDATE that changes
-- nothing sends nothing). PostgreSQL delivers notifications at commit and
-- folds identical payloads of one transaction into one.
CREATE TRIGGER templates_notify_insert_delete AFTER INSERT OR DELETE ON templates
    FOR EACH ROW EXECUTE FUNCTION devarch_notify_desired('template');
CREATE TRIGGER templates_notify_update AFTER UPDATE ON templates
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION devarch_notify_desired('template');

CREATE TRIGGER stacks_notify_insert_delete AFTER INSERT OR DELETE ON stacks
    FOR EACH ROW EXECUTE FUNCTION devarch_notify_desired('stack');
CREATE TRIGGER stacks_notify_update AFTER UPDATE ON stacks
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION devarch_notify_desired('stack');

CREATE TRIGGER instances_notify_insert_delete AFTER INSERT OR DELETE ON instances
    FOR EACH ROW EXECUTE FUNCTION devarch_notify_desired('instance');
CREATE TRIGGER instances_notify_update AFTER UPDATE ON instances
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION devarch_notify_desired('instance');

CREATE TRIGGER approvals_notify_insert_delete AFTER INSERT OR DELETE ON approvals
    FOR EACH ROW EXECUTE FUNCTION devarch_notify_approval();
CREATE TRIGGER approvals_notify_update AFTER UPDATE ON approvals
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION devarch_notify_approval();

CREATE TRIGGER approval_events_notify AFTER INSERT ON approval_events
    FOR EACH ROW EXECUTE FUNCTION devarch_notify_approval_event();

-- +goose Down
DROP TABLE stack_status;
DROP TABLE approval_events;
DROP TABLE approvals;
DROP TABLE instances;
DROP TABLE stacks;
DROP TABLE templates;
DROP FUNCTION devarch_notify_approval_event();
DROP FUNCTION devarch_notify_approval();
DROP FUNCTION devarch_notify_desired();
DROP FUNCTION devarch_touch_updated_at();
