-- Revisions: every change to a stack's desired state (import, edit,
-- delete, disable, enable, revert, a template change that affects it)
-- stores one row, in the same transaction as the change. number counts
-- 1, 2, ... per stack and is the stack's version for optimistic
-- concurrency (ETag / If-Match of the API).
--   * diff is the change in the plan's JSON format (plan.Preview), with
--     secret values redacted: it is shown to users.
--   * document is the stack as stored after the change (the stack row's
--     columns and each live instance's template name, overrides and enabled
--     flag): enough to restore it. Its overrides may hold secret values,
--     as the instances table does: never show it, never log it.
-- docs/schema.md is the reference for this file.

-- +goose Up

CREATE TABLE stack_revisions (
    stack_id   bigint      NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
    number     integer     NOT NULL CONSTRAINT stack_revisions_number_positive CHECK (number > 0),
    -- Who made the change: the API's caller or the CLI's user@host (cli).
    author     text        NOT NULL,
    kind       text        NOT NULL CONSTRAINT stack_revisions_kind_known CHECK (kind IN (
                               'import', 'edit', 'delete', 'disable', 'enable', 'revert', 'template')),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- For kind revert: the revision restored.
    reverted_to integer    NULL,
    diff       jsonb       NOT NULL CONSTRAINT stack_revisions_diff_object CHECK (jsonb_typeof(diff) = 'object'),
    document   jsonb       NOT NULL CONSTRAINT stack_revisions_document_object CHECK (jsonb_typeof(document) = 'object'),
    PRIMARY KEY (stack_id, number)
);

-- +goose Down

DROP TABLE stack_revisions;
