-- +goose Up
-- Start stack ids at a random point of [1, 1e9] on a fresh database.
-- Containers are tied to their stack by the devarch.stack_id label, so two
-- databases that share one container engine (a test database next to a
-- development one, or parallel test runs) must not hand out the same ids.
-- Ids stay far below lock.MaxStackID (2^32 - 1).
SELECT setval('stacks_id_seq', (floor(random() * 1000000000) + 1)::bigint, false)
WHERE NOT EXISTS (SELECT 1 FROM stacks);

-- +goose Down
SELECT 1;
