-- The approval lifecycle in the database: the statuses, the table of
-- allowed status changes and a trigger that refuses every other one,
-- whoever writes. approval_statuses and approval_transitions hold exactly
-- approval.Statuses() and approval.Transitions() (package approval); a test
-- compares them. docs/schema.md is the reference for this file.

-- +goose Up

CREATE TABLE approval_statuses (
    status text PRIMARY KEY
);

INSERT INTO approval_statuses (status) VALUES
    ('pending'), ('applying'), ('succeeded'), ('failed'), ('stale'),
    ('conflict'), ('interrupted'), ('expired'), ('cancelled');

CREATE TABLE approval_transitions (
    from_status text NOT NULL REFERENCES approval_statuses (status),
    to_status   text NOT NULL REFERENCES approval_statuses (status),
    PRIMARY KEY (from_status, to_status),
    CONSTRAINT approval_transitions_change CHECK (from_status <> to_status)
);

INSERT INTO approval_transitions (from_status, to_status) VALUES
    ('pending', 'applying'),
    ('pending', 'expired'),
    ('pending', 'cancelled'),
    ('applying', 'succeeded'),
    ('applying', 'failed'),
    ('applying', 'stale'),
    ('applying', 'conflict'),
    ('applying', 'interrupted');

-- devarch_check_approval_transition refuses an approval inserted in any
-- status but pending, and a status change that approval_transitions does
-- not list, with a check violation of "approvals_status_transition". A
-- status not in approval_statuses is left to the CHECK constraint
-- approvals_status_known, which refuses it with its own name.
-- +goose StatementBegin
CREATE FUNCTION devarch_check_approval_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM approval_statuses WHERE status = NEW.status) THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'pending' THEN
            RAISE EXCEPTION 'a new approval must be pending, not %', NEW.status
                USING ERRCODE = 'check_violation', CONSTRAINT = 'approvals_status_transition',
                      HINT = 'File approvals as pending; a controller moves them on.';
        END IF;
    ELSIF NEW.status <> OLD.status AND NOT EXISTS (
            SELECT 1 FROM approval_transitions WHERE from_status = OLD.status AND to_status = NEW.status) THEN
        RAISE EXCEPTION 'approval % cannot change from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'approvals_status_transition',
                  HINT = 'See approval_transitions for the allowed changes.';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER approvals_status_transition BEFORE INSERT OR UPDATE OF status ON approvals
    FOR EACH ROW EXECUTE FUNCTION devarch_check_approval_transition();

-- +goose Down
DROP TRIGGER approvals_status_transition ON approvals;
DROP FUNCTION devarch_check_approval_transition();
DROP TABLE approval_transitions;
DROP TABLE approval_statuses;
