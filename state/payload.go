package state

import (
	"encoding/json"
	"fmt"

	"github.com/devarch/devarch-controller/approval"
)

// DesiredChange is the payload on ChannelDesired. StackID is the stack's
// own id for a stack, the owning stack's id for an instance, and nil for a
// template (a consumer finds the stacks using it) or the installation
// (every stack is affected).
type DesiredChange struct {
	Kind    string `json:"kind"`
	ID      int64  `json:"id"`
	StackID *int64 `json:"stack_id"`
}

// ApprovalChange is the payload on ChannelApprovals.
type ApprovalChange struct {
	ID      int64           `json:"id"`
	StackID int64           `json:"stack_id"`
	Status  approval.Status `json:"status"`
}

// ApprovalEventChange is the payload on ChannelApprovalEvents.
type ApprovalEventChange struct {
	ApprovalID int64 `json:"approval_id"`
	Seq        int   `json:"seq"`
}

// ParseDesiredChange decodes a ChannelDesired payload.
func ParseDesiredChange(payload string) (DesiredChange, error) {
	var c DesiredChange
	if err := json.Unmarshal([]byte(payload), &c); err != nil {
		return c, fmt.Errorf("parse %s payload: %w", ChannelDesired, err)
	}
	switch {
	case c.Kind != KindStack && c.Kind != KindInstance && c.Kind != KindTemplate && c.Kind != KindInstallation:
		return c, fmt.Errorf("parse %s payload: unknown kind %q", ChannelDesired, c.Kind)
	case c.ID <= 0:
		return c, fmt.Errorf("parse %s payload: id %d is not positive", ChannelDesired, c.ID)
	case stackless(c.Kind) && c.StackID != nil:
		return c, fmt.Errorf("parse %s payload: a %s change carries no stack id", ChannelDesired, c.Kind)
	case !stackless(c.Kind) && (c.StackID == nil || *c.StackID <= 0):
		return c, fmt.Errorf("parse %s payload: a %s change needs a positive stack id", ChannelDesired, c.Kind)
	}
	return c, nil
}

// stackless reports whether changes of a kind name no stack.
func stackless(kind string) bool { return kind == KindTemplate || kind == KindInstallation }

// ParseApprovalChange decodes a ChannelApprovals payload.
func ParseApprovalChange(payload string) (ApprovalChange, error) {
	var c ApprovalChange
	if err := json.Unmarshal([]byte(payload), &c); err != nil {
		return c, fmt.Errorf("parse %s payload: %w", ChannelApprovals, err)
	}
	if c.ID <= 0 || c.StackID <= 0 || c.Status == "" {
		return c, fmt.Errorf("parse %s payload: id, stack_id and status are required", ChannelApprovals)
	}
	return c, nil
}

// ParseApprovalEventChange decodes a ChannelApprovalEvents payload.
func ParseApprovalEventChange(payload string) (ApprovalEventChange, error) {
	var c ApprovalEventChange
	if err := json.Unmarshal([]byte(payload), &c); err != nil {
		return c, fmt.Errorf("parse %s payload: %w", ChannelApprovalEvents, err)
	}
	if c.ApprovalID <= 0 || c.Seq <= 0 {
		return c, fmt.Errorf("parse %s payload: approval_id and seq must be positive", ChannelApprovalEvents)
	}
	return c, nil
}
