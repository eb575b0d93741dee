package state

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// MaxStackPageSize bounds StackPage's limit.
const MaxStackPageSize = 1000

// StackListItem is one stack of a stack list page: what a list shows,
// without instances' specs or secrets.
type StackListItem struct {
	ID          int64
	Name        string
	NetworkName string
	Enabled     bool
	// Deleting is true for a deleted stack whose removal has not been
	// applied yet (as spec.Stack.Deleting); it has no instances.
	Deleting bool
	// Engine is the engine the stack names ("" for the default engine).
	Engine string
	// Instances counts the stack's live instances, enabled or not.
	Instances int
	// Status is the stack's last status; nil when the loop has not
	// planned it yet.
	Status *StackStatus
}

// StackPageKey is where a stack list page starts: after the stack of that
// name and id, in (name byte order, id) order. The zero key starts at the
// first stack. Names are unique among live stacks, but a deleting stack
// may share its name with a live one: the id keeps them apart.
type StackPageKey struct {
	Name string
	ID   int64
}

// StackPage returns up to limit stacks that sort after after, in (name
// byte order, id) order: the stacks Stacks returns (live ones and deleting
// ones), each with its instance count and status, and whether more stacks
// follow. It is one indexed query whatever the number of stacks
// (stacks_name_c_listed). limit must be 1..MaxStackPageSize.
func (s *Store) StackPage(ctx context.Context, after StackPageKey, limit int) ([]StackListItem, bool, error) {
	if limit < 1 || limit > MaxStackPageSize {
		return nil, false, fmt.Errorf("list stacks: page size %d is outside 1..%d", limit, MaxStackPageSize)
	}
	rows, _ := s.pool.Query(ctx, stackPageSQL, after.Name, after.ID, limit+1)
	out := make([]StackListItem, 0, limit+1)
	var (
		it     StackListItem
		cond   *string
		counts []byte
		token  *string
		msg    *string
		at     *time.Time
	)
	_, err := pgx.ForEachRow(rows, []any{&it.ID, &it.Name, &it.NetworkName, &it.Enabled, &it.Deleting, &it.Engine, &it.Instances, &cond, &counts, &token, &msg, &at}, func() error {
		item := it
		item.Status = nil
		if cond != nil {
			st := StackStatus{StackID: it.ID, Stack: it.Name, Condition: *cond, Counts: map[string]int{}}
			if err := json.Unmarshal(counts, &st.Counts); err != nil {
				return fmt.Errorf("decode counts of stack %d: %w", it.ID, err)
			}
			if token != nil {
				st.Token = *token
			}
			if msg != nil {
				st.Message = *msg
			}
			if at != nil {
				st.LastReconcile = *at
			}
			item.Status = &st
		}
		out = append(out, item)
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("list stacks: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// stackPageSQL reads one page: the stacks through stacks_name_c_listed,
// the instance counts through instances_stack_name_live, the statuses by
// stack_status's primary key. A deleting stack counts no instances (they
// were deleted with it).
const stackPageSQL = `
	SELECT s.id, s.name, s.network_name, s.enabled, s.deleted_at IS NOT NULL, s.engine,
		CASE WHEN s.deleted_at IS NULL THEN
			(SELECT count(*) FROM instances i WHERE i.stack_id = s.id AND i.deleted_at IS NULL)::int
		ELSE 0 END,
		st.condition, st.counts, st.token, st.message, st.last_reconcile_at
	FROM stacks s LEFT JOIN stack_status st ON st.stack_id = s.id
	WHERE s.removed_at IS NULL AND ((s.name COLLATE "C"), s.id) > (($1::text COLLATE "C"), $2::bigint)
	ORDER BY (s.name COLLATE "C"), s.id
	LIMIT $3`
