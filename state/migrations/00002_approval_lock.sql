-- +goose Up
-- The backend pid of the session holding the stack's advisory lock while an
-- approval is applying. The interrupted-approval sweep compares it with
-- pg_locks: an applying approval whose locking session is gone was
-- interrupted (the lock died with its session).
ALTER TABLE approvals ADD COLUMN lock_pid integer NULL;

-- +goose Down
ALTER TABLE approvals DROP COLUMN lock_pid;
