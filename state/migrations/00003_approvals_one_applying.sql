-- Approvals: a hard guarantee that a stack never has two applying
-- approvals, and an index for the per-stack claim query.
-- docs/schema.md is the reference for this file.

-- +goose Up

-- Claims of one stack are serialized by locking the stack row, so two
-- applying approvals of one stack should never have existed. Should a
-- database hold them anyway (a claim made by hand), the unique index below
-- could not be built: every applying approval but the oldest of its stack
-- is marked interrupted first.
UPDATE approvals a
SET status = 'interrupted', finished_at = now(),
    message = 'Another approval of this stack was already applying, so this one was stopped when the database was upgraded; the stack may be partly applied. Generate a new plan and apply it again.'
WHERE a.status = 'applying' AND EXISTS (
    SELECT 1 FROM approvals b WHERE b.stack_id = a.stack_id AND b.status = 'applying' AND b.id < a.id);

-- At most one applying approval per stack. It replaces the plain index on
-- the same rows ("is this stack being applied?", the interrupted sweep).
CREATE UNIQUE INDEX approvals_one_applying_per_stack ON approvals (stack_id) WHERE status = 'applying';
DROP INDEX approvals_applying_stack;

-- The claim query: the oldest (lowest id) pending approval of one stack.
CREATE INDEX approvals_pending_stack ON approvals (stack_id, id) WHERE status = 'pending';

-- +goose Down
DROP INDEX approvals_pending_stack;
CREATE INDEX approvals_applying_stack ON approvals (stack_id) WHERE status = 'applying';
DROP INDEX approvals_one_applying_per_stack;
