// Package spec is the domain model every other package shares: catalog
// templates, stacks, instances, the effective spec of an instance with the
// provenance of every field, and the observed state of a labeled container.
//
// It owns the merge rules (template + instance overrides = effective spec),
// validation of user-supplied values, secret detection and redaction, and the
// naming and labelling conventions that tie containers to their stack and
// instance.
//
// # Secrets in text
//
// Secret env values are redacted by field (Effective.Redacted) wherever a
// spec is shown. Text is of two kinds. Foreign text — engine and compose
// errors, compose's output, values the user wrote (a DSN, a command line, a
// config file) — may quote a secret anywhere: it goes through the stack's
// Scrubber (Stack.Scrubber) before it leaves the process. The controller's
// own text — its wording and the names it generates for a stack
// (Stack.Identifiers: containers devarch-<stack>-<instance>, the network,
// the compose project, volumes, label keys, ids) — is built from parts that
// are safe already, and must read the same whatever the secrets are. The
// Scrubber hides every occurrence of a secret except one strictly inside a
// longer name that stands whole and delimited in the text, so the catalog's
// default password "devarch" does not turn "devarch-shop-net" into
// "(sensitive)-shop-net", while "POSTGRES_PASSWORD=devarch" is still
// scrubbed, even in a stack named "devarch" (a secret equal to a name is a
// value wherever it stands alone). The controller's own wording avoids the
// bare word "devarch" in prose for the same reason. Stack.WeakSecrets names
// the secrets that are easy to guess or collide with names, for import
// warnings; SECURITY.md holds the full rule.
//
// It must not do I/O: no database, no Docker, no files. State loads rows and
// calls Merge; plan and deploy consume the results.
package spec
