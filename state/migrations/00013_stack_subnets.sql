-- Controller-managed subnets: with network.subnet_pool set, every live
-- stack's network gets one subnet of the pool, held here until the
-- stack's removal is finalized (FinalizeStack deletes the row) or the
-- stack row is deleted (cascade). Subnets never overlap, whatever the
-- engine: the exclusion constraint makes two controllers allocating at
-- once fail (and retry) rather than share a subnet.
-- docs/schema.md is the reference for this file.

-- +goose Up

CREATE TABLE stack_subnets (
    stack_id     bigint      PRIMARY KEY REFERENCES stacks (id) ON DELETE CASCADE,
    subnet       cidr        NOT NULL,
    allocated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT stack_subnets_no_overlap EXCLUDE USING gist (subnet inet_ops WITH &&)
);

-- +goose Down

DROP TABLE stack_subnets;
