package approval

// User-facing messages of the lifecycle: full sentences saying what
// happened and what to do next. The API answers with MessageStale and
// MessageConflict when it refuses to file an approval; approvals that end
// stale carry MessageStale.
const (
	// MessageStale: the stack or the installation changed since the plan.
	MessageStale = "Plan is stale: the stack changed since the plan was generated. Generate a new plan."
	// MessageConflict: another session is applying the stack.
	MessageConflict = "Stack is being applied by another session."
	// MessageExpired is written by the expiry sweep (pending → expired).
	MessageExpired = "The approval expired before a controller applied it. Generate a new plan and approve it again."
	// MessageInterrupted is written by the sweep that finds an applying
	// approval's controller gone (applying → interrupted).
	MessageInterrupted = "The controller was lost during the apply (it stopped, or its database session ended) before it recorded the outcome; the stack may be partly applied. Generate a new plan and apply it again."
	// MessageCancelled is the default message of a cancel (pending →
	// cancelled).
	MessageCancelled = "The approval was cancelled before it was applied. Nothing was changed."
)
